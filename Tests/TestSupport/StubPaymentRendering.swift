import Domain

/// Renders answers a test can read back: a receipt is `200 ok:<username>` (codigo `pagado`); a
/// pay-later order's is `202 pending:<reference or clabe>:<claim code or ->` (codigo
/// `awaitingPayment`); any other answer is `500` with the result's description as both body and
/// codigo.
public struct StubPaymentRendering: PaymentRendering {
    public init() {}

    public func receipt(_ attempt: PaymentAttempt, completedAtMicroseconds: Int64, autoConnect: AutoConnectReport) -> StoredResponse {
        StoredResponse(status: 200, body: Array("ok:\(attempt.credentials.username)".utf8), codigo: "pagado")
    }

    public func answer(_ result: PaymentResult, attempt: PaymentAttempt?) -> StoredResponse {
        StoredResponse(status: 500, body: Array("\(result)".utf8), codigo: "\(result)")
    }

    public func awaitingPayment(_ attempt: PaymentAttempt, claimCode: ClaimCode?) -> StoredResponse {
        let how = attempt.instructions?.reference ?? attempt.instructions?.clabe ?? "-"
        return StoredResponse(
            status: 202, body: Array("pending:\(how):\(claimCode?.symbols ?? "-")".utf8), codigo: "\(PaymentResult.awaitingPayment)")
    }
}
