import Domain

/// A webhook inbox held in memory; `down` makes every call fail like a lost database. Attempts
/// are read from `ledger` when one is given, as the real store reads `payment_attempts`.
public final class InMemoryWebhookInbox: WebhookInbox {
    public var receivers: [String: WebhookReceiver] = [:]
    public var events: [WebhookEventRecord] = []
    /// Seconds from now an event is due again (postponed or claimed).
    public var dueAt: [String: Int64] = [:]
    public var now: Int64 = 0
    public var down = false
    public var ledger: InMemoryPaymentLedger?

    public init(ledger: InMemoryPaymentLedger? = nil) {
        self.ledger = ledger
    }

    public func webhookReceiver(endpoint: String) throws(StoreFailure) -> WebhookReceiver? {
        if down { throw .unavailable }
        return receivers[endpoint]
    }

    public func webhookReceiver(companyID: Int64) throws(StoreFailure) -> WebhookReceiver? {
        if down { throw .unavailable }
        return receivers.values.first { $0.companyID == companyID }
    }

    public func record(_ event: IncomingWebhookEvent) throws(StoreFailure) -> WebhookRecording {
        if down { throw .unavailable }
        if let index = index(event.companyID, event.eventID) {
            events[index].deliveries += 1
            let stored = events[index]
            return WebhookRecording(isNew: false, outcome: stored.outcome, deliveries: stored.deliveries, event: stored)
        }
        let stored = WebhookEventRecord(
            companyID: event.companyID, eventID: event.eventID, type: event.type, orderID: event.orderID, receivedAt: now)
        events.append(stored)
        dueAt["\(event.companyID)/\(event.eventID)"] = now + Int64(event.holdSeconds)
        return WebhookRecording(isNew: true, outcome: nil, deliveries: 1, event: stored)
    }

    public func markApplied(companyID: Int64, eventID: String, attemptID: String?, outcome: String) throws(StoreFailure) -> Bool {
        if down { throw .unavailable }
        guard let index = index(companyID, eventID), events[index].appliedAt == nil else { return false }
        events[index].appliedAt = now
        events[index].outcome = outcome
        if let attemptID { events[index].attemptID = attemptID }
        return true
    }

    public func postpone(companyID: Int64, eventID: String, retry: RetrySchedule) throws(StoreFailure) {
        if down { throw .unavailable }
        dueAt["\(companyID)/\(eventID)"] = now + Int64(retry.baseSeconds)
    }

    public func claimPendingEvents(limit: Int, retry: RetrySchedule) throws(StoreFailure) -> [WebhookEventRecord] {
        if down { throw .unavailable }
        let due = events.filter { $0.isPending && (dueAt["\($0.companyID)/\($0.eventID)"] ?? 0) <= now }.prefix(limit)
        for event in due { dueAt["\(event.companyID)/\(event.eventID)"] = now + Int64(retry.baseSeconds) }
        return Array(due)
    }

    public func attemptOwnership(id: String) throws(StoreFailure) -> AttemptOwnership? {
        if down { throw .unavailable }
        guard let attempt = ledger?.attempts[id] else { return nil }
        return AttemptOwnership(id: id, companyID: attempt.companyID, amount: attempt.amount, state: attempt.state.rawValue)
    }

    private func index(_ companyID: Int64, _ eventID: String) -> Int? {
        events.firstIndex { $0.companyID == companyID && $0.eventID == eventID }
    }
}
