import Domain
import Foundation
import Persistence
import Secrets
import Testing

/// Pay later in PostgreSQL (CONTRACT §12): migration 12's columns, claim codes found only within
/// their company and router, failed guesses counted, the pending list and the poll's schedule.
@Suite(.serialized) struct PayLaterStoreTests {
    let connection: PostgresConnection
    let store: PostgresStore
    let company: Int64
    let router: Int64
    let otherRouter: Int64
    let product: Int64

    init() throws {
        let migrated = try MigratedStore(keyByte: 5)
        (connection, store) = (migrated.connection, migrated.store)
        (company, router, otherRouter, product) = try migrated.addCompanyWithTwoRouters()
    }

    func attempt(_ method: PaymentMethod = .oxxo, hash: String? = "hash-1", key: String = "h:1") -> PaymentAttempt {
        let now = Int64(Date().timeIntervalSince1970)
        return PaymentAttempt(
            id: UUID().uuidString.lowercased(), companyID: company, routerID: router, productID: product, apiKeyID: nil,
            idempotencyKey: key, requestHash: "rh", state: .pending, amount: Money(cents: 1500, currency: "MXN"),
            productName: "1 Hora", profileName: "1hora", limitUptime: nil, limitBytesTotal: nil, customerName: "Ana",
            customerEmail: "ana@example.com", customerPhone: nil, userType: .userAndPassword,
            credentials: HotspotCredentials(username: "ABC234", password: "1234"), mac: nil, ip: nil, autoConnect: false,
            createdAt: now, method: method, claimCodeHash: hash, payLaterExpiresAt: now + 14_400)
    }

    /// An attempt recorded, its order made and waiting for its money.
    func waiting(_ method: PaymentMethod = .oxxo, hash: String = "hash-1", key: String = "h:1") throws -> PaymentAttempt {
        var attempt = attempt(method, hash: hash, key: key)
        _ = try store.begin(attempt, owner: "t", leaseSeconds: 60)
        attempt.state = .charging
        #expect(try store.save(attempt, expecting: .pending, reason: "ordering"))
        attempt.state = .awaitingPayment
        attempt.orderID = "ord_" + hash
        attempt.instructions =
            method == .spei
            ? PaymentInstructions(clabe: "646180111805034237", bank: "STP")
            : PaymentInstructions(reference: "93000262280678", barcodeURL: "https://b/1.png")
        attempt.payLaterExpiresAt = (attempt.payLaterExpiresAt ?? 0) + 60
        #expect(
            try store.conclude(
                attempt, expecting: .charging, reason: "waiting",
                storing: StoredResponse(status: 202, body: Array("{}".utf8), codigo: "pago_pendiente"),
                retry: RetrySchedule(baseSeconds: 60, ceilingSeconds: 600, latest: attempt.payLaterExpiresAt)))
        return attempt
    }

    @Test func companiesOfferNothingUntilTurnedOn() throws {
        #expect(try store.company(id: company)?.payLater == .off)
        #expect(try store.setPayLater(companyID: company, methods: [.spei, .oxxo], expirySeconds: nil))
        #expect(try store.company(id: company)?.payLater == PayLaterSettings(methods: [.oxxo, .spei], expirySeconds: 14_400))
        #expect(try store.setPayLater(companyID: company, methods: nil, expirySeconds: 5_400))
        #expect(try store.company(id: company)?.payLater == PayLaterSettings(methods: [.oxxo, .spei], expirySeconds: 5_400))
        #expect(try store.setPayLater(companyID: company, methods: [], expirySeconds: nil))
        #expect(try store.company(id: company)?.payLater.methods == [])
        #expect(try !store.setPayLater(companyID: 999, methods: [.oxxo], expirySeconds: nil))
        // The database holds the same bounds: hours, not days; only the two methods.
        #expect(throws: StoreFailure.self) { try store.setPayLater(companyID: company, methods: nil, expirySeconds: 300) }
        #expect(throws: (any Error).self) {
            try connection.query("UPDATE companies SET pay_later_methods = '{card}' WHERE id = $1", [String(company)])
        }
    }

    @Test func anAttemptKeepsHowItIsPaidAndItsCodeOnlyAsAHash() throws {
        let recorded = try waiting()
        let summary = try #require(try store.attemptSummary(id: recorded.id))
        #expect(summary.attempt.method == .oxxo && summary.attempt.claimCodeHash == "hash-1")
        #expect(summary.attempt.instructions == recorded.instructions)
        #expect(summary.attempt.payLaterExpiresAt == recorded.payLaterExpiresAt)
        // A later save without them keeps them.
        var later = summary.attempt
        later.instructions = nil
        later.state = .provisioning
        #expect(try store.save(later, expecting: .awaitingPayment, reason: "paid"))
        #expect(try store.attemptSummary(id: recorded.id)?.attempt.instructions == recorded.instructions)
        let columns = try connection.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'payment_attempts' AND column_name LIKE '%claim%'"
        ).all.compactMap { $0["column_name"] }
        #expect(columns == ["claim_code_hash"])
        // A card attempt is a card's, with nothing of the kind.
        let card = attempt(.card, hash: nil, key: "h:card")
        _ = try store.begin(card, owner: "t", leaseSeconds: 60)
        let read = try #require(try store.attemptSummary(id: card.id)?.attempt)
        #expect(read.method == .card && read.claimCodeHash == nil && read.instructions == nil)
    }

    @Test func aClaimCodeIsFoundOnlyWithinItsCompanyAndRouter() throws {
        let recorded = try waiting()
        let found = try #require(try store.redeemable(claimCodeHash: "hash-1", companyID: company, routerID: router))
        #expect(found.attempt.id == recorded.id && found.attempt.state == .awaitingPayment && !found.leased)
        #expect(found.attempt.answeredCodigo == "pago_pendiente" && found.idleSeconds >= 0)
        #expect(try store.redeemable(claimCodeHash: "hash-1", companyID: company, routerID: otherRouter) == nil)
        #expect(try store.redeemable(claimCodeHash: "hash-1", companyID: company + 1, routerID: router) == nil)
        #expect(try store.redeemable(claimCodeHash: "hash-2", companyID: company, routerID: router) == nil)
        // Codes are unique.
        #expect(throws: StoreFailure.self) { _ = try store.begin(attempt(hash: "hash-1", key: "h:2"), owner: "t", leaseSeconds: 60) }
    }

    @Test func failedGuessesAreCountedPerRouterDeviceAndAddress() throws {
        let mac = MACAddress("AA:BB:CC:00:00:01")
        for _ in 0..<3 { try store.recordFailedClaim(companyID: company, routerID: router, mac: mac, address: "10.5.50.9") }
        try store.recordFailedClaim(companyID: company, routerID: otherRouter, mac: nil, address: "10.5.50.9")
        #expect(
            try store.failedClaims(routerID: router, mac: mac, address: "10.5.50.9", windowSeconds: 600)
                == DeclineCounts(router: 3, mac: 3, address: 4))
        #expect(
            try store.failedClaims(routerID: otherRouter, mac: nil, address: "10.5.50.7", windowSeconds: 600)
                == DeclineCounts(router: 1, mac: 0, address: 0))
        try connection.query("UPDATE claim_failures SET at = now() - interval '2 hours'")
        #expect(
            try store.failedClaims(routerID: router, mac: mac, address: "10.5.50.9", windowSeconds: 600)
                == DeclineCounts(router: 0, mac: 0, address: 0))
        // A router's guesses older than a day are dropped as new ones come.
        try connection.query("UPDATE claim_failures SET at = now() - interval '2 days'")
        try store.recordFailedClaim(companyID: company, routerID: router, mac: nil, address: nil)
        #expect(try connection.query("SELECT count(*) AS n FROM claim_failures").first?.int("n") == 2)
    }

    @Test func thePendingListIsTheWaitingAndProvisioningOnesSoonestToExpireFirst() throws {
        let first = try waiting(.spei, hash: "hash-a", key: "h:a")
        let second = try waiting(.oxxo, hash: "hash-b", key: "h:b")
        try connection.query(
            "UPDATE payment_attempts SET pay_later_expires_at = now() + interval '1 hour' WHERE id = $1::uuid", [second.id])
        var delivered = try waiting(.oxxo, hash: "hash-c", key: "h:c")
        delivered.state = .delivered
        #expect(try store.save(delivered, expecting: .awaitingPayment, reason: "done"))
        let pending = try store.pendingPayLater(limit: 10, companyID: nil)
        #expect(pending.map(\.attempt.id) == [second.id, first.id])
        #expect(pending.last?.attempt.instructions?.clabe == "646180111805034237")
        #expect(try store.pendingPayLater(limit: 10, companyID: company + 1).isEmpty)
    }

    @Test func aWaitingOrderIsDueOnThePollsScheduleNoLaterThanItsExpiry() throws {
        let recorded = try waiting()
        let due = try #require(
            try connection.query(
                """
                SELECT extract(epoch FROM next_retry_at - now())::int AS seconds,
                       extract(epoch FROM pay_later_expires_at)::bigint AS expires
                FROM payment_attempts WHERE id = $1::uuid
                """, [recorded.id]
            ).first)
        // 60 s, the first poll (retry_count was 0).
        #expect((55...61).contains(due.int("seconds") ?? 0))
        // Expiring in 10 s, the next poll comes then.
        try store.release(
            attemptID: recorded.id, storing: nil,
            retry: RetrySchedule(baseSeconds: 60, ceilingSeconds: 600, latest: Int64(Date().timeIntervalSince1970) + 10))
        let capped = try connection.query(
            "SELECT extract(epoch FROM next_retry_at - now())::int AS seconds FROM payment_attempts WHERE id = $1::uuid", [recorded.id]
        ).first?.int("seconds")
        #expect((5...11).contains(capped ?? 0))
    }

    @Test func theBacklogCountsWaitingOrdersByMethodButNotAsLate() throws {
        _ = try waiting(.oxxo, hash: "hash-x", key: "h:x")
        _ = try waiting(.spei, hash: "hash-y", key: "h:y")
        let backlog = try store.backlog()
        #expect(backlog.attemptsByState == ["awaiting_payment": 2])
        #expect(backlog.awaitingPaymentByMethod == ["oxxo": 1, "spei": 1])
        let oldest = try store.oldestUnfinished()
        #expect(backlog.oldestCreatedAt == nil && oldest == nil)
    }

    @Test func anExpiredAttemptIsFinal() throws {
        var recorded = try waiting()
        recorded.state = .expired
        #expect(
            try store.conclude(
                recorded, expecting: .awaitingPayment, reason: "expired", storing: nil,
                retry: RetrySchedule(baseSeconds: 1, ceilingSeconds: 1)
            ))
        let summary = try #require(try store.attemptSummary(id: recorded.id))
        #expect(summary.finishedAt != nil && summary.nextRetryAt == nil)
        #expect(try store.claimDue(limit: 10, owner: "t", leaseSeconds: 60).isEmpty)
    }
}
