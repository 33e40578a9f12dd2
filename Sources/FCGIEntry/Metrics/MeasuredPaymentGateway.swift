import Domain

/// `PaymentGateway` that times every call of the one it wraps into
/// `hotspot_conekta_call_duration_seconds`, so neither the saga nor Gateway knows about metrics.
struct MeasuredPaymentGateway: PaymentGateway {
    let base: any PaymentGateway
    let recorder: MetricsRecorder

    /// A decline or an unpaid order is a definite answer (ok); only an unknown outcome, our
    /// configuration or a refused request count as errors.
    func charge(_ charge: ChargeRequest, using key: GatewayKey) -> ChargeOutcome {
        let start = ContinuousClock.now
        let outcome = base.charge(charge, using: key)
        let ok: Bool
        switch outcome {
        case .paid, .declined, .notPaid, .awaitingPayment: ok = true
        case .unknown, .configurationError, .invalidRequest: ok = false
        }
        recorder.conektaCall("create_order", ok: ok, since: start)
        return outcome
    }

    func order(id: String, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder? {
        try measure("get_order") { () throws(GatewayFailure) in try base.order(id: id, using: key) }
    }

    func findOrder(
        attemptID: String, customerEmail: String, createdAfter: Int64, createdBefore: Int64?, using key: GatewayKey
    ) throws(GatewayFailure) -> GatewayOrder? {
        try measure("find_order") { () throws(GatewayFailure) in
            try base.findOrder(
                attemptID: attemptID, customerEmail: customerEmail, createdAfter: createdAfter, createdBefore: createdBefore,
                using: key)
        }
    }

    func refund(orderID: String, amountCents: Int64, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder {
        try measure("refund_order") { () throws(GatewayFailure) in try base.refund(orderID: orderID, amountCents: amountCents, using: key) }
    }

    func cancel(orderID: String, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder {
        try measure("cancel_order") { () throws(GatewayFailure) in try base.cancel(orderID: orderID, using: key) }
    }

    private func measure<T>(_ operation: String, _ call: () throws(GatewayFailure) -> T) throws(GatewayFailure) -> T {
        let start = ContinuousClock.now
        do {
            let result = try call()
            recorder.conektaCall(operation, ok: true, since: start)
            return result
        } catch {
            recorder.conektaCall(operation, ok: false, since: start)
            throw error
        }
    }
}
