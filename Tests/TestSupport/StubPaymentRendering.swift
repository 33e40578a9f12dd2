import Domain

/// Renders answers a test can read back: a receipt is `200 ok:<username>` (codigo `pagado`); any
/// other answer is `500` with the result's description as both body and codigo.
public struct StubPaymentRendering: PaymentRendering {
    public init() {}

    public func receipt(_ attempt: PaymentAttempt, completedAtMicroseconds: Int64, autoConnect: AutoConnectReport) -> StoredResponse {
        StoredResponse(status: 200, body: Array("ok:\(attempt.credentials.username)".utf8), codigo: "pagado")
    }

    public func answer(_ result: PaymentResult, attempt: PaymentAttempt?) -> StoredResponse {
        StoredResponse(status: 500, body: Array("\(result)".utf8), codigo: "\(result)")
    }
}
