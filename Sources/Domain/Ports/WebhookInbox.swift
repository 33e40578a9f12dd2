/// Where the payment provider's webhook events are kept (CONTRACT §10): each company's receiving
/// end, and one record per event id however often it is delivered. A record not yet applied is
/// the action the event still requires. Implemented by `PostgresStore`.
public protocol WebhookInbox {
    /// The company whose webhook endpoint is `endpoint` (the URL's last segment), with the keys
    /// a delivery needs; nil when no company has it.
    func webhookReceiver(endpoint: String) throws(StoreFailure) -> WebhookReceiver?

    /// The same, by company (the reconciler applies a pending event of a known company).
    func webhookReceiver(companyID: Int64) throws(StoreFailure) -> WebhookReceiver?

    /// Records a delivery of `event`: a new record, or one more delivery of a known one (its
    /// type and order are kept from the first). Commits before it returns.
    func record(_ event: IncomingWebhookEvent) throws(StoreFailure) -> WebhookRecording

    /// Marks the event applied with what applying it did, and the attempt it concerned. False
    /// when it was applied already (by another delivery or the reconciler): nothing changes.
    func markApplied(companyID: Int64, eventID: String, attemptID: String?, outcome: String) throws(StoreFailure) -> Bool

    /// Puts off an event that could not be applied now (the provider or the attempt's lease was
    /// busy) by the schedule's delay after its tries so far.
    func postpone(companyID: Int64, eventID: String, retry: RetrySchedule) throws(StoreFailure)

    /// Up to `limit` events not applied whose time has come, each put off by `retry` as it is
    /// handed out, so instances sharing the database do not all take the same one.
    func claimPendingEvents(limit: Int, retry: RetrySchedule) throws(StoreFailure) -> [WebhookEventRecord]

    /// Who an attempt belongs to and what it costs, to check an order's claim on it; nil when no
    /// attempt has that id.
    func attemptOwnership(id: String) throws(StoreFailure) -> AttemptOwnership?
}

/// A company's end of the provider's webhooks.
public struct WebhookReceiver: Sendable, Equatable {
    public var companyID: Int64
    /// The PEM the provider's `Digest` is checked against; nil until one is set.
    public var publicKeyPEM: String?
    /// The company's private API key, to fetch the order an event names; nil when none is set.
    public var gatewayKey: GatewayKey?

    public init(companyID: Int64, publicKeyPEM: String?, gatewayKey: GatewayKey?) {
        self.companyID = companyID
        self.publicKeyPEM = publicKeyPEM
        self.gatewayKey = gatewayKey
    }
}

/// What a delivery says, read from its body once its signature was checked. A hint only: the
/// order is fetched again before anything is done.
public struct IncomingWebhookEvent: Sendable, Equatable {
    public var companyID: Int64
    /// The provider's event id (`id`).
    public var eventID: String
    public var type: String
    /// `data.object.id` when the object is an order.
    public var orderID: String?
    /// A new event is not handed to the reconciler before this many seconds: the request that
    /// delivered it applies it first, and the two would otherwise race for the same event.
    public var holdSeconds: Int

    public init(companyID: Int64, eventID: String, type: String, orderID: String?, holdSeconds: Int = 0) {
        self.companyID = companyID
        self.eventID = eventID
        self.type = type
        self.orderID = orderID
        self.holdSeconds = holdSeconds
    }
}

/// What recording a delivery found.
public struct WebhookRecording: Sendable, Equatable {
    /// The first delivery of this event id.
    public var isNew: Bool
    /// It was applied already (its outcome then).
    public var outcome: String?
    public var deliveries: Int
    /// The record as stored (type and order of its first delivery).
    public var event: WebhookEventRecord

    public var isApplied: Bool { outcome != nil }

    public init(isNew: Bool, outcome: String?, deliveries: Int, event: WebhookEventRecord) {
        self.isNew = isNew
        self.outcome = outcome
        self.deliveries = deliveries
        self.event = event
    }
}

/// One stored event.
public struct WebhookEventRecord: Sendable, Equatable {
    public var companyID: Int64
    public var eventID: String
    public var type: String
    public var orderID: String?
    public var attemptID: String?
    /// Unix seconds.
    public var receivedAt: Int64
    public var deliveries: Int
    /// Unix seconds; nil while pending.
    public var appliedAt: Int64?
    public var outcome: String?

    public init(
        companyID: Int64, eventID: String, type: String, orderID: String?, attemptID: String? = nil, receivedAt: Int64,
        deliveries: Int = 1, appliedAt: Int64? = nil, outcome: String? = nil
    ) {
        self.companyID = companyID
        self.eventID = eventID
        self.type = type
        self.orderID = orderID
        self.attemptID = attemptID
        self.receivedAt = receivedAt
        self.deliveries = deliveries
        self.appliedAt = appliedAt
        self.outcome = outcome
    }

    public var isPending: Bool { appliedAt == nil }
}

/// An attempt's owner, price and state, as an order's claim on it is checked.
public struct AttemptOwnership: Sendable, Equatable {
    public var id: String
    public var companyID: Int64
    public var amount: Money
    /// The state's name as stored (`delivered`, `revoked`, …).
    public var state: String

    public init(id: String, companyID: Int64, amount: Money, state: String) {
        self.id = id
        self.companyID = companyID
        self.amount = amount
        self.state = state
    }
}
