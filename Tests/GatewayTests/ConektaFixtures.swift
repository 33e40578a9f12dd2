// Bodies Conekta answers, for the client's unit tests, kept byte for byte in Fixtures/. Most are
// trimmed copies of the recorded Mockoon mock in Conekta's official OpenAPI repository; the others
// are examples from the same repository's api.yaml, or the legacy shape docs/sources.md C1
// describes. Fixtures/README.md says where each comes from and under which licence.

import Foundation
import HTTPTransport
import TestSupport
import Testing

extension HTTPResponse {
    /// A reply as Conekta sends it: `body` labelled with Conekta's versioned JSON media type.
    static func conekta(
        _ status: Int, _ body: String, contentType: String = "application/vnd.conekta-v2.2.0+json"
    )
        -> HTTPResponse
    {
        .json(status, body, contentType: contentType)
    }
}

extension FakeTransport {
    /// Serves one reply as Conekta sends it, `status` and `body`; a second request fails the test.
    convenience init(status: Int, body: String, sourceLocation: SourceLocation = #_sourceLocation) {
        self.init([.success(.conekta(status, body))], sourceLocation: sourceLocation)
    }
}

enum ConektaFixtures {
    /// Mock `POST /orders` "successful operation card ": paid, 10000 MXN, Visa 4242.
    static let paidCardOrder = body("paid-card-order.json")

    /// Mock `POST /orders` "successful operation with 3ds": pending_payment, charges null, next_action.
    static let threeDSPendingOrder = body("three-ds-pending-order.json")

    /// Mock `POST /orders` 402 "payment required": a decline whose `data` is the order.
    static let declinedSuspicious = body("declined-suspicious.json")

    /// Mock `GET /orders/:id` 404 "not found entity".
    static let orderNotFound = body("order-not-found.json")

    /// Mock `POST /orders/:id/refunds` 200 "successful": 15000 of 40000 refunded.
    static let partiallyRefundedOrder = body("partially-refunded-order.json")

    /// Mock `POST /orders/:id/cancel` 200: an OXXO order cancelled.
    static let canceledOrder = body("canceled-order.json")

    /// api.yaml `POST /orders` 200 example `cash`: 1560 MXN pending, `type` cash, the reference an
    /// unquoted 20-digit number.
    static let cashPendingOrder = body("cash-pending-order.json")

    /// The same envelope with api.yaml's `payment_method_bank_transfer` example values (STP).
    static let speiPendingOrder = body("spei-pending-order.json")

    /// Mock `POST /orders` "successful operation cash": 2000 MXN pending, OxxoPay, `type` oxxo.
    static let oxxoPendingOrder = body("oxxo-pending-order.json")

    /// Mock `GET /orders/:id` "successful bank transfer": an expired SPEI order (FINCO PAY).
    static let speiExpiredOrder = body("spei-expired-order.json")

    /// Mock `POST /orders/:id/cancel` 500.
    static let internalError = body("internal-error.json")

    /// api.yaml, `POST /orders/{id}/refunds` 402 example: the token was used before.
    static let tokenUsed = body("token-used.json")

    /// api.yaml, `POST /orders` 401 example.
    static let authenticationError = body("authentication-error.json")

    /// api.yaml, 422 example: the token does not exist.
    static let nonexistentToken = body("nonexistent-token.json")

    /// The pre-2.0 error shape (docs/sources.md C1: message, message_to_purchaser, code and param
    /// at the top level, no details; legacy conekta-php handler, conekta-node#14). The texts are
    /// made up.
    static let legacyDecline = body("legacy-decline.json")

    private static func body(_ name: String) -> String { FixtureFile.text(name, in: .module) }
}
