import Domain
import TestSupport
import Testing

/// The payment service's side of the reconciler pool (issue 21 §2): claims shaped per router, a
/// claimed attempt run under its claim's lease, a router that does not answer said so, attempts
/// given back unrun.
@Suite struct ReconcileClaimTests {
    let routers = [Int64(7): InMemoryHotspotUserDirectory(), 8: InMemoryHotspotUserDirectory()]
    let gateway = ScriptedPaymentGateway()
    let ledger = InMemoryPaymentLedger()
    let clock = ManualClock()

    func service(owner: String = "host:1/reconciler-0") -> PaymentService {
        let routers = self.routers
        var settings = PaymentService.Settings()
        settings.leaseSeconds = 60
        return PaymentService(
            ledger: ledger, gateway: gateway, rendering: StubPaymentRendering(), clock: clock, settings: settings, owner: owner,
            fingerprint: { "fp(\($0))" },
            routerAccess: { (id: Int64) throws(StoreFailure) in
                routers[id].map { .init(directory: $0, quick: $0, hotspotServer: "hotspot1") }
            },
            gatewayKey: { (_: Int64) throws(StoreFailure) in GatewayKey(privateKey: "key_x") })
    }

    /// A paid attempt of `router` whose user is still disabled: one router call from delivered.
    @discardableResult
    func paidAttempt(_ id: String, router: Int64) -> PaymentAttempt {
        let user = routers[router]!.addUser(name: "U\(id)", comment: PaymentAttempt.commentPrefix + id, disabled: true)
        var attempt = PaymentAttempt(
            id: id, companyID: 1, routerID: router, productID: 3, apiKeyID: nil, idempotencyKey: "k-\(id)", requestHash: "h",
            state: .paid, amount: Money(cents: 1500, currency: "MXN"), productName: "1 Hora", profileName: "1hora",
            limitUptime: nil, limitBytesTotal: nil, customerName: "Ana", customerEmail: "ana@example.com", customerPhone: nil,
            userType: .userAndPassword, credentials: HotspotCredentials(username: user.name, password: "1234"), mac: nil, ip: nil,
            autoConnect: false, createdAt: clock.nowSeconds)
        attempt.routerUserID = user.id
        attempt.orderID = "ord_\(id)"
        ledger.attempts[id] = attempt
        return attempt
    }

    @Test func aClaimTakesNoMoreOfARouterThanItsAllowance() throws {
        for index in 1...4 { paidAttempt("a\(index)", router: 7) }
        for index in 1...4 { paidAttempt("b\(index)", router: 8) }
        let claimed = try service().claimDue(DueClaim(limit: 10, perRouter: 2, allowances: [8: 1]), owner: "host:1/reconciler#1")
        #expect(claimed.filter { $0.routerID == 7 }.count == 2 && claimed.filter { $0.routerID == 8 }.count == 1)
        #expect(claimed.allSatisfy { $0.owner == "host:1/reconciler#1" })
        #expect(try service().claimDue(DueClaim(limit: 10, allowances: [7: 0]), owner: "o").map(\.routerID) == [8, 8, 8])
    }

    @Test func aClaimedAttemptRunsOnAnotherThreadsServiceUnderItsClaimsLease() throws {
        paidAttempt("a1", router: 7)
        let claimed = try #require(
            try service(owner: "host:1/reconciler-3").claimDue(DueClaim(limit: 1), owner: "host:1/reconciler#5").first)
        // It waited past half its lease before a thread took it: the run renews under the claim's owner.
        clock.advance(seconds: 31)
        let outcome = service(owner: "host:1/reconciler-0").reconcile(claimed)
        #expect(outcome.state == .delivered && !outcome.routerUnanswered)
        #expect(ledger.renewals.map(\.owner) == ["host:1/reconciler#5"])
        #expect(routers[7]!.users.values.first?.user.disabled == false && !ledger.leased.contains("a1"))
    }

    @Test func aClaimTakenOverWhileItWaitedDoesNothing() throws {
        paidAttempt("a1", router: 7)
        let claimed = try #require(try service().claimDue(DueClaim(limit: 1), owner: "host:1/reconciler#1").first)
        clock.advance(seconds: 61)
        ledger.leased.remove("a1")  // the lease ran out, and nobody holds it now
        let outcome = service().reconcile(claimed)
        #expect(outcome.heldElsewhere && ledger.attempts["a1"]?.state == .paid)
        #expect(routers[7]!.calls["set", default: 0] == 0)
    }

    @Test func aRunWhoseRouterDidNotAnswerSaysSoAndARefusalDoesNot() throws {
        paidAttempt("a1", router: 7)
        paidAttempt("b1", router: 8)
        routers[7]!.failNext["set"] = .timedOut(maybeApplied: true)
        routers[8]!.failNext["set"] = .rejected("input does not match")
        let service = service()
        let outcomes = try service.claimDue(DueClaim(limit: 2), owner: "o").map { service.reconcile($0) }
        let byRouter = Dictionary(uniqueKeysWithValues: zip(["a1", "b1"], outcomes.sorted { ($0.attemptID ?? "") < ($1.attemptID ?? "") }))
        #expect(byRouter["a1"]?.routerUnanswered == true && byRouter["a1"]?.state == .paid)
        #expect(byRouter["b1"]?.routerUnanswered == false && byRouter["b1"]?.state == .paid)
        for failure in [RouterFailure.unreachable("refused"), .timedOut(maybeApplied: false), .busy] {
            #expect(failure.isUnanswered)
        }
        for failure in [RouterFailure.notFound, .authenticationFailed, .duplicateName, .rejected("x")] {
            #expect(!failure.isUnanswered)
        }
    }

    @Test func attemptsGivenBackUnrunAreDueAgainWithoutATry() throws {
        paidAttempt("a1", router: 7)
        paidAttempt("a2", router: 7)
        let service = service()
        let claimed = try service.claimDue(DueClaim(limit: 2), owner: "host:1/reconciler#2")
        try service.postpone(claimed, seconds: 4)
        #expect(ledger.postponed == ["a1": 4, "a2": 4] && ledger.leased.isEmpty)
        #expect(ledger.attempts.values.allSatisfy { $0.state == .paid } && ledger.schedules.isEmpty)
    }
}
