import Dispatch
import Domain
import Foundation
import Secrets
import Synchronization
import Testing

@testable import Persistence

/// The end of an access in PostgreSQL (CONTRACT §11): products' validity and its snapshot on the
/// attempt, routers' sweeps leased to one owner at a time, an end recorded once.
@Suite(.serialized) struct AccessLedgerTests {
    let migrated: MigratedStore
    let company: Int64
    let router: Int64
    let product: Int64
    var database: TestDatabase { migrated.database }
    var connection: PostgresConnection { migrated.connection }
    var store: PostgresStore { migrated.store }
    var sealer: SecretBox { migrated.sealer }

    init() throws {
        migrated = try MigratedStore(keyByte: 7)
        let store = migrated.store
        company = try store.addCompany(name: "Café", contactEmail: nil, contactPhone: nil)
        router = try migrated.addRouter(company: company, name: "Terraza")
        product = try store.addProduct(
            Product(
                id: 0, companyID: company, routerID: router, name: "1 Día", price: Money(cents: 4990, currency: "MXN"),
                profileName: "1dia", limitUptime: "1d", validity: AccessValidity(seconds: 86_400, from: .purchase)))
    }

    private func addRouter(_ name: String, company: Int64? = nil) throws -> Int64 {
        try migrated.addRouter(company: company ?? self.company, name: name)
    }

    /// A recorded attempt of `product` on `routerID`, moved to `state` with SQL (delivered `ago`
    /// seconds ago when delivered).
    @discardableResult
    private func attempt(
        _ state: PaymentAttempt.State = .delivered, routerID: Int64? = nil, validity: AccessValidity? = nil, ago: Int = 60,
        username: String = "K7RW4P"
    ) throws -> String {
        let id = UUID().uuidString.lowercased()
        let attempt = PaymentAttempt(
            id: id, companyID: company, routerID: routerID ?? router, productID: product, apiKeyID: nil, idempotencyKey: "h:" + id,
            requestHash: "hash", state: .pending, amount: Money(cents: 4990, currency: "MXN"), productName: "1 Día",
            profileName: "1dia", limitUptime: "1d", limitBytesTotal: nil, customerName: "Ana", customerEmail: "ana@example.com",
            customerPhone: nil, userType: .userAndPassword, credentials: HotspotCredentials(username: username, password: "1234"),
            mac: nil, ip: nil, autoConnect: false, createdAt: Int64(Date().timeIntervalSince1970), validity: validity)
        guard case .started = try store.begin(attempt, owner: "t", leaseSeconds: 60) else { throw Failure.notStarted }
        try connection.query(
            """
            UPDATE payment_attempts SET state = $2, lease_owner = NULL, lease_until = NULL,
                finished_at = CASE WHEN $2 IN ('delivered', 'revoked') THEN now() - make_interval(secs => $3) END
            WHERE id = $1::uuid
            """, [id, state.rawValue, String(ago)])
        return id
    }

    private enum Failure: Error { case notStarted }

    private var now: Int64 { Int64(Date().timeIntervalSince1970) }

    @Test func aProductsValidityIsStoredChangedClearedAndSnapshotOnItsSales() throws {
        let stored = try #require(try store.product(id: product))
        #expect(stored.validity == AccessValidity(seconds: 86_400, from: .purchase) && stored.limitUptime == "1d")
        #expect(try store.activeProducts(companyID: company, routerID: router).first?.validity == stored.validity)

        var changes = PostgresStore.ProductChanges()
        changes.validity = .some(AccessValidity(seconds: 3_600, from: .firstLogin))
        changes.limitUptime = .some(nil)
        changes.priceCents = 5_500
        #expect(try store.updateProduct(id: product, changes))
        let changed = try #require(try store.product(id: product))
        #expect(changed.validity == AccessValidity(seconds: 3_600, from: .firstLogin) && changed.limitUptime == nil)
        #expect(changed.price == Money(cents: 5_500, currency: "MXN") && changed.name == "1 Día")
        var clear = PostgresStore.ProductChanges()
        clear.validity = .some(nil)
        #expect(try store.updateProduct(id: product, clear))
        #expect(try store.product(id: product)?.validity == nil)
        #expect(try !store.updateProduct(id: 999_999, clear))
        #expect(try store.updateProduct(id: product, PostgresStore.ProductChanges()))  // nothing to change, but it exists

        // What was sold stays on the attempt whatever the product becomes.
        let sold = try attempt(validity: AccessValidity(seconds: 86_400, from: .purchase))
        let summary = try #require(try store.attemptSummary(id: sold))
        #expect(summary.attempt.validity == AccessValidity(seconds: 86_400, from: .purchase))
        #expect(summary.attempt.firstLoginAt == nil && summary.firstLoginAt == nil && summary.accessEndedAt == nil)
        #expect(try store.attemptSummary(id: try attempt())?.attempt.validity == nil)
    }

    @Test func theCheckedColumnsRefuseWhatTheDomainNeverWrites() throws {
        for statement in [
            "UPDATE products SET validity_seconds = 0",
            "UPDATE products SET validity_from = 'tomorrow'",
            "UPDATE payment_attempts SET access_end_reason = 'boredom'",
        ] {
            _ = try attempt()
            #expect(throws: PostgresError.self, "\(statement)") { try connection.query(statement) }
        }
    }

    @Test func aDueSweepIsClaimedByOneOwnerAndFinishedWithItsFigures() throws {
        let lobby = try addRouter("Lobby")
        let off = try addRouter("Apagado")
        #expect(try store.setRouterActive(id: off, active: false))

        let first = try #require(try store.claimDueSweep(owner: "a", leaseSeconds: 60))
        let second = try #require(try store.claimDueSweep(owner: "b", leaseSeconds: 60))
        #expect(Set([first.routerID, second.routerID]) == [router, lobby] && first.failures == 0)
        #expect(try store.claimDueSweep(owner: "c", leaseSeconds: 60) == nil)  // both held; the inactive one never

        // Another owner's finish writes nothing: the lease is a's.
        try store.finishSweep(
            first, owner: "b",
            outcome: SweepOutcome(
                durationMilliseconds: 1, users: 1, pastEnd: 1, error: nil, nextInSeconds: 0))
        #expect(try store.claimDueSweep(owner: "c", leaseSeconds: 60) == nil)
        // A pass that read the router: its figures; due again at once (its ends were not done).
        try store.finishSweep(
            first, owner: "a",
            outcome: SweepOutcome(
                durationMilliseconds: 1_234, users: 20, pastEnd: 3, error: nil, nextInSeconds: 0))
        let again = try #require(try store.claimDueSweep(owner: "a", leaseSeconds: 60))
        #expect(again.routerID == first.routerID)
        // A failed pass: its error and a failure more; the last reading's figures stay.
        try store.finishSweep(
            again, owner: "a",
            outcome: SweepOutcome(
                durationMilliseconds: 2_001, users: nil, pastEnd: nil, error: "router: unreachable", nextInSeconds: 0))
        let status = try #require(try store.sweepStatuses(routerID: first.routerID).first)
        #expect(status.lastUsers == 20 && status.lastPastEnd == 3 && status.lastDurationMilliseconds == 2_001)
        #expect(status.failures == 1 && status.lastError == "router: unreachable" && status.lastFinishedAt != nil)
        #expect(try store.claimDueSweep(owner: "a", leaseSeconds: 60)?.failures == 1)
        try store.finishSweep(
            SweepClaim(routerID: first.routerID, failures: 1), owner: "a",
            outcome: SweepOutcome(
                durationMilliseconds: 5, users: 19, pastEnd: 0, error: nil, nextInSeconds: 60))
        let recovered = try #require(try store.sweepStatuses(routerID: first.routerID).first)
        #expect(recovered.failures == 0 && recovered.lastError == nil && recovered.lastUsers == 19)
        #expect(try store.claimDueSweep(owner: "a", leaseSeconds: 60) == nil)  // not due for a minute
        #expect(try store.sweepStatuses().map(\.routerID).sorted() == [router, lobby])

        // A lease that ran out (its owner died) is taken over.
        try connection.query(
            "UPDATE router_sweeps SET lease_until = now() - interval '1 second' WHERE router_id = $1",
            [
                String(second.routerID)
            ])
        #expect(try store.claimDueSweep(owner: "c", leaseSeconds: 60)?.routerID == second.routerID)
    }

    @Test func claimersAtOnceGetDifferentRoutersAndNeverTheSameLease() throws {
        var routers: Set<Int64> = [router]
        for index in 0..<7 { routers.insert(try addRouter("R\(index)")) }
        let url = database.url
        let sealer = self.sealer
        let claims = Mutex<[(owner: String, router: Int64)]>([])
        let group = DispatchGroup()
        for thread in 0..<4 {
            group.enter()
            Thread {
                defer { group.leave() }
                let store = PostgresStore(connection: PostgresConnection(url: url), sealer: sealer)
                let owner = "host:1/reconciler-\(thread)"
                // Each claims until nothing is due, keeping every lease (a pass in progress).
                while let claim = try? store.claimDueSweep(owner: owner, leaseSeconds: 60) {
                    claims.withLock { $0.append((owner, claim.routerID)) }
                }
            }.start()
        }
        #expect(group.wait(timeout: .now() + 30) == .success)
        let taken = claims.withLock { $0 }
        #expect(taken.count == routers.count && Set(taken.map(\.router)) == routers)
        // Each row's lease names the owner that got it.
        for (owner, claimed) in taken {
            #expect(
                try connection.query("SELECT lease_owner FROM router_sweeps WHERE router_id = $1", [String(claimed)]).first?[
                    "lease_owner"] == owner)
        }
    }

    @Test func accessesAreLoadedByIdForTheirRouterOnly() throws {
        let delivered = try attempt(validity: AccessValidity(seconds: 3_600, from: .firstLogin), ago: 120)
        let charging = try attempt(.charging)
        let lobby = try addRouter("Lobby")
        let elsewhere = try attempt(routerID: lobby)
        let unknown = UUID().uuidString.lowercased()
        let accesses = try store.soldAccesses(attemptIDs: [delivered, charging, elsewhere, unknown], routerID: router)
        #expect(Set(accesses.map(\.attemptID)) == [delivered, charging])
        let sold = try #require(accesses.first { $0.attemptID == delivered })
        #expect(sold.state == .delivered && sold.username == "K7RW4P" && sold.productID == product && sold.productName == "1 Día")
        #expect(sold.limitUptime == "1d" && sold.validity == AccessValidity(seconds: 3_600, from: .firstLogin))
        #expect(abs((sold.deliveredAt ?? 0) - (now - 120)) <= 2 && sold.firstLoginAt == nil && sold.endedAt == nil)
        #expect(accesses.first { $0.attemptID == charging }?.deliveredAt == nil)
        #expect(try store.soldAccesses(attemptIDs: [], routerID: router) == [])
        #expect(throws: StoreFailure.self) { try store.soldAccesses(attemptIDs: ["1'); DROP TABLE x; --"], routerID: router) }
    }

    @Test func aFirstLoginIsRecordedOnce() throws {
        let one = try attempt()
        let two = try attempt()
        #expect(try store.recordFirstLogins([FirstLogin(attemptID: one, at: 1_700_000_000)]) == 1)
        #expect(
            try store.recordFirstLogins([FirstLogin(attemptID: one, at: 1_700_009_999), FirstLogin(attemptID: two, at: 1_700_000_500)])
                == 1)
        let accesses = try store.soldAccesses(attemptIDs: [one, two], routerID: router)
        #expect(accesses.first { $0.attemptID == one }?.firstLoginAt == 1_700_000_000)
        #expect(accesses.first { $0.attemptID == two }?.firstLoginAt == 1_700_000_500)
        #expect(try store.attemptSummary(id: one)?.firstLoginAt == "2023-11-14T22:13:20Z")
    }

    @Test func anEndIsRecordedOnceWhoeverRecordsItAndJoinsTheTimeline() throws {
        let id = try attempt()
        let url = database.url
        let sealer = self.sealer
        let results = Mutex<[Bool]>([])
        let group = DispatchGroup()
        for _ in 0..<6 {
            group.enter()
            Thread {
                defer { group.leave() }
                let store = PostgresStore(connection: PostgresConnection(url: url), sealer: sealer)
                let recorded = (try? store.recordAccessEnd(attemptID: id, reason: .uptime, at: 1_700_000_000)) ?? false
                results.withLock { $0.append(recorded) }
            }.start()
        }
        #expect(group.wait(timeout: .now() + 30) == .success)
        #expect(results.withLock { $0 }.filter { $0 }.count == 1 && results.withLock { $0 }.count == 6)
        #expect(try !store.recordAccessEnd(attemptID: id, reason: .validity, at: 1_700_000_100))
        let summary = try #require(try store.attemptSummary(id: id))
        #expect(summary.attempt.accessEndReason == .uptime && summary.attempt.accessEndedAt == 1_700_000_000)
        #expect(summary.accessEndedAt == "2023-11-14T22:13:20Z" && summary.attempt.state == .delivered)
        let ends = try store.events(attemptID: id).filter { $0.reason?.hasPrefix("access ended") == true }
        #expect(ends.map(\.reason) == ["access ended: uptime"] && ends.map(\.from) == ["delivered"] && ends.map(\.to) == ["delivered"])
        #expect(try !store.recordAccessEnd(attemptID: UUID().uuidString.lowercased(), reason: .uptime, at: 1))
    }

    @Test func lapsedAccessesAreTheOnesOverByTheirOwnRecordAndNotListed() throws {
        let day = AccessValidity(seconds: 86_400, from: .purchase)
        let lapsed = try attempt(validity: day, ago: 86_401)
        let listed = try attempt(validity: day, ago: 86_401)
        let running = try attempt(validity: day, ago: 60)
        _ = try attempt(validity: AccessValidity(seconds: 60, from: .firstLogin), ago: 86_401)
        _ = try attempt(ago: 86_401)
        let revoked = try attempt(.revoked)
        let ended = try attempt(.revoked)
        #expect(try store.recordAccessEnd(attemptID: ended, reason: .revoked, at: now))
        _ = try attempt(.revoking)
        _ = try attempt(.delivered, routerID: try addRouter("Lobby"), validity: day, ago: 86_401)

        let found = try store.lapsedAccesses(routerID: router, listed: [listed], now: now, limit: 50)
        #expect(Set(found.map(\.attemptID)) == [lapsed, revoked])
        #expect(try store.lapsedAccesses(routerID: router, listed: [listed], now: now, limit: 1).count == 1)
        // Judged at the sweeper's now: a day earlier, only the revoked one is over.
        #expect(try store.lapsedAccesses(routerID: router, listed: [], now: now - 86_400, limit: 50).map(\.attemptID) == [revoked])
        _ = running
    }
}
