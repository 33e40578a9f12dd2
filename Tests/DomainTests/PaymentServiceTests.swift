import Domain
import TestSupport
import Testing

@Suite struct PaymentServiceTests {
    let router = InMemoryHotspotUserDirectory()
    let gateway = ScriptedPaymentGateway()
    let ledger = InMemoryPaymentLedger()
    let grant = AccessGrant(keyID: "key_1", company: Company(id: 1, name: "Café"), router: Router(id: 7, companyID: 1, name: "R"))
    let product = Product(
        id: 3, companyID: 1, routerID: 7, name: "1 Hora", price: Money(cents: 1500, currency: "MXN"), profileName: "1hora")

    func service(settings: PaymentService.Settings = .init(), clock: any WallClock = FixedClock()) -> PaymentService {
        let router = self.router
        return PaymentService(
            ledger: ledger, gateway: gateway, rendering: StubPaymentRendering(), clock: clock, settings: settings, owner: "test",
            fingerprint: { "fp(\($0))" },
            routerAccess: { (_: Int64) throws(StoreFailure) in .init(directory: router, quick: router, hotspotServer: "hotspot1") },
            gatewayKey: { (_: Int64) throws(StoreFailure) in GatewayKey(privateKey: "key_x") })
    }

    func request(token: String = "tok_1") -> PaymentRequest {
        PaymentRequest(productID: 3, cardToken: token, customerName: "Ana", customerEmail: "ana@example.com")
    }

    func paid(_ id: String) -> ChargeOutcome { .paid(PaidOrder(orderID: id, amount: Money(cents: 1500, currency: "MXN"))) }

    @Test func paysOnceAndReplaysByteForByte() throws {
        gateway.outcomes = [paid("ord_1")]
        let first = try service().pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(first.response.status == 200)
        let user = try #require(router.users.values.first?.user)
        #expect(!user.disabled && user.comment.hasPrefix("hotspot-pay:") && user.server == "hotspot1")
        let replay = try service().pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(replay.response == first.response)
        #expect(gateway.charges == 1 && router.users.count == 1)
        #expect(ledger.events.map(\.1) == [.pending, .charging, .paid, .delivered])
        #expect(ledger.concluded == 1)
    }

    /// Version 7 UUIDs: the creation's Unix milliseconds first, so attempts made later sort later
    /// (the ledger's indexes on ids grow at one end), then the version and variant, then random.
    @Test func attemptIDsAreTimeOrderedUUIDs() throws {
        let clock = ManualClock()
        let service = service(clock: clock)
        var ids: [String] = []
        for number in 0..<3 {
            gateway.outcomes = [paid("ord_t\(number)")]
            let outcome = try service.pay(
                request(token: "tok_t\(number)"), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
            ids.append(try #require(outcome.attemptID))
            clock.advance(seconds: 1)
        }
        #expect(ids == ids.sorted() && Set(ids).count == 3)
        let digits = ids.map { Array($0.filter { $0 != "-" }) }
        #expect(UInt64(String(digits[0][0..<12]), radix: 16) == 1_700_000_000_000)
        for id in digits {
            #expect(id.count == 32 && id[12] == "7" && "89ab".contains(id[16]))
            #expect(id.allSatisfy { $0.isNumber || ("a"..."f").contains($0) })
        }
        #expect(ids.allSatisfy { $0.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12] })
    }

    @Test func aLostLastWriteAnswersFromTheCommittedStateAndTheReconcilerDelivers() throws {
        let service = service()
        gateway.outcomes = [paid("ord_3")]
        ledger.failConclude = true
        let first = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(first.response.codigo == "inVerification")
        let attemptID = try #require(first.attemptID)
        let attempt = try #require(ledger.attempts[attemptID])
        #expect(attempt.state == .paid && ledger.responses[attempt.id] == nil && !ledger.leased.contains(attempt.id))
        ledger.failConclude = false
        #expect(try service.reconcile().map(\.response.status) == [200])
        #expect(ledger.attempts[attempt.id]?.state == .delivered && ledger.responses[attempt.id]?.status == 200)
        #expect(gateway.charges == 1 && router.users.values.first?.user.disabled == false)
    }

    @Test func aCleanUpLaterReportsTheAnswerTheCustomerGot() throws {
        let service = service()
        gateway.outcomes = [.declined(code: "card_declined", message: "x", orderID: "ord_d")]
        router.failNext["delete"] = .timedOut(maybeApplied: false)
        let declined = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(declined.codigo == declined.response.codigo && declined.state == .declining)
        let attemptID = try #require(declined.attemptID)
        let reconciled = try #require(try service.reconcile(attemptID: attemptID))
        // This run renders no answer of its own: the customer's 402 stays the attempt's outcome.
        #expect(reconciled.state == .declined && reconciled.codigo == declined.response.codigo)
        #expect(ledger.responses[attemptID] == declined.response && router.users.isEmpty)
        #expect(try service.reconcile(attemptID: attemptID) == nil)
    }

    @Test func anOrderIsLookedForFromItsChargeToTheGatewaysTimeoutWidenedByClockSkew() throws {
        var settings = PaymentService.Settings()
        settings.chargeTimeoutSeconds = 15
        settings.orderClockSkewSeconds = 60
        settings.lookupGraceSeconds = 0
        let service = service(settings: settings)
        gateway.outcomes = [.unknown(reason: "timeout")]
        gateway.unprovable = true
        let first = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(first.codigo == "inVerification" && first.state == .charging && first.warning == nil)
        let now: Int64 = 1_700_000_000
        #expect(gateway.windows == [(now - 60)...(now + 15 + 60)])
        // The reconciler, past the grace, cannot show there is no order: not charged, with a warning.
        let attemptID = try #require(first.attemptID)
        let reconciled = try #require(try service.reconcile(attemptID: attemptID))
        #expect(reconciled.state == .declined && reconciled.warning?.contains("without proof") == true)
        #expect(router.users.isEmpty && gateway.charges == 1)
    }

    @Test func aDeliveryIsCommittedBeforeItsAutoConnectIsTried() throws {
        let service = service()
        gateway.outcomes = [paid("ord_ac")]
        ledger.failConclude = true
        var wanting = request()
        wanting.mac = MACAddress("AA:BB:CC:00:00:07")
        wanting.autoConnect = true
        let answer = try service.pay(wanting, grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        // The last write was lost, but the delivery itself was committed first: the receipt stands.
        #expect(answer.response.status == 200)
        let attemptID = try #require(answer.attemptID)
        #expect(ledger.attempts[attemptID]?.state == .delivered && ledger.responses[attemptID] == nil)
        #expect(ledger.events.map(\.1) == [.pending, .charging, .paid, .delivered])
        // A retry of the request gets the receipt, and from then on it is stored.
        ledger.failConclude = false
        let retry = try service.pay(wanting, grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(retry.response.status == 200 && retry.attemptID == attemptID)
        #expect(ledger.responses[attemptID]?.status == 200 && gateway.charges == 1)
    }

    @Test func aProfileFoundByExactNameIsTrustedForAWhile() throws {
        let cached = service()
        for token in ["tok_1", "tok_2", "tok_3"] {
            gateway.outcomes = [paid("ord_\(token)")]
            #expect(
                try cached.pay(request(token: token), grant: grant, product: product, idempotencyKey: nil, requestID: nil).response.status
                    == 200)
        }
        #expect(router.profileLookups == 1)
        var settings = PaymentService.Settings()
        settings.profileCheckSeconds = 0
        let uncached = service(settings: settings)
        for token in ["tok_4", "tok_5"] {
            gateway.outcomes = [paid("ord_\(token)")]
            #expect(
                try uncached.pay(request(token: token), grant: grant, product: product, idempotencyKey: nil, requestID: nil).response.status
                    == 200)
        }
        #expect(router.profileLookups == 3)
    }

    @Test func aUserTheRouterBindsToAnotherProfileIsRemovedUncharged() throws {
        let service = service()
        gateway.outcomes = [paid("ord_1")]
        #expect(
            try service.pay(request(token: "tok_1"), grant: grant, product: product, idempotencyKey: nil, requestID: nil).response.status
                == 200)
        // The profile was renamed on the router; "1hora" is now a prefix of "1hora-promo".
        router.bindsInstead["1hora"] = "1hora-promo"
        let refused = try service.pay(request(token: "tok_2"), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(refused.response.codigo == "profileUnavailable")
        #expect(gateway.charges == 1 && router.users.count == 1)
        #expect(ledger.attempts[try #require(refused.attemptID)]?.state == .failed)
        // The cached check was dropped: the next payment looks the profile up again.
        router.profiles = []
        let next = try service.pay(request(token: "tok_3"), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(next.response.codigo == "profileUnavailable")
        #expect(router.profileLookups == 2 && gateway.charges == 1)
    }

    @Test func sameKeyDifferentRequestIsAConflict() throws {
        gateway.outcomes = [paid("ord_1")]
        _ = try service().pay(request(), grant: grant, product: product, idempotencyKey: "k1", requestID: nil)
        let other = try service().pay(request(token: "tok_2"), grant: grant, product: product, idempotencyKey: "k1", requestID: nil)
        #expect(other.response.codigo == "idempotencyConflict")
        #expect(gateway.charges == 1)
    }

    @Test func declineLeavesNoUserAndNoAccess() throws {
        gateway.outcomes = [.declined(code: "card_declined", message: "No", orderID: nil)]
        let outcome = try service().pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(outcome.response.codigo == "\(PaymentResult.declined(.byBank))")
        #expect(router.users.isEmpty)
        #expect(ledger.attempts.values.first?.state == .declined)
    }

    @Test func lostChargeReplyIsReconciledAndTheRetryGetsTheReceipt() throws {
        // The charge went through but its reply was lost, and the immediate lookup failed too.
        gateway.outcomes = [.unknown(reason: "connection lost")]
        gateway.orders["ord_9"] = nil
        let service = service()
        let first = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(first.response.codigo == "inVerification")
        #expect(router.users.values.first?.user.disabled == true)
        let attempt = try #require(ledger.attempts.values.first)
        gateway.orders["ord_9"] = GatewayOrder(id: "ord_9", status: .paid, amount: attempt.amount, attemptID: attempt.id)
        let reconciled = try service.reconcile()
        #expect(reconciled.map(\.response.status) == [200])
        #expect(router.users.values.first?.user.disabled == false)
        let retry = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(retry.response == reconciled[0].response)
        #expect(gateway.charges == 1)
    }

    @Test func databaseLostMidFlowStopsBeforeTheNextSideEffect() throws {
        let service = service()
        gateway.outcomes = [paid("ord_2")]
        router.failNext["set"] = .timedOut(maybeApplied: false)
        let first = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(first.response.codigo == "activationPending")
        #expect(router.users.values.first?.user.disabled == true)
        ledger.down = true
        #expect(throws: StoreFailure.unavailable) { try service.reconcile() }
        #expect(router.users.values.first?.user.disabled == true)
        ledger.down = false
        #expect(try service.reconcile().map(\.response.status) == [200])
        #expect(router.users.values.first?.user.disabled == false)
    }

    @Test func cardTestingIsStoppedPerDeviceWhileOthersKeepPaying() throws {
        let service = service()
        let mac = MACAddress("AA:BB:CC:00:00:01")
        for index in 0..<3 {
            gateway.outcomes = [.declined(code: "card_declined", message: "", orderID: nil)]
            var declined = request(token: "tok_bad_\(index)")
            declined.mac = mac
            #expect(try service.pay(declined, grant: grant, product: product, idempotencyKey: nil, requestID: nil).response.status == 500)
        }
        var next = request(token: "tok_good")
        next.mac = mac
        let refused = try service.pay(next, grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(refused.response.codigo == "tooManyAttempts")
        #expect(gateway.charges == 3)
        #expect(ledger.attempts[refused.attemptID!]?.state == .failed)
        gateway.outcomes = [paid("ord_ok")]
        var other = request(token: "tok_other")
        other.mac = MACAddress("AA:BB:CC:00:00:02")
        #expect(try service.pay(other, grant: grant, product: product, idempotencyKey: nil, requestID: nil).response.status == 200)
    }

    @Test func aCreateSentTwiceIsRecognisedAsOursAndChargedOnce() throws {
        router.resendNextCreate = true
        gateway.outcomes = [paid("ord_9")]
        let outcome = try service().pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(outcome.response.status == 200)
        #expect(router.users.count == 1 && router.users.values.first?.user.disabled == false)
        #expect(gateway.charges == 1)
    }

    @Test func routerDownAtCreateChargesNothing() throws {
        router.failNext["create"] = .unreachable("refused")
        let outcome = try service().pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(outcome.response.codigo == "routerUnavailable")
        #expect(gateway.charges == 0)
        #expect(ledger.attempts.values.first?.state == .failed)
    }

    @Test func undeliverablePaymentIsRefundedAfterTheDeadline() throws {
        gateway.outcomes = [paid("ord_3")]
        router.failNext["set"] = .unreachable("down")
        var settings = PaymentService.Settings()
        settings.activationDeadlineSeconds = 0
        let router = self.router
        let service = PaymentService(
            ledger: ledger, gateway: gateway, rendering: StubPaymentRendering(), clock: FixedClock(), settings: settings, owner: "t",
            fingerprint: { $0 },
            routerAccess: { (_: Int64) throws(StoreFailure) in .init(directory: router, quick: router, hotspotServer: "all") },
            gatewayKey: { (_: Int64) throws(StoreFailure) in GatewayKey(privateKey: "k") })
        _ = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        router.failNext["set"] = .unreachable("still down")
        _ = try service.reconcile()
        #expect(gateway.orders["ord_3"]?.status == .refunded)
        #expect(router.users.isEmpty)
        #expect(ledger.attempts.values.first?.state == .refunded)
    }

    // MARK: After the request (CONTRACT §10)

    /// A purchase delivered through `pay`, its user logged in on the router.
    func delivered(_ orderID: String = "ord_r") throws -> (attempt: PaymentAttempt, user: HotspotUser) {
        gateway.outcomes = [paid(orderID)]
        let answer = try service().pay(
            request(token: "tok_\(orderID)"), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(answer.response.status == 200)
        let attemptID = try #require(answer.attemptID)
        let attempt = try #require(ledger.attempts[attemptID])
        let userID = try #require(attempt.routerUserID)
        let user = try #require(router.users[userID]?.user)
        router.startSession(user: user.name)
        return (attempt, user)
    }

    func report(_ attempt: PaymentAttempt, _ status: GatewayOrder.Status, refunded: Int64 = 1500) -> GatewayOrder {
        GatewayOrder(
            id: attempt.orderID ?? "ord_x", status: status, amount: attempt.amount, amountRefundedCents: refunded,
            attemptID: attempt.id)
    }

    @Test func aRefundReportedAfterDeliveryRevokesTheAccessOnce() throws {
        let (attempt, user) = try delivered()
        let receipt = try #require(ledger.responses[attempt.id])
        let outcome = try #require(try service().applyOrderReport(report(attempt, .refunded), attemptID: attempt.id))
        #expect(outcome.state == .revoked && outcome.attemptID == attempt.id && !outcome.heldElsewhere)
        #expect(router.users[user.id]?.user.disabled == true && router.sessions.isEmpty)
        #expect(ledger.events.filter { $0.0 == attempt.id }.map(\.1) == [.pending, .charging, .paid, .delivered, .revoking, .revoked])
        #expect(ledger.attempts[attempt.id]?.reason?.contains("access revoked") == true)
        // The customer's stored answer stays the receipt; the attempt is let go.
        #expect(ledger.responses[attempt.id] == receipt && !ledger.leased.contains(attempt.id))
        // I7: the same report, or a chargeback after the refund, changes nothing.
        let events = ledger.events.count
        #expect(try service().applyOrderReport(report(attempt, .refunded), attemptID: attempt.id) == nil)
        #expect(try service().applyOrderReport(report(attempt, .chargedBack, refunded: 0), attemptID: attempt.id) == nil)
        #expect(ledger.events.count == events && ledger.attempts[attempt.id]?.state == .revoked)
        #expect(!ledger.leased.contains(attempt.id) && gateway.charges == 1)
    }

    @Test func aRevocationTheRouterRefusesIsFinishedByTheReconciler() throws {
        let (attempt, user) = try delivered()
        router.failNext["set"] = .unreachable("refused")
        let suspended = try #require(try service().applyOrderReport(report(attempt, .chargedBack, refunded: 0), attemptID: attempt.id))
        #expect(suspended.state == .revoking && suspended.reason?.contains("will retry") == true)
        #expect(router.users[user.id]?.user.disabled == false && router.sessions.count == 1)
        #expect(!ledger.leased.contains(attempt.id))
        // Reopened: the reconciler finds it unfinished and finishes it; the session goes too.
        router.failNext["end"] = .timedOut(maybeApplied: false)
        #expect(try service().reconcile().map(\.state) == [.revoking])
        #expect(router.users[user.id]?.user.disabled == true && router.sessions.count == 1)
        #expect(try service().reconcile().map(\.state) == [.revoked])
        #expect(router.sessions.isEmpty && ledger.attempts[attempt.id]?.state == .revoked)
        #expect(try service().reconcile().isEmpty)
    }

    @Test func aRevocationFindsItsUserByNameAndEndsOnlyItsOwnSessions() throws {
        let (attempt, user) = try delivered()
        // The recorded id no longer names the user (the router renumbered it); a namesake on
        // another hotspot server is someone else's.
        router.users["*99"] = (
            HotspotUser(
                id: "*99", name: user.name, profile: user.profile, server: user.server, disabled: false, comment: user.comment), "x"
        )
        router.users[user.id] = nil
        router.startSession(user: user.name, server: "hotspot2")
        let outcome = try service().applyOrderReport(report(attempt, .refunded), attemptID: attempt.id)
        #expect(outcome?.state == .revoked && router.users["*99"]?.user.disabled == true)
        #expect(router.sessions.values.map(\.server) == ["hotspot2"])
        // Gone altogether: nothing to disable, the sessions are still ended.
        let (other, otherUser) = try delivered("ord_s")
        router.users[otherUser.id] = nil
        #expect(try service().applyOrderReport(report(other, .refunded), attemptID: other.id)?.state == .revoked)
        #expect(router.sessions.values.map(\.server) == ["hotspot2"])
    }

    @Test func aReportOfAnotherOrderOrAnAttemptHeldElsewhereDoesNothing() throws {
        let (attempt, user) = try delivered()
        var foreign = report(attempt, .refunded)
        foreign.amount = Money(cents: 1499, currency: "MXN")
        #expect(try service().applyOrderReport(foreign, attemptID: attempt.id) == nil)
        foreign = report(attempt, .refunded)
        foreign.attemptID = "another"
        #expect(try service().applyOrderReport(foreign, attemptID: attempt.id) == nil)
        #expect(!ledger.leased.contains(attempt.id) && ledger.attempts[attempt.id]?.state == .delivered)
        ledger.leased.insert(attempt.id)
        let held = try #require(try service().applyOrderReport(report(attempt, .refunded), attemptID: attempt.id))
        #expect(held.heldElsewhere && held.state == nil && ledger.attempts[attempt.id]?.state == .delivered)
        #expect(router.users[user.id]?.user.disabled == false)
        ledger.down = true
        #expect(throws: StoreFailure.unavailable) { try service().applyOrderReport(report(attempt, .refunded), attemptID: attempt.id) }
    }

    @Test func anOrderPaidAfterItsDeclineIsRefunded() throws {
        gateway.outcomes = [.declined(code: "card_declined", message: "x", orderID: "ord_l")]
        let declined = try service().pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        let attemptID = try #require(declined.attemptID)
        let attempt = try #require(ledger.attempts[attemptID])
        #expect(attempt.state == .declined && router.users.isEmpty)
        // A 3-D Secure challenge completed after the 402: the order is paid after all.
        gateway.orders["ord_l"] = GatewayOrder(id: "ord_l", status: .paid, amount: attempt.amount, attemptID: attempt.id)
        let outcome = try #require(try service().applyOrderReport(report(attempt, .paid, refunded: 0), attemptID: attempt.id))
        #expect(outcome.state == .refunded && gateway.orders["ord_l"]?.status == .refunded)
        #expect(ledger.events.filter { $0.0 == attempt.id }.map(\.1).suffix(3) == [.declined, .refunding, .refunded])
        // The customer keeps the answer they were given.
        #expect(ledger.responses[attempt.id] == declined.response && outcome.codigo == declined.response.codigo)
        #expect(try service().applyOrderReport(report(attempt, .refunded), attemptID: attempt.id) == nil)
    }
}
