import Domain
import Foundation

// The JSON Conekta exchanges, as far as this product reads or writes it. Decoding is lenient on
// purpose: a field of an unexpected type reads as absent instead of failing the whole reply, so a
// paid order is never mistaken for a garbled one because of an unrelated field.

/// The body of `POST /orders` (the spec's `order_request`).
struct OrderRequestBody: Encodable {
    struct CustomerInfo: Encodable {
        var name: String
        var email: String
        var phone: String
    }

    struct LineItem: Encodable {
        var name: String
        var unitPrice: Int64
        var quantity: Int

        enum CodingKeys: String, CodingKey {
            case name, quantity
            case unitPrice = "unit_price"
        }
    }

    struct Charge: Encodable {
        var paymentMethod: PaymentMethod
        var referenceID: String

        enum CodingKeys: String, CodingKey {
            case paymentMethod = "payment_method"
            case referenceID = "reference_id"
        }
    }

    struct PaymentMethod: Encodable {
        var type: String
        var tokenID: String

        enum CodingKeys: String, CodingKey {
            case type
            case tokenID = "token_id"
        }
    }

    var currency: String
    var customerInfo: CustomerInfo
    var lineItems: [LineItem]
    var charges: [Charge]
    var metadata: [String: String]

    enum CodingKeys: String, CodingKey {
        case currency, charges, metadata
        case customerInfo = "customer_info"
        case lineItems = "line_items"
    }
}

/// The body of `POST /orders/{id}/refunds` (the spec's `orderRefund_request`).
struct RefundRequestBody: Encodable {
    var amount: Int64
    var reason: String
}

/// An order (the spec's `order_response`).
struct OrderBody: Decodable {
    var id: String?
    var paymentStatus: String?
    var amount: Int64?
    var amountRefunded: Int64?
    var currency: String?
    var createdAt: Int64?
    var metadata: [String: String]
    /// `charges.data`; empty when `charges` is null (3-D Secure pending) or absent.
    var charges: [ChargeBody]

    enum CodingKeys: String, CodingKey {
        case id, amount, currency, metadata, charges
        case paymentStatus = "payment_status"
        case amountRefunded = "amount_refunded"
        case createdAt = "created_at"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = container.lenient(String.self, .id)
        paymentStatus = container.lenient(String.self, .paymentStatus)
        amount = container.lenient(Int64.self, .amount)
        amountRefunded = container.lenient(Int64.self, .amountRefunded)
        currency = container.lenient(String.self, .currency)
        createdAt = container.lenient(Int64.self, .createdAt)
        metadata = container.lenient([String: ScalarBody].self, .metadata)?.compactMapValues(\.text) ?? [:]
        charges = container.lenient(ListBody<ChargeBody>.self, .charges)?.data ?? []
    }

    var card: PaymentMethodBody? { charges.first?.paymentMethod }

    /// The Domain's order; nil without an id.
    var gatewayOrder: GatewayOrder? {
        guard let id else { return nil }
        return GatewayOrder(
            id: id, paymentStatus: paymentStatus ?? "", amount: Money(cents: amount ?? 0, currency: currency ?? ""),
            amountRefundedCents: amountRefunded ?? 0, attemptID: metadata[ConektaClient.attemptIDKey],
            createdAt: createdAt ?? 0, cardBrand: card?.brand, cardLast4: card?.last4
        )
    }
}

struct ChargeBody: Decodable {
    var status: String?
    var amount: Int64?
    var paymentMethod: PaymentMethodBody?

    enum CodingKeys: String, CodingKey {
        case status, amount
        case paymentMethod = "payment_method"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        status = container.lenient(String.self, .status)
        amount = container.lenient(Int64.self, .amount)
        paymentMethod = container.lenient(PaymentMethodBody.self, .paymentMethod)
    }
}

struct PaymentMethodBody: Decodable {
    var brand: String?
    var last4: String?

    enum CodingKeys: String, CodingKey {
        case brand, last4
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        brand = container.lenient(String.self, .brand)
        last4 = container.lenient(String.self, .last4)
    }
}

/// A list envelope: `{object: "list", has_more, total, data, next_page_url}`.
struct ListBody<Element: Decodable>: Decodable {
    var data: [Element]
    var hasMore: Bool
    var nextPageURL: String?

    enum CodingKeys: String, CodingKey {
        case data
        case hasMore = "has_more"
        case nextPageURL = "next_page_url"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        data = container.lenient([Lenient<Element>].self, .data)?.compactMap(\.value) ?? []
        hasMore = container.lenient(Bool.self, .hasMore) ?? false
        nextPageURL = container.lenient(String.self, .nextPageURL)
    }
}

/// Conekta's error envelope, and the pre-2.0 shape (`message`, `message_to_purchaser`, `code`,
/// `param` at the top level) that an unversioned request may still get.
struct ErrorBody: Decodable {
    struct Detail: Decodable {
        var code: String?
        var message: String?
        var debugMessage: String?
        var param: String?

        enum CodingKeys: String, CodingKey {
            case code, message, param
            case debugMessage = "debug_message"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            code = container.lenient(String.self, .code)
            message = container.lenient(String.self, .message)
            debugMessage = container.lenient(String.self, .debugMessage)
            param = container.lenient(String.self, .param)
        }
    }

    var type: String?
    var logID: String?
    var details: [Detail]
    var data: OrderBody?
    var legacyCode: String?
    var legacyMessage: String?
    var legacyMessageToPurchaser: String?
    var legacyParam: String?

    enum CodingKeys: String, CodingKey {
        case type, details, data, code, message, param
        case logID = "log_id"
        case messageToPurchaser = "message_to_purchaser"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = container.lenient(String.self, .type)
        logID = container.lenient(String.self, .logID)
        details = container.lenient([Lenient<Detail>].self, .details)?.compactMap(\.value) ?? []
        data = container.lenient(OrderBody.self, .data)
        legacyCode = container.lenient(String.self, .code)
        legacyMessage = container.lenient(String.self, .message)
        legacyMessageToPurchaser = container.lenient(String.self, .messageToPurchaser)
        legacyParam = container.lenient(String.self, .param)
    }

    var code: String? { details.first?.code ?? legacyCode }
    var param: String? { details.first?.param ?? legacyParam }
    /// The message for the customer.
    var message: String? {
        nonEmpty(details.first?.message) ?? nonEmpty(legacyMessageToPurchaser) ?? nonEmpty(legacyMessage)
    }
    var debugMessage: String? { details.first?.debugMessage ?? legacyMessage }
}

/// A metadata value: Conekta allows strings, numbers and booleans; anything else reads as nil.
struct ScalarBody: Decodable {
    var text: String?

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let string = try? container.decode(String.self) {
            text = string
        } else if let bool = try? container.decode(Bool.self) {
            text = String(bool)
        } else if let integer = try? container.decode(Int64.self) {
            text = String(integer)
        } else if let number = try? container.decode(Double.self) {
            text = String(number)
        } else {
            text = nil
        }
    }
}

/// One element of an array that decodes to nil instead of failing the array.
struct Lenient<Value: Decodable>: Decodable {
    var value: Value?

    init(from decoder: any Decoder) throws {
        value = try? Value(from: decoder)
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or nil when it is absent, null or of another type.
    func lenient<T: Decodable>(_ type: T.Type, _ key: Key) -> T? {
        (try? decodeIfPresent(type, forKey: key)) ?? nil
    }
}

private func nonEmpty(_ text: String?) -> String? {
    guard let text, !text.isEmpty else { return nil }
    return text
}
