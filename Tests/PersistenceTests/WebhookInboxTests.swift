import Domain
import Foundation
import Secrets
import Testing

@testable import Persistence

/// Conekta's webhook events and each company's receiving end (CONTRACT §10), against PostgreSQL.
@Suite(.serialized) struct WebhookInboxTests {
    let connection: PostgresConnection
    let store: PostgresStore
    let company: Int64
    let other: Int64
    let product: Product
    static let pem = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"
    static let endpoint = "whe_" + String(repeating: "ab", count: 16)

    init() throws {
        let migrated = try MigratedStore(keyByte: 9)
        (connection, store) = (migrated.connection, migrated.store)
        company = try store.addCompany(name: "Café", contactEmail: nil, contactPhone: nil)
        other = try store.addCompany(name: "Hotel", contactEmail: nil, contactPhone: nil)
        let router = try migrated.addRouter(company: company, name: "Terraza")
        var product = Product(
            id: 0, companyID: company, routerID: router, name: "1 Hora", price: Money(cents: 1500, currency: "MXN"), profileName: "1hora")
        product.id = try store.addProduct(product)
        self.product = product
    }

    func attempt(orderID: String?) throws -> String {
        let id = UUID().uuidString.lowercased()
        var attempt = PaymentAttempt(
            id: id, companyID: company, routerID: product.routerID, productID: product.id, apiKeyID: nil,
            idempotencyKey: "k-\(id)", requestHash: "h", state: .pending, amount: product.price, productName: product.name,
            profileName: product.profileName, limitUptime: nil, limitBytesTotal: nil, customerName: "Ana", customerEmail: "a@b.c",
            customerPhone: nil, userType: .pin, credentials: HotspotCredentials(username: "123456", password: ""),
            mac: nil, ip: nil, autoConnect: false, createdAt: Int64(Date().timeIntervalSince1970))
        guard case .started = try store.begin(attempt, owner: "test", leaseSeconds: 1) else {
            Issue.record("attempt not recorded")
            return id
        }
        attempt.orderID = orderID
        attempt.state = .delivered
        #expect(try store.save(attempt, expecting: .pending, reason: "test"))
        return id
    }

    @Test func aCompanysReceivingEndIsFoundByItsEndpointWithItsKeys() throws {
        #expect(try store.webhookReceiver(endpoint: Self.endpoint) == nil)
        #expect(try store.ensureWebhookEndpoint(companyID: company, candidate: Self.endpoint) == Self.endpoint)
        // Running the set-up again keeps the URL already registered at Conekta.
        #expect(
            try store.ensureWebhookEndpoint(companyID: company, candidate: "whe_" + String(repeating: "cd", count: 16)) == Self.endpoint)
        #expect(try store.ensureWebhookEndpoint(companyID: 999_999, candidate: Self.endpoint) == nil)

        var receiver = try #require(try store.webhookReceiver(endpoint: Self.endpoint))
        #expect(receiver == WebhookReceiver(companyID: company, publicKeyPEM: nil, gatewayKey: nil))

        #expect(try store.setConektaKeys(companyID: company, publicKey: "key_pub", privateKey: "key_private_xyz"))
        #expect(try store.setWebhookKey(companyID: company, publicKeyPEM: Self.pem, webhookKeyID: "whk_1", webhookID: nil))
        #expect(try store.setWebhookID(companyID: company, webhookID: "wh_1"))
        receiver = try #require(try store.webhookReceiver(endpoint: Self.endpoint))
        #expect(receiver.publicKeyPEM == Self.pem)
        #expect(receiver.gatewayKey == GatewayKey(privateKey: "key_private_xyz"))
        #expect(try store.webhookReceiver(companyID: company) == receiver)

        // A pasted key keeps the ids Conekta gave before.
        #expect(try store.setWebhookKey(companyID: company, publicKeyPEM: Self.pem + " ", webhookKeyID: nil, webhookID: nil))
        let setup = try #require(try store.webhookSetup(companyID: company))
        #expect(setup.endpoint == Self.endpoint && setup.webhookKeyID == "whk_1" && setup.webhookID == "wh_1")
        #expect(!(try store.setWebhookKey(companyID: 999_999, publicKeyPEM: Self.pem, webhookKeyID: nil, webhookID: nil)))
    }

    @Test func endpointsAreUniqueAndShaped() throws {
        #expect(try store.ensureWebhookEndpoint(companyID: company, candidate: Self.endpoint) == Self.endpoint)
        #expect(throws: StoreFailure.self) { try store.ensureWebhookEndpoint(companyID: other, candidate: Self.endpoint) }
        #expect(throws: StoreFailure.self) { try store.ensureWebhookEndpoint(companyID: other, candidate: "whe_short") }
    }

    @Test func anEventIsRecordedOnceAndAppliedOnce() throws {
        let event = IncomingWebhookEvent(companyID: company, eventID: "evt_1", type: "order.refunded", orderID: "ord_1")
        let first = try store.record(event)
        #expect(first.isNew && !first.isApplied && first.deliveries == 1)
        #expect(first.event.type == "order.refunded" && first.event.orderID == "ord_1" && first.event.isPending)

        // A redelivery counts, keeps the first type and order, and is not new.
        let again = try store.record(IncomingWebhookEvent(companyID: company, eventID: "evt_1", type: "order.paid", orderID: "ord_2"))
        #expect(!again.isNew && !again.isApplied && again.deliveries == 2)
        #expect(again.event.type == "order.refunded" && again.event.orderID == "ord_1")

        // The same id at another company is another event (ids are per account).
        #expect(try store.record(IncomingWebhookEvent(companyID: other, eventID: "evt_1", type: "order.paid", orderID: nil)).isNew)

        let attempt = try attempt(orderID: "ord_1")
        #expect(try store.markApplied(companyID: company, eventID: "evt_1", attemptID: attempt, outcome: "revoked"))
        #expect(!(try store.markApplied(companyID: company, eventID: "evt_1", attemptID: nil, outcome: "ignored")))
        let third = try store.record(event)
        #expect(!third.isNew && third.outcome == "revoked" && third.deliveries == 3)
        #expect(third.event.attemptID == attempt && third.event.appliedAt != nil)
    }

    @Test func pendingEventsAreHandedOutWhenDueAndPutOff() throws {
        for id in ["evt_a", "evt_b", "evt_c"] {
            _ = try store.record(IncomingWebhookEvent(companyID: company, eventID: id, type: "order.paid", orderID: "ord_\(id)"))
        }
        #expect(try store.markApplied(companyID: company, eventID: "evt_b", attemptID: nil, outcome: "ignored: unknown order"))
        let schedule = RetrySchedule(baseSeconds: 60, ceilingSeconds: 60)
        let claimed = try store.claimPendingEvents(limit: 10, retry: schedule)
        #expect(Set(claimed.map(\.eventID)) == ["evt_a", "evt_c"])
        // Handed out: not due again before the schedule says.
        #expect(try store.claimPendingEvents(limit: 10, retry: schedule).isEmpty)
        try connection.query("UPDATE webhook_events SET due_at = now() WHERE event_id = 'evt_a'")
        try store.postpone(companyID: company, eventID: "evt_a", retry: schedule)
        #expect(try store.claimPendingEvents(limit: 10, retry: schedule).isEmpty)
        try connection.query("UPDATE webhook_events SET due_at = now() - interval '1 second'")
        #expect(try store.claimPendingEvents(limit: 1, retry: schedule).count == 1)
        let tries = try connection.query("SELECT tries FROM webhook_events WHERE event_id = 'evt_a'").first?.int("tries")
        #expect(tries == 2 || tries == 3)
    }

    @Test func theOperatorListsEventsAndAnAttemptsEvents() throws {
        let attempt = try attempt(orderID: "ord_9")
        _ = try store.record(IncomingWebhookEvent(companyID: company, eventID: "evt_paid", type: "order.paid", orderID: "ord_9"))
        #expect(try store.markApplied(companyID: company, eventID: "evt_paid", attemptID: attempt, outcome: "nothing to do: delivered"))
        _ = try store.record(IncomingWebhookEvent(companyID: company, eventID: "evt_ref", type: "order.refunded", orderID: "ord_9"))
        _ = try store.record(IncomingWebhookEvent(companyID: other, eventID: "evt_x", type: "order.refunded", orderID: "ord_9"))

        #expect(try store.webhookEvents(attemptID: attempt).map(\.eventID) == ["evt_paid", "evt_ref"])
        #expect(try store.webhookEvents(attemptID: "not-a-uuid").isEmpty)
        #expect(try store.webhookEvents(companyID: nil, pendingOnly: false, limit: 10).map(\.eventID) == ["evt_x", "evt_ref", "evt_paid"])
        #expect(try store.webhookEvents(companyID: company, pendingOnly: true, limit: 10).map(\.eventID) == ["evt_ref"])
        #expect(try store.webhookEvents(companyID: nil, pendingOnly: false, limit: 1).count == 1)
    }

    @Test func anAttemptsOwnerAndPriceAreRead() throws {
        let attempt = try attempt(orderID: "ord_5")
        #expect(
            try store.attemptOwnership(id: attempt)
                == AttemptOwnership(id: attempt, companyID: company, amount: Money(cents: 1500, currency: "MXN"), state: "delivered"))
        #expect(try store.attemptOwnership(id: UUID().uuidString.lowercased()) == nil)
        #expect(try store.attemptOwnership(id: "'; DROP TABLE companies; --") == nil)
        #expect(try store.attemptOwnership(id: attempt.uppercased())?.id == attempt.uppercased())
    }
}
