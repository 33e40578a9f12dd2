import Domain
import Foundation
import TestSupport
import Testing

/// The sweep of sold users over in-memory ports (CONTRACT §11): what is ended, in what order, what
/// is never touched, how a pass is bounded and paced, and how an unreachable router is retried.
@Suite struct AccessSweeperTests {
    let router = InMemoryHotspotUserDirectory()
    let clock = ManualClock()
    let ledger: InMemoryAccessLedger
    static let routerID: Int64 = 7
    static let day: Int64 = 86_400

    init() {
        ledger = InMemoryAccessLedger(clock: clock)
        ledger.addRouter(Self.routerID)
    }

    func sweeper(
        batch: Int = 200, pause: Int = 20, budget: Int = 60, owner: String = "test/reconciler-0", server: String = "hotspot1"
    ) -> AccessSweeper {
        var settings = AccessSweeper.Settings()
        settings.batch = batch
        settings.pauseMilliseconds = pause
        settings.passBudgetSeconds = budget
        let router = self.router
        return AccessSweeper(
            ledger: ledger,
            routerAccess: { (id: Int64) throws(StoreFailure) in
                id == Self.routerID ? .init(directory: router, quick: router, hotspotServer: server) : nil
            }, clock: clock, settings: settings, owner: owner)
    }

    var now: Int64 { clock.nowSeconds }

    /// A delivered sale on the router: its user (made as the saga makes it) and its record.
    @discardableResult
    func sold(
        _ name: String, uptime: String? = nil, bytes: Int64? = nil, validity: AccessValidity? = nil,
        state: PaymentAttempt.State = .delivered,
        deliveredAgo: Int64 = 60, routerID: Int64 = routerID
    ) throws -> SoldAccess {
        let id = UUID().uuidString.lowercased()
        _ = try router.createUser(
            NewHotspotUser(
                name: name, password: "1234", profile: "1hora", server: "hotspot1", disabled: false, comment: "hotspot-pay:\(id)",
                limitUptime: uptime, limitBytesTotal: bytes))
        let access = SoldAccess(
            attemptID: id, routerID: routerID, state: state, username: name, productID: 3, productName: "1 Hora",
            limitUptime: uptime, limitBytesTotal: bytes, validity: validity, deliveredAt: state == .delivered ? now - deliveredAgo : nil)
        ledger.accesses[id] = access
        return access
    }

    func present(_ name: String) -> Bool { router.users.values.contains { $0.user.name == name } }

    @Test func aUserWhoseUptimeIsUsedUpLosesItsSessionsThenTheUserAndTheEndIsRecorded() throws {
        let access = try sold("K7RW4P", uptime: "1h")
        let kept = try sold("M3PQ8T", uptime: "1h")
        router.use("K7RW4P", seconds: 3_600)
        router.use("M3PQ8T", seconds: 600)
        router.startSession(user: "K7RW4P", server: "hotspot1")
        router.startSession(user: "K7RW4P", server: "hotspot2")  // another server's user of that name

        let passes = try sweeper().sweepDue()
        let pass = try #require(passes.first)
        #expect(passes.count == 1 && pass.routerID == Self.routerID && pass.failure == nil)
        #expect(pass.ended == [.init(attemptID: access.attemptID, username: "K7RW4P", reason: .uptime)])
        #expect(pass.users == 2 && pass.pastEnd == 0 && pass.unmatched == 0)
        #expect(!present("K7RW4P") && present("M3PQ8T"))
        #expect(router.sessions.values.map(\.server) == ["hotspot2"])
        #expect(router.calls["end"] == 1 && router.calls["delete"] == 1 && router.calls["list"] == 1 && router.calls["list-sessions"] == 1)
        #expect(ledger.accesses[access.attemptID]?.endReason == .uptime && ledger.accesses[access.attemptID]?.endedAt == now)
        #expect(ledger.events.map(\.1) == ["access ended: uptime"])
        // Both were seen used: each first login is now less its uptime.
        #expect(pass.firstLogins == 2)
        #expect(ledger.accesses[kept.attemptID]?.firstLoginAt == now - 600)
        #expect(ledger.accesses[access.attemptID]?.firstLoginAt == now - 3_600)
        // Done: the next pass is an interval away, not due now.
        #expect(
            ledger.sweeps[Self.routerID]?.lastOutcome
                == SweepOutcome(
                    durationMilliseconds: 0, users: 2, pastEnd: 0, error: nil, nextInSeconds: 60))
        #expect(try sweeper().sweepDue().isEmpty)
    }

    @Test func bytesUsedUpEndTheAccess() throws {
        let access = try sold("B4TESX", bytes: 1_000_000)
        router.use("B4TESX", seconds: 30, bytesIn: 900_000, bytesOut: 100_000)
        let pass = try #require(try sweeper().sweepDue().first)
        #expect(pass.ended.map(\.reason) == [.bytes] && ledger.accesses[access.attemptID]?.endReason == .bytes)
        #expect(!present("B4TESX"))
    }

    @Test func aValidityFromPurchaseEndsTheAccessUsedOrNot() throws {
        let over = try sold("PURCH1", validity: AccessValidity(seconds: Self.day, from: .purchase), deliveredAgo: Self.day)
        try sold("PURCH2", validity: AccessValidity(seconds: Self.day, from: .purchase), deliveredAgo: Self.day - 60)
        let pass = try #require(try sweeper().sweepDue().first)
        #expect(pass.ended == [.init(attemptID: over.attemptID, username: "PURCH1", reason: .validity)])
        #expect(!present("PURCH1") && present("PURCH2"))
    }

    @Test func aValidityFromTheFirstLoginRunsFromWhenTheUserWasFirstSeenUsed() throws {
        let access = try sold("FIRST1", validity: AccessValidity(seconds: Self.day, from: .firstLogin), deliveredAgo: 30 * Self.day)
        // Unused for a month: nothing has started.
        #expect(try sweeper().sweepDue().first?.ended == [])
        clock.advance(seconds: 60)
        router.use("FIRST1", seconds: 300)
        #expect(try sweeper().sweepDue().first?.firstLogins == 1)
        let firstLogin = now - 300
        #expect(ledger.accesses[access.attemptID]?.firstLoginAt == firstLogin)
        // A day after that first login, whatever it used since.
        clock.advance(seconds: Self.day - 301)
        #expect(try sweeper().sweepDue().first?.ended == [])
        clock.advance(seconds: 60)
        let pass = try #require(try sweeper().sweepDue().first)
        #expect(pass.ended.map(\.reason) == [.validity] && pass.firstLogins == 0 && !present("FIRST1"))
        #expect(ledger.accesses[access.attemptID]?.firstLoginAt == firstLogin)
    }

    @Test func aRevokedAccessEndsAndAccessesStillInTheSagaAreLeftToIt() throws {
        let revoked = try sold("REVOK1", state: .revoked)
        for (name, state) in [("CHARG1", PaymentAttempt.State.charging), ("REVOK2", .revoking), ("PAIDD1", .paid), ("REFUN1", .refunding)] {
            try sold(name, uptime: "1h", state: state)
            router.use(name, seconds: 7_200)
        }
        let pass = try #require(try sweeper().sweepDue().first)
        #expect(pass.ended == [.init(attemptID: revoked.attemptID, username: "REVOK1", reason: .revoked)])
        #expect(!present("REVOK1") && ["CHARG1", "REVOK2", "PAIDD1", "REFUN1"].allSatisfy(present))
        #expect(pass.pastEnd == 0 && pass.users == 5)
    }

    @Test func usersTheProductDidNotMakeAreNeverTouched() throws {
        let spent = InMemoryHotspotUserDirectory.Usage(uptimeSeconds: 99_999, limitUptimeSeconds: 60)
        router.addUser(name: "admin-guest", comment: "", usage: spent)
        router.addUser(name: "vip", comment: "VIP customer", usage: spent)
        router.addUser(name: "look-alike", comment: "hotspot-pay:not-an-attempt", usage: spent)
        // Names an attempt this database does not have (another deployment's user).
        router.addUser(name: "elsewhere", comment: "hotspot-pay:\(UUID().uuidString.lowercased())", usage: spent)
        // A hand-made copy of a sold user: the attempt's comment, another name.
        let original = try sold("ORIGIN", uptime: "1m")
        router.addUser(name: "COPY01", comment: "hotspot-pay:\(original.attemptID)", usage: spent)
        // An attempt of another router.
        try sold("OTHER1", uptime: "1m", routerID: 8)
        router.use("OTHER1", seconds: 120)
        router.startSession(user: "vip")
        router.startSession(user: "elsewhere")

        let pass = try #require(try sweeper().sweepDue().first)
        #expect(pass.ended == [] && pass.users == 1 && pass.unmatched == 3)
        #expect(["admin-guest", "vip", "look-alike", "elsewhere", "COPY01", "OTHER1", "ORIGIN"].allSatisfy(present))
        #expect(router.sessions.count == 2 && router.calls["delete"] == nil && router.calls["end"] == nil)
    }

    @Test func aPassEndsAtMostABatchAndTheRestComesSoon() throws {
        for index in 0..<5 {
            try sold("BATCH\(index)", uptime: "1h")
            router.use("BATCH\(index)", seconds: 3_600)
        }
        let sweeper = sweeper(batch: 2)
        let first = try #require(try sweeper.sweepDue().first)
        #expect(first.ended.count == 2 && first.pastEnd == 3 && first.nextInSeconds == 1)
        #expect(ledger.sweeps[Self.routerID]?.lastOutcome?.pastEnd == 3)
        #expect(try sweeper.sweepDue().isEmpty)  // due in a second, not now
        clock.advance(seconds: 1)
        #expect(try sweeper.sweepDue().first?.ended.count == 2)
        clock.advance(seconds: 1)
        let last = try #require(try sweeper.sweepDue().first)
        #expect(last.ended.count == 1 && last.pastEnd == 0 && last.nextInSeconds == 60)
        #expect(router.users.isEmpty && ledger.accesses.values.allSatisfy { $0.endReason == .uptime })
    }

    @Test func endsArePacedAndAPassStopsStartingEndsWhenItsBudgetIsSpent() throws {
        for index in 0..<3 {
            try sold("PACED\(index)", uptime: "1h")
            router.use("PACED\(index)", seconds: 3_600)
        }
        let paced = try #require(try sweeper(pause: 25).sweepDue().first)
        #expect(paced.ended.count == 3 && clock.sleeps == [25, 25])
        #expect(paced.durationMilliseconds == 50)

        for index in 0..<4 {
            try sold("SLOW\(index)", uptime: "1h")
            router.use("SLOW\(index)", seconds: 3_600)
        }
        clock.advance(seconds: 60)
        // Each pause is 600 ms of a 1 s budget: the pass starts two ends, then leaves the rest.
        let bounded = try #require(try sweeper(pause: 600, budget: 1).sweepDue().first)
        #expect(bounded.ended.count == 2 && bounded.pastEnd == 2 && bounded.nextInSeconds == 1)
    }

    @Test func anUnreachableRouterIsRetriedAfterABackoffAndWhatWasEndedStays() throws {
        for index in 0..<3 {
            try sold("DOWN\(index)", uptime: "1h")
            router.use("DOWN\(index)", seconds: 3_600)
        }
        let sweeper = sweeper()
        router.failNext["list"] = .unreachable("connect timed out")
        let failed = try #require(try sweeper.sweepDue().first)
        #expect(failed.failure?.hasPrefix("router: unreachable") == true && failed.nextInSeconds == 120 && failed.ended == [])
        #expect(ledger.sweeps[Self.routerID]?.failures == 1)
        // The figures of the last pass that read the router are not overwritten by one that could not.
        #expect(ledger.sweeps[Self.routerID]?.lastOutcome?.users == nil)
        clock.advance(seconds: 120)
        router.failNext["list"] = .timedOut(maybeApplied: false)
        #expect(try sweeper.sweepDue().first?.nextInSeconds == 240)
        clock.advance(seconds: 240)
        // Reachable again, then lost after the first end: that end stays recorded.
        router.startSession(user: "DOWN1")
        router.failNext["end"] = .unreachable("connection refused")
        let partial = try #require(try sweeper.sweepDue().first)
        #expect(partial.ended.count == 1 && partial.failure != nil && partial.pastEnd == 2 && partial.nextInSeconds == 480)
        #expect(ledger.accesses.values.filter { $0.endedAt != nil }.count == 1 && router.users.count == 2)
        clock.advance(seconds: 480)
        let recovered = try #require(try sweeper.sweepDue().first)
        #expect(recovered.failure == nil && recovered.ended.count == 2 && router.users.isEmpty)
        #expect(ledger.sweeps[Self.routerID]?.failures == 0 && recovered.nextInSeconds == 60)
        #expect(router.calls["delete"] == 3)
    }

    @Test func theBackoffDoublesUpToItsCeiling() {
        let sweeper = sweeper()
        #expect((1...6).map(sweeper.backoff(afterFailures:)) == [120, 240, 480, 600, 600, 600])
    }

    @Test func aRemovalTheRouterRefusesIsReportedAndThePassGoesOn() throws {
        let refused = try sold("REFUSE", uptime: "1h")
        try sold("ACCEPT", uptime: "1h")
        router.use("REFUSE", seconds: 3_600)
        router.use("ACCEPT", seconds: 3_600)
        router.failNext["delete"] = .rejected("400 bad_request")
        let pass = try #require(try sweeper().sweepDue().first)
        // Users are listed by id; the first one (REFUSE, made first) is refused.
        #expect(pass.refused.map(\.attemptID) == [refused.attemptID] && pass.ended.map(\.username) == ["ACCEPT"])
        #expect(pass.failure == nil && pass.pastEnd == 1 && pass.nextInSeconds == 60 && present("REFUSE"))
        #expect(ledger.accesses[refused.attemptID]?.endedAt == nil)
    }

    @Test func accessesOverWithTheirUserGoneAreRecordedMissing() throws {
        let purchase = try sold("GONE01", validity: AccessValidity(seconds: Self.day, from: .purchase), deliveredAgo: 2 * Self.day)
        let revoked = try sold("GONE02", state: .revoked)
        let firstLogin = try sold("GONE03", validity: AccessValidity(seconds: Self.day, from: .firstLogin), deliveredAgo: 2 * Self.day)
        let running = try sold("GONE04", validity: AccessValidity(seconds: Self.day, from: .purchase), deliveredAgo: 60)
        let plain = try sold("GONE05", deliveredAgo: 2 * Self.day)
        for id in Array(router.users.keys) { try router.deleteUser(id: id) }  // an operator cleaned the router by hand

        let pass = try #require(try sweeper().sweepDue().first)
        #expect(Set(pass.ended.map(\.attemptID)) == [purchase.attemptID, revoked.attemptID])
        #expect(pass.ended.allSatisfy { $0.reason == .missing } && pass.users == 0)
        // Whether these are over cannot be told from their record: left as they are.
        for id in [firstLogin.attemptID, running.attemptID, plain.attemptID] { #expect(ledger.accesses[id]?.endedAt == nil) }
        #expect(router.calls["list-sessions"] == nil)  // no user of ours: the sessions were not read
    }

    @Test func anEndRecordedElsewhereIsNotCountedAgainButItsUserIsRemoved() throws {
        let access = try sold("TWICE1", uptime: "1h")
        ledger.accesses[access.attemptID]?.endedAt = now - 5
        ledger.accesses[access.attemptID]?.endReason = .uptime
        let pass = try #require(try sweeper().sweepDue().first)
        #expect(pass.ended == [] && pass.pastEnd == 0 && !present("TWICE1") && ledger.events.isEmpty)
    }

    @Test func twoSweepersNeverHoldOneRouterAtOnce() throws {
        try sold("SHARED", uptime: "1h")
        router.use("SHARED", seconds: 3_600)
        // Another instance holds the router's sweep now (its pass is running).
        let held = try #require(try ledger.claimDueSweep(owner: "other-host:1/reconciler-0", leaseSeconds: 180))
        #expect(held.routerID == Self.routerID)
        #expect(try sweeper().sweepDue().isEmpty && present("SHARED"))
        // Its process died: the lease runs out and this instance takes the router up.
        clock.advance(seconds: 181)
        let pass = try #require(try sweeper().sweepDue().first)
        #expect(pass.ended.count == 1 && !present("SHARED"))
        // The dead owner's late finish writes nothing.
        try ledger.finishSweep(
            held, owner: "other-host:1/reconciler-0",
            outcome: SweepOutcome(
                durationMilliseconds: 1, users: 9, pastEnd: 9, error: nil, nextInSeconds: 0))
        #expect(ledger.sweeps[Self.routerID]?.lastOutcome?.users == 1)
    }

    @Test func aDatabaseLostMidPassStopsItAndTheLeaseRunsOut() throws {
        try sold("DBDOWN", uptime: "1h")
        router.use("DBDOWN", seconds: 3_600)
        let claim = try #require(try ledger.claimDueSweep(owner: "test/reconciler-0", leaseSeconds: 180))
        ledger.down = true
        let pass = sweeper().sweep(claim)
        #expect(pass.failure?.hasPrefix("database") == true && present("DBDOWN"))
        ledger.down = false
        #expect(try sweeper().sweepDue().isEmpty)  // still leased
    }

    @Test func aRouterTheDatabaseDoesNotKnowFailsThePass() throws {
        ledger.addRouter(99)
        let passes = try sweeper().sweepDue(limit: 2)
        #expect(passes.map(\.routerID).sorted() == [Self.routerID, 99])
        #expect(passes.first { $0.routerID == 99 }?.failure == "no such router")
    }

    // MARK: The operator

    @Test func theOperatorSeesEachUserWithItsAttemptAndState() throws {
        let unused = try sold("UNUSED")
        let active = try sold("ACTIVE", validity: AccessValidity(seconds: Self.day, from: .firstLogin))
        let over = try sold("OVERUP", uptime: "1h")
        let revoked = try sold("REVOKE", state: .revoked)
        let unfinished = try sold("UNFINI", state: .charging)
        router.use("ACTIVE", seconds: 60)
        router.use("OVERUP", seconds: 3_600)
        router.startSession(user: "ACTIVE")
        router.addUser(name: "stranger", comment: "")
        router.addUser(name: "ELSEWH", comment: "hotspot-pay:\(UUID().uuidString.lowercased())")

        let users = try sweeper().users(routerID: Self.routerID)
        let byName = Dictionary(uniqueKeysWithValues: users.map { ($0.usage.name, $0) })
        #expect(byName["stranger"] == nil && users.count == 6)
        #expect(byName["UNUSED"]?.state == .unused && byName["UNUSED"]?.access == unused && byName["UNUSED"]?.firstLoginAt == nil)
        #expect(
            byName["ACTIVE"]?.state == .active && byName["ACTIVE"]?.sessions == 1 && byName["ACTIVE"]?.access?.attemptID == active.attemptID
        )
        #expect(byName["ACTIVE"]?.firstLoginAt == now - 60 && byName["ACTIVE"]?.endsAt == now - 60 + Self.day)
        #expect(byName["OVERUP"]?.state == .over && byName["OVERUP"]?.reason == .uptime && byName["OVERUP"]?.attemptID == over.attemptID)
        #expect(byName["REVOKE"]?.state == .revoked && byName["REVOKE"]?.attemptID == revoked.attemptID)
        #expect(byName["UNFINI"]?.state == .unfinished && byName["UNFINI"]?.attemptID == unfinished.attemptID)
        #expect(byName["ELSEWH"]?.state == .unmatched && byName["ELSEWH"]?.access == nil)
        // Looking changes nothing: no first login recorded, nobody removed.
        #expect(ledger.accesses[active.attemptID]?.firstLoginAt == nil && router.users.count == 7)
        #expect(throws: AccessSweeper.Failure.unknownRouter) { try sweeper().users(routerID: 99) }
        router.failNext["list"] = .unreachable("refused")
        #expect(throws: AccessSweeper.Failure.router(.unreachable("refused"))) { try sweeper().users(routerID: Self.routerID) }
    }

    @Test func theOperatorEndsOneOfOursAndNothingElse() throws {
        let access = try sold("ENDNOW")
        router.startSession(user: "ENDNOW")
        let sweeper = sweeper()
        #expect(try sweeper.endUser(named: "ENDNOW", routerID: Self.routerID) == .ended(access, sessions: 1, recorded: true))
        #expect(!present("ENDNOW") && router.sessions.isEmpty && ledger.accesses[access.attemptID]?.endReason == .byOperator)
        #expect(ledger.events.map(\.1) == ["access ended: operator"])

        #expect(try sweeper.endUser(named: "ENDNOW", routerID: Self.routerID) == .noSuchUser)
        router.addUser(name: "guest", comment: "front desk")
        #expect(try sweeper.endUser(named: "guest", routerID: Self.routerID) == .notMadeByProduct(comment: "front desk"))
        let stranger = UUID().uuidString.lowercased()
        router.addUser(name: "ELSEWH", comment: "hotspot-pay:\(stranger)")
        #expect(try sweeper.endUser(named: "ELSEWH", routerID: Self.routerID) == .noAttemptHere(attemptID: stranger))
        let charging = try sold("CHARGE", state: .charging)
        #expect(try sweeper.endUser(named: "CHARGE", routerID: Self.routerID) == .unfinished(charging))
        #expect(["guest", "ELSEWH", "CHARGE"].allSatisfy(present) && router.calls["delete"] == 1)

        // Ended already (by the sweep): the user goes, the first end stands.
        let twice = try sold("TWICE2", state: .revoked)
        ledger.accesses[twice.attemptID]?.endedAt = now
        ledger.accesses[twice.attemptID]?.endReason = .revoked
        guard case .ended(_, _, let recorded) = try sweeper.endUser(named: "TWICE2", routerID: Self.routerID) else {
            Issue.record("TWICE2 was not ended")
            return
        }
        #expect(!recorded && !present("TWICE2") && ledger.accesses[twice.attemptID]?.endReason == .revoked)
    }
}
