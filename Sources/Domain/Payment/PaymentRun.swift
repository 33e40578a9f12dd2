/// One attempt being driven by `PaymentService`: its record, its machine, what the ledger holds of
/// it, and the next action. A request, a retry or the reconciler makes one and steps it to its
/// end; a simulation may hold many and choose which to step.
public struct PaymentRun {
    /// The attempt as this run knows it (ahead of the ledger until the next commit).
    public internal(set) var attempt: PaymentAttempt
    public internal(set) var flow: PaymentFlow
    /// The attempt as last committed.
    public internal(set) var saved: PaymentAttempt
    /// What the next `step` carries out.
    public internal(set) var next: PaymentFlow.Action
    /// Driving a recorded attempt (the reconciler, a retry) rather than a new request.
    public internal(set) var recovering = false
    /// Only on the request path, until the charge is sent: a resumed attempt never charges.
    var cardToken: String?
    /// Pay later: the claim code in clear, held only by the run that shows it (the ledger keeps
    /// its keyed hash). Never logged.
    var claimCode: ClaimCode?
    var customerPhoneFallback: String?
    /// The router and the gateway key, read once per run.
    var resolved: (access: PaymentService.RouterAccess?, key: GatewayKey?)?
    /// Something an operator should hear of, reported with the outcome.
    var warning: String?
    /// When this worker's lease runs out, by its own clock (microseconds).
    var leaseEndsAt: Int64 = 0
    /// The lease's owner when it is not the service's own (an attempt a reconciler pool claimed).
    var leaseOwner: String?
    /// A router call of this run got no answer (`RouterFailure.isUnanswered`).
    var routerUnanswered = false

    init(
        attempt: PaymentAttempt, flow: PaymentFlow, next: PaymentFlow.Action, cardToken: String?, customerPhoneFallback: String?
    ) {
        self.attempt = attempt
        self.flow = flow
        self.saved = attempt
        self.next = next
        self.cardToken = cardToken
        self.customerPhoneFallback = customerPhoneFallback
    }
}

extension PaymentRun: CustomStringConvertible {
    /// The card token never shows.
    public var description: String {
        "PaymentRun(\(attempt.id), \(flow.state.recorded.rawValue), next: \(next), recovering: \(recovering))"
    }
}

@available(*, unavailable, message: "a run belongs to the thread that drives it")
extension PaymentRun: Sendable {}
