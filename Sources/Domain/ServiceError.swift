/// Every way a portal request can fail, as the client sees it. `FCGIEntry` maps each case to
/// an HTTP status, a Spanish `detail` and a stable `codigo` in one place (`ErrorResponse`).
public enum ServiceError: Error, Sendable, Equatable {
    case unauthorized(AuthFailure)
    case productNotFound
    /// Bad request fields, each with a Spanish message.
    case invalidRequest([FieldProblem])
    /// The body is neither JSON nor a form.
    case unsupportedMediaType
    /// A pay-later method the company does not offer (CONTRACT §12).
    case paymentMethodUnavailable
    /// No pay-later attempt of this router has that claim code.
    case claimCodeUnknown
    /// The claim code's attempt ended without an access to hand out.
    case claimEnded(ClaimEnd)
    /// Too many failed claim-code guesses lately from this device, address or router; try again
    /// after that many seconds.
    case tooManyClaimGuesses(retryAfterSeconds: Int)
    /// The database does not answer; try again shortly (503).
    case storeUnavailable
    /// A bug or an unexpected state; the reason is for the log only.
    case internalFailure(String)
}

public struct FieldProblem: Sendable, Equatable {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}

/// Why a claim code gives no access any more.
public enum ClaimEnd: Sendable, Equatable {
    /// The reference or CLABE expired unpaid (or its order was cancelled).
    case expired
    /// The money was paid back: the access could not be delivered, or was paid after expiry.
    case refunded
    /// Delivered, then refunded or charged back: the access was taken back.
    case revoked
}
