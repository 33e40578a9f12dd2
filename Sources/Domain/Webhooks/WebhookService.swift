/// Reads a webhook delivery's body once its signature was checked. Implemented by the HTTP
/// layer (`ConektaEventDecoder` in API), so the Domain reads no JSON.
public protocol WebhookEventDecoding: Sendable {
    /// The event's id, type and the order it names; nil when the body is not an event.
    func decode(_ body: [UInt8]) -> WebhookEventHint?
}

/// What a delivery's body says: a hint, never acted on without asking the gateway.
public struct WebhookEventHint: Sendable, Equatable {
    public var eventID: String
    public var type: String
    public var orderID: String?

    public init(eventID: String, type: String, orderID: String?) {
        self.eventID = eventID
        self.type = type
        self.orderID = orderID
    }
}

/// The payment provider's webhooks (CONTRACT §10): a delivery is checked against its company's
/// public key before its body is read, recorded once per event id, and applied at most once:
/// the order it names is fetched again with the company's key, and only the API's status,
/// amount, currency and `metadata.attempt_id` of one of the company's own attempts count. What
/// the order requires is the saga's (`PaymentService.applyOrderReport`). An event that cannot be
/// applied now stays pending for the reconciler (`applyPending`).
public struct WebhookService {
    /// What became of one delivery.
    public enum Reception: Sendable, Equatable {
        /// No company has this endpoint (404).
        case unknownEndpoint
        /// The signature is missing, or does not sign the body under the company's key (401).
        case badSignature(companyID: Int64)
        /// Signed, but not an event (400).
        case malformed(companyID: Int64)
        /// The database did not answer before the event was recorded: the provider must send it
        /// again (503).
        case unavailable
        /// Recorded (200), and applied now or left to the reconciler.
        case received(Receipt)
    }

    /// A recorded event and what applying it did.
    public struct Receipt: Sendable, Equatable {
        public var companyID: Int64
        public var eventID: String
        public var type: String
        public var orderID: String?
        public var attemptID: String?
        /// What applying it did, in words (`revoked`, `ignored: not our order`, …), or `pending: …`
        /// when it is left to the reconciler.
        public var outcome: String
        /// A delivery of an event recorded before.
        public var redelivery: Bool
        /// Something an operator should hear of (amounts that differ, a run's warning).
        public var warning: String?

        /// The outcome's kind for metrics: the words before any colon (`ignored`, `revoked`, …).
        public var outcomeKind: String { Self.kind(of: outcome) }

        /// `ignored: not our order` → `ignored`, `nothing to do: delivered` → `nothing_to_do`.
        public static func kind(of outcome: String) -> String {
            String(outcome.prefix { $0 != ":" }.map { $0 == " " ? "_" : $0 })
        }
    }

    /// What applying an event came to.
    public enum Application: Sendable, Equatable {
        case applied(outcome: String, attemptID: String?, warning: String?)
        /// Not now (the gateway or the attempt's lease was busy); the reconciler tries again.
        case pending(String)
    }

    /// Event types that may require an action; every other one is recorded and left.
    public static let actionableTypes: Set<String> = [
        "order.paid", "order.refunded", "order.partially_refunded", "order.charged_back", "order.expired", "order.canceled",
        "order.voided",
    ]

    private let inbox: any WebhookInbox
    private let verifier: any WebhookSignatureVerifier
    private let decoder: any WebhookEventDecoding
    private let gateway: any PaymentGateway
    private let applyReport: (GatewayOrder, String) throws(StoreFailure) -> PaymentService.Outcome?
    private let retry: RetrySchedule

    /// - Parameters:
    ///   - gateway: fetches the order an event names; give it short timeouts (the provider waits
    ///     for the answer).
    ///   - applyReport: the saga's `PaymentService.applyOrderReport`.
    ///   - retry: when a pending event is tried again.
    public init(
        inbox: any WebhookInbox, verifier: any WebhookSignatureVerifier, decoder: any WebhookEventDecoding,
        gateway: any PaymentGateway,
        applyReport: @escaping (GatewayOrder, String) throws(StoreFailure) -> PaymentService.Outcome?,
        retry: RetrySchedule = RetrySchedule(baseSeconds: 5, ceilingSeconds: 60)
    ) {
        self.inbox = inbox
        self.verifier = verifier
        self.decoder = decoder
        self.gateway = gateway
        self.applyReport = applyReport
        self.retry = retry
    }

    /// One delivery to `endpoint`: `body` as received, `signature` its `Digest` header.
    public func receive(endpoint: String, body: [UInt8], signature: String?) -> Reception {
        // No endpoint is longer (whe_ + 32 hex): nothing to look up.
        guard endpoint.utf8.count <= 64 else { return .unknownEndpoint }
        let receiver: WebhookReceiver
        do {
            guard let found = try inbox.webhookReceiver(endpoint: endpoint) else { return .unknownEndpoint }
            receiver = found
        } catch {
            return .unavailable
        }
        guard let signature, let key = receiver.publicKeyPEM, verifier.isSigned(body, signature: signature, publicKeyPEM: key)
        else { return .badSignature(companyID: receiver.companyID) }
        guard let hint = decoder.decode(body) else { return .malformed(companyID: receiver.companyID) }

        let recording: WebhookRecording
        do {
            recording = try inbox.record(
                IncomingWebhookEvent(
                    companyID: receiver.companyID, eventID: hint.eventID, type: hint.type, orderID: hint.orderID,
                    holdSeconds: retry.baseSeconds))
        } catch {
            return .unavailable
        }
        let event = recording.event
        var receipt = Receipt(
            companyID: receiver.companyID, eventID: event.eventID, type: event.type, orderID: event.orderID,
            attemptID: event.attemptID, outcome: recording.outcome ?? "pending", redelivery: !recording.isNew)
        // Applied before: a redelivery changes nothing (I7).
        if recording.isApplied { return .received(receipt) }
        finish(&receipt, applying: event, receiver: receiver)
        return .received(receipt)
    }

    /// Applies up to `limit` pending events whose time has come (the reconciler).
    public func applyPending(limit: Int) throws(StoreFailure) -> [Receipt] {
        var receipts: [Receipt] = []
        for event in try inbox.claimPendingEvents(limit: limit, retry: retry) {
            var receipt = Receipt(
                companyID: event.companyID, eventID: event.eventID, type: event.type, orderID: event.orderID,
                attemptID: event.attemptID, outcome: "pending", redelivery: false)
            guard let receiver = try inbox.webhookReceiver(companyID: event.companyID) else { continue }
            finish(&receipt, applying: event, receiver: receiver)
            receipts.append(receipt)
        }
        return receipts
    }

    /// Applies `event` and records what it did; a failure leaves it pending.
    private func finish(_ receipt: inout Receipt, applying event: WebhookEventRecord, receiver: WebhookReceiver) {
        switch apply(event, receiver: receiver) {
        case .applied(let outcome, let attemptID, let warning):
            receipt.warning = warning
            do {
                if try inbox.markApplied(
                    companyID: event.companyID, eventID: event.eventID, attemptID: attemptID, outcome: outcome)
                {
                    receipt.outcome = outcome
                    receipt.attemptID = attemptID ?? receipt.attemptID
                } else {
                    // Another delivery or the reconciler applied it meanwhile; what it did stands.
                    receipt.outcome = "applied elsewhere"
                }
            } catch {
                // The action ran; the record did not say so. Applying it again changes nothing (I7).
                receipt.outcome = "pending: database unavailable"
                receipt.attemptID = attemptID ?? receipt.attemptID
            }
        case .pending(let why):
            receipt.outcome = "pending: \(why)"
            try? inbox.postpone(companyID: event.companyID, eventID: event.eventID, retry: retry)
        }
    }

    /// What the event requires, decided on the order as the gateway reports it now.
    public func apply(_ event: WebhookEventRecord, receiver: WebhookReceiver) -> Application {
        guard Self.actionableTypes.contains(event.type) else { return .applied(outcome: "recorded", attemptID: nil, warning: nil) }
        guard let orderID = event.orderID, !orderID.isEmpty else {
            return .applied(outcome: "ignored: no order", attemptID: nil, warning: nil)
        }
        guard let key = receiver.gatewayKey else { return .pending("the company has no Conekta key") }
        let order: GatewayOrder
        do {
            guard let found = try gateway.order(id: orderID, using: key) else {
                return .applied(outcome: "ignored: unknown order", attemptID: nil, warning: nil)
            }
            order = found
        } catch {
            return .pending("gateway: \(Self.words(error))")
        }
        guard let attemptID = order.attemptID else { return .applied(outcome: "ignored: not our order", attemptID: nil, warning: nil) }
        let owner: AttemptOwnership
        do {
            guard let found = try inbox.attemptOwnership(id: attemptID), found.companyID == receiver.companyID else {
                return .applied(outcome: "ignored: not our order", attemptID: nil, warning: nil)
            }
            owner = found
        } catch {
            return .pending("database unavailable")
        }
        guard order.amount == owner.amount else {
            return .applied(
                outcome: "ignored: not our order", attemptID: nil,
                warning:
                    "order \(order.id) names attempt \(attemptID) but is \(order.amount.cents) \(order.amount.currency), not \(owner.amount.cents) \(owner.amount.currency)"
            )
        }
        let outcome: PaymentService.Outcome?
        do {
            outcome = try applyReport(order, owner.id)
        } catch {
            return .pending("database unavailable")
        }
        guard let outcome else {
            return .applied(outcome: "nothing to do: \(owner.state)", attemptID: owner.id, warning: nil)
        }
        if outcome.heldElsewhere { return .pending("attempt busy") }
        let state = outcome.state?.rawValue ?? owner.state
        return .applied(outcome: state, attemptID: owner.id, warning: outcome.warning)
    }

    private static func words(_ failure: GatewayFailure) -> String {
        switch failure {
        case .notFound: "not found"
        case .configurationError: "configuration error"
        case .rejected(let code, _): "rejected (\(code))"
        case .unavailable: "unavailable"
        case .absenceUnproven: "absence unproven"
        }
    }
}
