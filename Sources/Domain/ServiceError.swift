/// Every way a portal request can fail, as the client sees it. `FCGIEntry` maps each case to
/// an HTTP status, a Spanish `detail` and a stable `codigo` in one place (`ErrorResponse`).
public enum ServiceError: Error, Sendable, Equatable {
    case unauthorized(AuthFailure)
    case productNotFound
    /// Bad request fields, each with a Spanish message.
    case invalidRequest([FieldProblem])
    /// The body is neither JSON nor a form.
    case unsupportedMediaType
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
