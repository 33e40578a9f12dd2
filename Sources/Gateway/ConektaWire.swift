import Domain
import JSON
import ReplyJSON

// The JSON Conekta exchanges, as far as this product reads or writes it. Replies are read from
// Domain's `JSONValue` (see ReplyJSON) and leniently on purpose: a field that is absent,
// null or of an unexpected type reads as absent instead of failing the whole reply, so a paid order
// is never mistaken for a garbled one because of an unrelated field.

/// The body of `POST /orders` (the spec's `order_request`).
struct OrderRequestBody {
    struct CustomerInfo {
        var name: String
        var email: String
        var phone: String
    }

    struct LineItem {
        var name: String
        var unitPrice: Int64
        var quantity: Int
    }

    struct Charge {
        var paymentMethod: PaymentMethod
        var referenceID: String
    }

    /// A card's (`type` card, `token_id`), or a cash or SPEI one that takes money until
    /// `expires_at` (docs/sources.md C12).
    struct PaymentMethod {
        var type: String
        var tokenID: String?
        var expiresAt: Int64?
    }

    var currency: String
    var customerInfo: CustomerInfo
    var lineItems: [LineItem]
    var charges: [Charge]
    var metadata: [String: String]

    /// The document, members in key order at every level (the bytes of a request are stable).
    var json: JSONValue {
        .object([
            (
                "charges",
                .array(
                    charges.map { charge in
                        .object([
                            ("payment_method", charge.paymentMethod.json),
                            ("reference_id", .string(charge.referenceID)),
                        ])
                    })
            ),
            ("currency", .string(currency)),
            (
                "customer_info",
                .object([
                    ("email", .string(customerInfo.email)), ("name", .string(customerInfo.name)), ("phone", .string(customerInfo.phone)),
                ])
            ),
            (
                "line_items",
                .array(
                    lineItems.map { item in
                        .object([
                            ("name", .string(item.name)), ("quantity", .integer(item.quantity)), ("unit_price", .integer(item.unitPrice)),
                        ])
                    })
            ),
            ("metadata", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
        ])
    }
}

extension OrderRequestBody.PaymentMethod {
    /// Members in key order, as the rest of the request.
    var json: JSONValue {
        var members: [(String, JSONValue)] = []
        if let expiresAt { members.append(("expires_at", .integer(expiresAt))) }
        if let tokenID { members.append(("token_id", .string(tokenID))) }
        members.append(("type", .string(type)))
        return .object(members)
    }
}

/// The body of `POST /orders/{id}/refunds` (the spec's `orderRefund_request`).
struct RefundRequestBody {
    var amount: Int64
    var reason: String

    var json: JSONValue { .object([("amount", .integer(amount)), ("reason", .string(reason))]) }
}

/// A value read from a reply: nil when the JSON is not the object it expects.
protocol ConektaDecodable {
    init?(json: JSONValue)
}

extension ConektaDecodable {
    /// A reply body read as `Self`; nil when it is not JSON or not the expected object.
    static func decode(from bytes: [UInt8]) -> Self? {
        ReplyJSON.parse(bytes).flatMap(Self.init(json:))
    }
}

/// An order (the spec's `order_response`).
struct OrderBody: ConektaDecodable {
    var id: String?
    var paymentStatus: String?
    var amount: Int64?
    var amountRefunded: Int64?
    var currency: String?
    var createdAt: Int64?
    var metadata: [String: String]
    /// `customer_info.email`.
    var customerEmail: String?
    /// `charges.data`; empty when `charges` is null (3-D Secure pending) or absent.
    var charges: [ChargeBody]

    init?(json: JSONValue) {
        guard case .object = json else { return nil }
        id = json["id"]?.stringValue
        paymentStatus = json["payment_status"]?.stringValue
        amount = json["amount"]?.int64Value
        amountRefunded = json["amount_refunded"]?.int64Value
        currency = json["currency"]?.stringValue
        createdAt = json["created_at"]?.int64Value
        metadata = json["metadata"]?.scalarTexts ?? [:]
        customerEmail = json["customer_info"]?["email"]?.stringValue
        charges = json["charges"].flatMap(ListBody<ChargeBody>.init(json:))?.data ?? []
    }

    var card: PaymentMethodBody? { charges.first?.paymentMethod }

    /// The order's cash or SPEI charge (the first one: ours have one charge).
    var payLater: PayLaterCharge? { charges.lazy.compactMap { $0.paymentMethod?.payLater }.first }

    /// The Domain's order; nil without an id.
    var gatewayOrder: GatewayOrder? {
        guard let id else { return nil }
        let payLater = self.payLater
        return GatewayOrder(
            id: id, paymentStatus: paymentStatus ?? "", amount: Money(cents: amount ?? 0, currency: currency ?? ""),
            amountRefundedCents: amountRefunded ?? 0, attemptID: metadata[ConektaClient.attemptIDKey],
            createdAt: createdAt ?? 0, cardBrand: payLater == nil ? card?.brand : nil,
            cardLast4: payLater == nil ? card?.last4 : nil, payLater: payLater
        )
    }
}

struct ChargeBody: ConektaDecodable {
    var status: String?
    var amount: Int64?
    var paymentMethod: PaymentMethodBody?

    init?(json: JSONValue) {
        guard case .object = json else { return nil }
        status = json["status"]?.stringValue
        amount = json["amount"]?.int64Value
        paymentMethod = json["payment_method"].flatMap(PaymentMethodBody.init(json:))
    }
}

/// A charge's `payment_method`: a card's brand and last digits, or what a cash or SPEI charge
/// gives to pay it (docs/sources.md C12).
struct PaymentMethodBody: ConektaDecodable {
    var brand: String?
    var last4: String?
    /// The spec's discriminator: `card_payment`, `cash_payment`, `bank_transfer_payment`…
    var object: String?
    var type: String?
    var reference: String?
    var barcodeURL: String?
    var clabe: String?
    var bank: String?
    var expiresAt: Int64?

    init?(json: JSONValue) {
        guard case .object = json else { return nil }
        brand = json["brand"]?.stringValue
        last4 = json["last4"]?.stringValue
        object = json["object"]?.stringValue
        type = json["type"]?.stringValue
        reference = json["reference"].flatMap(Self.digitsOrText)
        barcodeURL = json["barcode_url"]?.stringValue
        clabe = json["clabe"].flatMap(Self.digitsOrText)
        bank = json["bank"]?.stringValue
        expiresAt = json["expires_at"]?.int64Value
    }

    /// Cash or SPEI, told by `object`; by `type` when a reply has no `object` (a cash charge's
    /// `type` is `cash` in some replies and `oxxo` in others).
    var payLaterMethod: PaymentMethod? {
        switch object {
        case "cash_payment": return .oxxo
        case "bank_transfer_payment": return .spei
        case nil:
            switch type {
            case "cash", "oxxo": return .oxxo
            case "spei": return .spei
            default: return nil
            }
        default: return nil
        }
    }

    var payLater: PayLaterCharge? {
        guard let method = payLaterMethod else { return nil }
        return PayLaterCharge(
            method: method,
            instructions: PaymentInstructions(reference: reference, barcodeURL: barcodeURL, clabe: clabe, bank: bank),
            expiresAt: expiresAt)
    }

    /// A reference or CLABE: a string, or the digits of an unquoted number (one of the spec's
    /// examples writes a 20-digit reference that way, beyond any integer type).
    private static func digitsOrText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text.isEmpty ? nil : text
        case .number(let text) where !text.isEmpty && text.allSatisfy({ $0.isASCII && $0.isNumber }): return text
        default: return nil
        }
    }
}

/// A list envelope: `{object: "list", has_more, total, data, next_page_url}`. Elements that are
/// not the expected object are left out.
struct ListBody<Element: ConektaDecodable>: ConektaDecodable {
    var data: [Element]
    var hasMore: Bool
    var nextPageURL: String?

    init?(json: JSONValue) {
        guard case .object = json else { return nil }
        if case .array(let items)? = json["data"] {
            data = items.compactMap(Element.init(json:))
        } else {
            data = []
        }
        hasMore = json["has_more"]?.boolValue ?? false
        nextPageURL = json["next_page_url"]?.stringValue
    }
}

/// Conekta's error envelope, and the pre-2.0 shape (`message`, `message_to_purchaser`, `code`,
/// `param` at the top level) that an unversioned request may still get.
struct ErrorBody: ConektaDecodable {
    struct Detail: ConektaDecodable {
        var code: String?
        var message: String?
        var debugMessage: String?
        var param: String?

        init?(json: JSONValue) {
            guard case .object = json else { return nil }
            code = json["code"]?.stringValue
            message = json["message"]?.stringValue
            debugMessage = json["debug_message"]?.stringValue
            param = json["param"]?.stringValue
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

    init?(json: JSONValue) {
        guard case .object = json else { return nil }
        type = json["type"]?.stringValue
        logID = json["log_id"]?.stringValue
        if case .array(let items)? = json["details"] {
            details = items.compactMap(Detail.init(json:))
        } else {
            details = []
        }
        data = json["data"].flatMap(OrderBody.init(json:))
        legacyCode = json["code"]?.stringValue
        legacyMessage = json["message"]?.stringValue
        legacyMessageToPurchaser = json["message_to_purchaser"]?.stringValue
        legacyParam = json["param"]?.stringValue
    }

    var code: String? { details.first?.code ?? legacyCode }
    var param: String? { details.first?.param ?? legacyParam }
    /// The message for the customer.
    var message: String? {
        nonEmpty(details.first?.message) ?? nonEmpty(legacyMessageToPurchaser) ?? nonEmpty(legacyMessage)
    }
    var debugMessage: String? { details.first?.debugMessage ?? legacyMessage }
}

private func nonEmpty(_ text: String?) -> String? {
    guard let text, !text.isEmpty else { return nil }
    return text
}
