import Domain
import Foundation
import HTTPTransport
import JSON

extension ConektaClient: PaymentGateway {
    /// `POST /orders` with one charge, sent once: a card's, or a cash (OXXO) or SPEI one with
    /// its `expires_at` (docs/sources.md C12), answered `awaitingPayment` with its reference or
    /// CLABE while Conekta waits for the money.
    ///
    /// Paid only when `payment_status` is `paid` and the order's amount, currency, charge status and
    /// `metadata.attempt_id` agree with the request (docs/sources.md C2, C8). A failure before anything was
    /// sent (`TransportError.requestSent == false`: refused connection, TLS or DNS failure) is a
    /// `configurationError`: nothing reached Conekta, so nothing was charged, and it is our side's
    /// connectivity that needs fixing; `unknown` would be as safe but would cost a reconciliation
    /// that fails the same way.
    public func charge(_ charge: ChargeRequest, using key: GatewayKey) -> ChargeOutcome {
        if let refusal = Self.refusal(of: charge) { return refusal }
        let body = Self.orderRequestBody(for: charge).json.serialized()
        let response: HTTPResponse
        do throws(ConektaError) {
            response = try exchange(.createOrder, .post, path: "/orders", body: body, key: key)
        } catch {
            guard let transport = error.transport, transport.requestSent else {
                return .configurationError(reason: "not_sent: \(error.shortDescription)")
            }
            return .unknown(reason: error.shortDescription)
        }
        return Self.outcome(of: response, for: charge)
    }

    public func order(id: String, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder? {
        do throws(ConektaError) {
            let path = try Self.orderPath(id, "", .getOrder)
            let response = try exchange(.getOrder, .get, path: path, key: key)
            return try decodedOrder(response, .getOrder).gatewayOrder
        } catch  where error.isMissingEntity {
            return nil
        } catch {
            throw error.gatewayFailure
        }
    }

    /// Finds the order of a charge whose reply was lost, in three steps, matching each candidate on
    /// `metadata.attempt_id` (a paid match wins):
    /// 1. `search=<attempt id>`: Conekta matches it against the charge's `reference_id`, the
    ///    quickest way to an order that has a charge;
    /// 2. `search=<customer email>`, which Conekta documents (docs/sources.md C7): every order of
    ///    ours carries it, with a charge or not (a 3-D Secure order awaiting its customer has none),
    ///    and it narrows the window to one customer's orders. Once an email search on this account
    ///    has found an order of that email (`OrderSearchEvidence`), one that finds nothing shows
    ///    there is no order;
    /// 3. until then, every order of the window is read, and a window of more than `maxListPages`
    ///    pages throws `absenceUnproven`, as does step 2 for an email shared by that many orders.
    public func findOrder(
        attemptID: String, customerEmail: String = "", createdAfter: Int64, createdBefore: Int64? = nil, using key: GatewayKey
    ) throws(GatewayFailure) -> GatewayOrder? {
        var window = [("created_at.gte", String(createdAfter)), ("limit", String(configuration.listPageSize))]
        if let createdBefore { window.append(("created_at.lte", String(createdBefore))) }
        do throws(ConektaError) {
            if let found = try search(window + [("search", attemptID)], attemptID: attemptID, key: key)?.match {
                return found.gatewayOrder
            }
            if !customerEmail.isEmpty,
                let byEmail = try search(window + [("search", customerEmail)], attemptID: attemptID, key: key, email: customerEmail)
            {
                if byEmail.sawEmail { searchEvidence.prove(for: key) }
                if let found = byEmail.match { return found.gatewayOrder }
                if searchEvidence.isProven(for: key) { return nil }
            }
            return try scan(window, attemptID: attemptID, key: key).match?.gatewayOrder
        } catch {
            throw error.gatewayFailure
        }
    }

    /// A search step: nil when Conekta refuses the search itself (a 4xx other than our key) or
    /// lists too much to read, so that the look-up goes on to its next step instead of failing the
    /// same way forever; a transport failure or a 5xx stays a failure (try again later).
    private func search(
        _ query: [(String, String)], attemptID: String, key: GatewayKey, email: String? = nil
    ) throws(ConektaError) -> (match: OrderBody?, sawEmail: Bool)? {
        do {
            return try scan(query, attemptID: attemptID, key: key, email: email)
        } catch  where error.kind == .listingTooLong || (error.kind == .http && error.status.map(Self.isRefusal) == true) {
            return nil
        }
    }

    private static func isRefusal(_ status: Int) -> Bool {
        (400..<500).contains(status) && status != 401 && status != 403 && status != 429
    }

    public func refund(
        orderID: String, amountCents: Int64, using key: GatewayKey
    ) throws(GatewayFailure)
        -> GatewayOrder
    {
        do throws(ConektaError) {
            guard amountCents > 0 else {
                throw ConektaError(
                    kind: .invalidInput, operation: Operation.refund.rawValue, debugMessage: "refund amount must be > 0"
                )
            }
            let path = try Self.orderPath(orderID, "/refunds", .refund)
            let body = RefundRequestBody(amount: amountCents, reason: "cannot_be_fulfilled").json.serialized()
            let response = try exchange(.refund, .post, path: path, body: body, key: key)
            return try Self.required(decodedOrder(response, .refund), .refund)
        } catch {
            throw error.gatewayFailure
        }
    }

    public func cancel(orderID: String, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder {
        do throws(ConektaError) {
            let path = try Self.orderPath(orderID, "/cancel", .cancel)
            // The spec defines no body; an empty one still gives the POST a Content-Length.
            let response = try exchange(.cancel, .post, path: path, body: [], key: key)
            return try Self.required(decodedOrder(response, .cancel), .cancel)
        } catch {
            throw error.gatewayFailure
        }
    }

    // MARK: charge

    /// The outcome of not sending a charge Conekta must reject, or nil to send it.
    static func refusal(of charge: ChargeRequest) -> ChargeOutcome? {
        // unit_price is an int32 of cents with minimum 0, and Conekta rejects a zero total.
        guard charge.amount.cents > 0, charge.amount.cents <= Int64(Int32.max) else {
            return .invalidRequest(param: "line_items.unit_price", message: "amount out of range")
        }
        if case .payLater = charge.payment, charge.amount.currency.uppercased() != "MXN" {
            // OXXO and SPEI move pesos only (docs/sources.md C12).
            return .invalidRequest(param: "currency", message: "cash and SPEI charges are in MXN only")
        }
        return nil
    }

    /// The `POST /orders` body for `charge` (see `refusal(of:)` first).
    static func orderRequestBody(for charge: ChargeRequest) -> OrderRequestBody {
        var metadata: [String: String] = [:]
        // At most 100 keys, attempt_id among them; the rest in a stable order.
        let extra = charge.metadata.filter { $0.key != attemptIDKey }.sorted { $0.key < $1.key }
        for (name, value) in extra.prefix(99) {
            metadata[name] = clipped(value, to: 249)
        }
        metadata[attemptIDKey] = clipped(charge.attemptID, to: 249)
        return OrderRequestBody(
            currency: charge.amount.currency.uppercased(),
            customerInfo: .init(name: charge.customerName, email: charge.customerEmail, phone: charge.customerPhone),
            lineItems: [.init(name: lineItemName(charge.itemName), unitPrice: charge.amount.cents, quantity: 1)],
            charges: [.init(paymentMethod: paymentMethod(of: charge.payment), referenceID: charge.attemptID)],
            metadata: metadata)
    }

    /// The charge's `payment_method`: a card token, or `cash` (OXXO) or `spei` with the expiry.
    static func paymentMethod(of payment: ChargeRequest.Payment) -> OrderRequestBody.PaymentMethod {
        switch payment {
        case .card(let token):
            return .init(type: "card", tokenID: token)
        case .payLater(let method, let expiresAt):
            return .init(type: method == .spei ? "spei" : "cash", expiresAt: expiresAt)
        }
    }

    /// A line item name within the spec's 3…249 characters.
    static func lineItemName(_ name: String) -> String {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.unicodeScalars.count >= 3 { return clipped(trimmed, to: 249) }
        return trimmed.isEmpty ? "Acceso Wi-Fi" : "Wi-Fi \(trimmed)"
    }

    /// At most `limit` Unicode scalars: the spec's lengths count code points, not grapheme clusters.
    static func clipped(_ text: String, to limit: Int) -> String {
        guard text.unicodeScalars.count > limit else { return text }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: text.unicodeScalars.prefix(limit))
        return String(scalars)
    }

    /// The decision table of docs/sources.md C8.
    static func outcome(of response: HTTPResponse, for charge: ChargeRequest) -> ChargeOutcome {
        let status = response.status
        switch status {
        case 200..<300:
            guard let order = OrderBody.decode(from: response.body) else {
                return .unknown(reason: "malformed_reply")
            }
            return outcome(of: order, for: charge)
        case 402:
            let error = error(from: response, .createOrder)
            guard let code = error.code else { return .unknown(reason: "http_402_without_code") }
            if code.hasSuffix("tokenization.used") {
                // The token is single use: this attempt's own lost first send may have used it.
                return .tokenAlreadyUsed
            }
            return .declined(
                code: code, message: error.message ?? spanishDeclineMessage(for: code), orderID: error.orderID)
        case 401, 403, 404, 409:
            return .configurationError(reason: error(from: response, .createOrder).description)
        case 408, 429:
            return .unknown(reason: "http_\(status)")
        case 400..<500:
            let error = error(from: response, .createOrder)
            return .invalidRequest(
                param: error.param, message: error.message ?? error.debugMessage ?? error.description)
        default:
            // 5xx (Conekta has created orders behind a 504) and anything unexpected: 1xx, 3xx.
            return .unknown(reason: "http_\(status)")
        }
    }

    static func outcome(of order: OrderBody, for charge: ChargeRequest) -> ChargeOutcome {
        guard let id = order.id else { return .unknown(reason: "reply_without_order_id") }
        if case .payLater(let method, _) = charge.payment, order.paymentStatus == "pending_payment",
            let payLater = order.payLater, payLater.method == method, payLater.instructions.isUsable(for: method),
            order.amount == charge.amount.cents, order.currency?.uppercased() == charge.amount.currency.uppercased(),
            order.metadata[attemptIDKey].map({ $0 == clipped(charge.attemptID, to: 249) }) ?? true
        {
            return .awaitingPayment(orderID: id, charge: payLater)
        }
        // Anything else pending (no reference to pay with, another amount) is an order nobody
        // can pay as asked: `notPaid`, which the saga cancels.
        guard order.paymentStatus == "paid" else {
            return .notPaid(status: GatewayOrder.Status(conekta: order.paymentStatus ?? ""), orderID: id)
        }
        let mismatch: String? =
            if order.amount != charge.amount.cents {
                "amount"
            } else if order.currency?.uppercased() != charge.amount.currency.uppercased() {
                "currency"
            } else if order.charges.first?.status != "paid" {
                "charge_status"
            } else if let echoed = order.metadata[attemptIDKey], echoed != clipped(charge.attemptID, to: 249) {
                "attempt_id"
            } else {
                nil
            }
        if let mismatch { return .unknown(reason: "paid_order_mismatch_\(mismatch)") }
        let card = order.payLater == nil ? order.card : nil
        return .paid(PaidOrder(orderID: id, amount: charge.amount, cardBrand: card?.brand, cardLast4: card?.last4))
    }

    /// Fixed Spanish texts for when Conekta sends no message, by decline family (wording from
    /// Conekta's own messages, docs/sources.md C3).
    static func spanishDeclineMessage(for code: String) -> String {
        if code.contains("insufficient_funds") {
            return "Esta tarjeta no tiene suficientes fondos para completar la compra."
        }
        if code.contains("suspicious") || code.contains("fraud") {
            return "Este cargo ha sido declinado porque el comportamiento del comprador es sospechoso."
        }
        return "La tarjeta ingresada ha sido declinada. Por favor intenta con otro método de pago."
    }

    // MARK: reconciliation

    /// The order among those `query` lists whose `metadata.attempt_id` is `attemptID`, following
    /// `next` cursors; a paid one as soon as it shows up, else the first seen.
    /// Pages through a listing for the order of `attemptID`: the match (a paid one wins), and
    /// whether any order listed had the customer's `email` (proof that search finds emails).
    private func scan(
        _ query: [(String, String)], attemptID: String, key: GatewayKey, email: String? = nil
    ) throws(ConektaError) -> (match: OrderBody?, sawEmail: Bool) {
        var cursor: String?
        var firstMatch: OrderBody?
        var sawEmail = false
        for _ in 0..<configuration.maxListPages {
            let response = try exchange(
                .listOrders, .get, path: "/orders", query: query + (cursor.map { [("next", $0)] } ?? []), key: key)
            guard (200..<300).contains(response.status) else { throw Self.error(from: response, .listOrders) }
            guard let page = ListBody<OrderBody>.decode(from: response.body) else {
                throw ConektaError(
                    kind: .malformedReply, operation: Operation.listOrders.rawValue, status: response.status)
            }
            if let email, page.data.contains(where: { $0.customerEmail?.lowercased() == email.lowercased() }) { sawEmail = true }
            for order in page.data where order.id != nil && order.metadata[Self.attemptIDKey] == attemptID {
                if order.paymentStatus == "paid" { return (order, sawEmail) }
                if firstMatch == nil { firstMatch = order }
            }
            guard page.hasMore else { return (firstMatch, sawEmail) }
            guard let next = Self.nextCursor(of: page) else {
                throw ConektaError(
                    kind: .malformedReply, operation: Operation.listOrders.rawValue, status: response.status,
                    debugMessage: "has_more without a next cursor")
            }
            cursor = next
        }
        throw ConektaError(kind: .listingTooLong, operation: Operation.listOrders.rawValue)
    }

    /// The `next` parameter of `next_page_url`, else the last order's id (Conekta's cursors are
    /// order ids). The URL's host is not used: the recorded mock's points at another host.
    static func nextCursor(of page: ListBody<OrderBody>) -> String? {
        if let url = page.nextPageURL, let items = URLComponents(string: url)?.queryItems,
            let next = items.first(where: { $0.name == "next" })?.value, !next.isEmpty
        {
            return next
        }
        return page.data.last?.id
    }

    private static func required(_ order: OrderBody, _ operation: Operation) throws(ConektaError) -> GatewayOrder {
        // decodedOrder guarantees an id, which is all gatewayOrder needs.
        guard let order = order.gatewayOrder else {
            throw ConektaError(kind: .malformedReply, operation: operation.rawValue)
        }
        return order
    }
}
