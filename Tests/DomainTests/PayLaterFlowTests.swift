import Domain
import Testing

/// The pay-later path of the saga (CONTRACT §12) one event per line: no router user before the
/// money, a user created enabled once it arrives, `expired` with nothing on the router.
@Suite struct PayLaterFlowTests {
    static let money = Money(cents: 1500, currency: "MXN")
    static let oxxo = PayLaterCharge(
        method: .oxxo, instructions: PaymentInstructions(reference: "93000262280678", barcodeURL: "https://b/1.png"),
        expiresAt: 1_700_014_400)

    func order(_ id: String, _ status: GatewayOrder.Status, refunded: Int64 = 0, payLater: PayLaterCharge? = oxxo) -> GatewayOrder {
        GatewayOrder(id: id, status: status, amount: Self.money, amountRefundedCents: refunded, payLater: payLater)
    }

    /// A new OXXO request about to send its order.
    func ordering(_ method: PaymentMethod = .oxxo) throws -> PaymentFlow {
        var flow = PaymentFlow(method: method)
        #expect(try flow.start() == .checkProfile)
        #expect(try flow.profileChecked(exists: true) == .charge)
        return flow
    }

    /// A recorded pay-later attempt, as the reconciler or a webhook picks it up.
    func resumed(
        _ state: PaymentAttempt.State, order: String? = "ord_1", user: String? = nil, age: Int64 = 10, expiresIn: Int64 = 14_400
    ) -> PaymentFlow? {
        var attempt = PaymentAttempt(
            id: "a1", companyID: 1, routerID: 1, productID: 1, apiKeyID: nil, idempotencyKey: "k", requestHash: "h", state: state,
            amount: Self.money, productName: "1 Hora", profileName: "1hora", limitUptime: nil, limitBytesTotal: nil,
            customerName: "Ana", customerEmail: "ana@example.com", customerPhone: nil, userType: .userAndPassword,
            credentials: HotspotCredentials(username: "ABC234", password: "1234"), mac: nil, ip: nil, autoConnect: false,
            createdAt: 1_700_000_000, method: .oxxo, payLaterExpiresAt: 1_700_000_000 + expiresIn)
        attempt.orderID = order
        attempt.routerUserID = user
        return PaymentFlow(resuming: attempt, ageSeconds: age, activationDeadlineSeconds: 600, payLaterGraceSeconds: 3_600)
    }

    @Test func anOrderIsMadeWithNoRouterUserAndTheCustomerIsToldHowToPay() throws {
        var flow = try ordering()
        #expect(flow.state == .charging(.init()))
        #expect(try flow.chargeCompleted(.awaitingPayment(orderID: "ord_1", charge: Self.oxxo)) == .respond(.awaitingPayment))
        #expect(flow.state == .awaitingPayment(.init(orderID: "ord_1")))
        #expect(flow.routerUserID == nil && flow.orderID == "ord_1")
    }

    @Test func theRouterIsNotNeededToOrder() throws {
        var flow = PaymentFlow(method: .spei)
        _ = try flow.start()
        #expect(try flow.profileCheckFailed(.unreachable("refused")) == .charge)
        #expect(flow.state.recorded == .charging)
        var missing = PaymentFlow(method: .spei)
        _ = try missing.start()
        #expect(try missing.profileChecked(exists: false) == .respond(.profileUnavailable))
        #expect(missing.state == .failed)
    }

    @Test func anOrderRefusedOrWithoutAReferenceEndsWithoutTouchingTheRouter() throws {
        var refused = try ordering()
        #expect(try refused.chargeCompleted(.invalidRequest(param: "currency", message: "x")) == .respond(.notCompleted(status: nil)))
        #expect(refused.state == .declined)
        var misconfigured = try ordering()
        #expect(try misconfigured.chargeCompleted(.configurationError(reason: "401")) == .respond(.paymentsUnavailable))
        #expect(misconfigured.state == .failed)
        var unusable = try ordering()
        let noReference = PayLaterCharge(method: .oxxo, instructions: PaymentInstructions(), expiresAt: nil)
        #expect(try unusable.chargeCompleted(.awaitingPayment(orderID: "ord_2", charge: noReference)) == .fetchOrder(id: "ord_2"))
        #expect(try unusable.orderFetched(order("ord_2", .pendingPayment, payLater: noReference)) == .cancelOrder(id: "ord_2"))
        #expect(try unusable.orderCancelled() == .respond(.notCompleted(status: nil)))
        #expect(unusable.state == .declined)
    }

    @Test func aLostReplyIsLookedUpAndFoundWaiting() throws {
        var flow = try ordering()
        #expect(try flow.chargeCompleted(.unknown(reason: "timed out")) == .findOrder)
        #expect(try flow.orderLookedUp(nil, ageSeconds: 1, lookupGraceSeconds: 120) == .suspend(.inVerification))
        #expect(
            try flow.orderLookedUp(order("ord_1", .pendingPayment), ageSeconds: 5, lookupGraceSeconds: 120) == .respond(.awaitingPayment))
        #expect(flow.state == .awaitingPayment(.init(orderID: "ord_1")))
    }

    @Test func aLostReplyWithNoOrderAfterTheGraceIsNotChargedAndTouchesNoRouter() throws {
        var flow = try #require(resumed(.charging, order: nil, age: 500))
        #expect(try flow.resume() == .findOrder)
        #expect(try flow.orderLookedUp(nil, ageSeconds: 500, lookupGraceSeconds: 120) == .respond(.notCompleted(status: nil)))
        #expect(flow.state == .declined)
    }

    @Test func aLostReplyFoundPaidOrExpiredGoesWhereTheOrderIs() throws {
        var paid = try ordering()
        _ = try paid.chargeCompleted(.unknown(reason: "http_502"))
        #expect(try paid.orderLookedUp(order("ord_1", .paid), ageSeconds: 5, lookupGraceSeconds: 120) == .checkProfile)
        #expect(paid.state == .provisioning(.init(orderID: "ord_1")))
        var expired = try ordering()
        _ = try expired.chargeCompleted(.unknown(reason: "http_502"))
        #expect(try expired.orderLookedUp(order("ord_1", .expired), ageSeconds: 5, lookupGraceSeconds: 120) == .respond(.expired))
        #expect(expired.state == .expired)
    }

    @Test func waitingTheOrderIsPolledAndAPaidOneGetsAnEnabledUser() throws {
        var flow = try #require(resumed(.awaitingPayment))
        #expect(try flow.resume() == .fetchOrder(id: "ord_1"))
        #expect(try flow.orderFetched(order("ord_1", .pendingPayment)) == .suspend(.awaitingPayment))
        #expect(flow.state == .awaitingPayment(.init(orderID: "ord_1")))
        #expect(try flow.orderFetched(order("ord_1", .paid)) == .checkProfile)
        #expect(flow.state == .provisioning(.init(orderID: "ord_1")))
        #expect(try flow.profileChecked(exists: true) == .provisionUser(renewCredentials: false))
        #expect(try flow.userCreated(id: "*1", profileMatches: true) == .respond(.delivered))
        #expect(flow.state == .delivered(orderID: "ord_1"))
        #expect(flow.reason == "hotspot user created enabled")
    }

    @Test func aWebhookOfThePaymentDeliversAndOneOfAPendingOrderDoesNothing() throws {
        var flow = try #require(resumed(.awaitingPayment))
        #expect(try flow.orderReported(order("ord_1", .pendingPayment)) == nil)
        #expect(try flow.orderReported(order("ord_1", .paid)) == .checkProfile)
        #expect(flow.state.recorded == .provisioning)
        var again = try #require(resumed(.provisioning))
        #expect(try again.orderReported(order("ord_1", .paid)) == nil)
    }

    @Test func anExpiredOrCancelledOrderEndsExpiredWithNothingOnTheRouter() throws {
        var expired = try #require(resumed(.awaitingPayment))
        #expect(try expired.orderReported(order("ord_1", .expired)) == .respond(.expired))
        #expect(expired.state == .expired)
        var cancelled = try #require(resumed(.awaitingPayment))
        #expect(try cancelled.orderFetched(order("ord_1", .canceled)) == .respond(.expired))
        #expect(cancelled.state == .expired)
        var final = try #require(resumed(.expired))
        #expect(throws: PaymentFlow.InvalidEvent.self) { try final.resume() }
    }

    @Test func neverExpiredByTheClockAlonePastTheGraceItIsCancelledThenReadAgain() throws {
        // Expired two hours ago, one hour of grace: the order still takes money.
        var flow = try #require(resumed(.awaitingPayment, age: 14_400 + 7_200))
        #expect(flow.state == .awaitingPayment(.init(orderID: "ord_1", cancelDue: true)))
        #expect(try flow.resume() == .fetchOrder(id: "ord_1"))
        #expect(try flow.orderFetched(order("ord_1", .pendingPayment)) == .cancelOrder(id: "ord_1"))
        #expect(try flow.orderCancelled() == .fetchOrder(id: "ord_1"))
        #expect(try flow.orderFetched(order("ord_1", .canceled)) == .respond(.expired))
        #expect(flow.state == .expired)
    }

    @Test func withinTheGraceAnExpiredReferenceIsOnlyWaitedFor() throws {
        var flow = try #require(resumed(.awaitingPayment, age: 14_400 + 1_800))
        #expect(flow.state == .awaitingPayment(.init(orderID: "ord_1")))
        #expect(try flow.orderFetched(order("ord_1", .pendingPayment)) == .suspend(.awaitingPayment))
    }

    @Test func moneyThatCameInBeforeTheCancelWins() throws {
        var refused = try #require(resumed(.awaitingPayment, age: 20_000))
        _ = try refused.resume()
        #expect(try refused.orderFetched(order("ord_1", .pendingPayment)) == .cancelOrder(id: "ord_1"))
        #expect(try refused.orderCancelFailed(.rejected(code: "order.cannot_be_canceled", message: "paid")) == .fetchOrder(id: "ord_1"))
        #expect(try refused.orderFetched(order("ord_1", .paid)) == .checkProfile)
        #expect(refused.state.recorded == .provisioning)
        var raced = try #require(resumed(.awaitingPayment, age: 20_000))
        _ = try raced.orderFetched(order("ord_1", .pendingPayment))
        #expect(try raced.orderCancelled() == .fetchOrder(id: "ord_1"))
        #expect(try raced.orderFetched(order("ord_1", .paid)) == .checkProfile)
    }

    @Test func aCancelThatDoesNotTakeIsTriedAgainLater() throws {
        var flow = try #require(resumed(.awaitingPayment, age: 20_000))
        _ = try flow.orderFetched(order("ord_1", .pendingPayment))
        #expect(try flow.orderCancelFailed(.unavailable("503")) == .suspend(.awaitingPayment))
        #expect(flow.state.recorded == .awaitingPayment)
        var stuck = try #require(resumed(.awaitingPayment, age: 20_000))
        _ = try stuck.orderFetched(order("ord_1", .pendingPayment))
        _ = try stuck.orderCancelled()
        #expect(try stuck.orderFetched(order("ord_1", .pendingPayment)) == .suspend(.awaitingPayment))
    }

    @Test func anOrderTheGatewayDoesNotKnowIsAskedForAgainUntilPastTheGrace() throws {
        var early = try #require(resumed(.awaitingPayment))
        #expect(try early.orderFetched(nil) == .suspend(.awaitingPayment))
        #expect(try early.orderFetchFailed(.unavailable("timeout")) == .suspend(.awaitingPayment))
        var late = try #require(resumed(.awaitingPayment, age: 20_000))
        #expect(try late.orderFetchFailed(.notFound) == .respond(.expired))
        #expect(late.state == .expired)
    }

    @Test func paidIntoAnExpiredReferenceTheMoneyGoesBack() throws {
        var flow = try #require(resumed(.expired))
        #expect(try flow.orderReported(order("ord_1", .paid)) == .refund(orderID: "ord_1", amountCents: 1500))
        #expect(flow.state == .refunding(.init(orderID: "ord_1", userPossible: false)))
        #expect(flow.reason == "order ord_1 was paid after it expired; refunding")
        #expect(try flow.refunded() == .respond(.refunded))
        #expect(flow.state == .refunded)
    }

    @Test func paidAndGivenBackBeforeTheAccessWasMadeEndsRefundedWithoutTheRouter() throws {
        var flow = try #require(resumed(.awaitingPayment))
        #expect(try flow.orderFetched(order("ord_1", .refunded, refunded: 1500)) == .respond(.refunded))
        #expect(flow.state == .refunded)
    }

    @Test func theRouterDownWhenTheMoneyArrivesKeepsItProvisioningUntilItIsBack() throws {
        var flow = try #require(resumed(.provisioning))
        #expect(try flow.resume() == .lookUpUser)
        #expect(try flow.userLookUpFailed(.unreachable("refused")) == .suspend(.activationPending))
        #expect(flow.state.recorded == .provisioning)
        var back = try #require(resumed(.provisioning))
        _ = try back.resume()
        #expect(try back.userLookedUp(id: nil, ours: false, profileMatches: false) == .checkProfile)
        #expect(try back.profileCheckFailed(.unreachable("refused")) == .suspend(.activationPending))
        #expect(try back.profileChecked(exists: true) == .provisionUser(renewCredentials: false))
        #expect(try back.userCreateFailed(.timedOut(maybeApplied: false)) == .suspend(.activationPending))
        #expect(back.state.recorded == .provisioning)
    }

    @Test func aCreateWhoseReplyWasLostIsFoundByItsComment() throws {
        var flow = try #require(resumed(.provisioning))
        _ = try flow.resume()
        #expect(try flow.userLookedUp(id: nil, ours: false, profileMatches: false) == .checkProfile)
        #expect(try flow.profileChecked(exists: true) == .provisionUser(renewCredentials: false))
        #expect(try flow.userCreateFailed(.timedOut(maybeApplied: true)) == .lookUpUser)
        #expect(try flow.userLookedUp(id: "*7", ours: true, profileMatches: true) == .respond(.delivered))
        #expect(flow.state == .delivered(orderID: "ord_1"))
    }

    @Test func aNameTakenGetsNewCredentialsThenWaits() throws {
        var flow = PaymentFlow(debugState: .provisioning(.init(orderID: "ord_1", profileChecked: true)), method: .oxxo, recovering: true)
        #expect(try flow.userCreateFailed(.duplicateName) == .lookUpUser)
        #expect(try flow.userLookedUp(id: "*9", ours: false, profileMatches: true) == .provisionUser(renewCredentials: true))
        #expect(try flow.userCreateFailed(.duplicateName) == .lookUpUser)
        #expect(try flow.userLookedUp(id: "*9", ours: false, profileMatches: true) == .provisionUser(renewCredentials: true))
        #expect(try flow.userCreateFailed(.duplicateName) == .lookUpUser)
        #expect(try flow.userLookedUp(id: "*9", ours: false, profileMatches: true) == .suspend(.activationPending))
        #expect(flow.state.recorded == .provisioning)
    }

    @Test func aPermanentFailureRefundsThePaidOrder() throws {
        var gone = try #require(resumed(.provisioning))
        _ = try gone.resume()
        _ = try gone.userLookedUp(id: nil, ours: false, profileMatches: false)
        #expect(try gone.profileChecked(exists: false) == .fetchOrder(id: "ord_1"))
        #expect(gone.state == .refunding(.init(orderID: "ord_1")))
        #expect(try gone.orderFetched(order("ord_1", .paid)) == .refund(orderID: "ord_1", amountCents: 1500))
        #expect(try gone.refunded() == .deleteUser)
        #expect(try gone.userDeleted() == .respond(.refunded))
        var removed = try #require(resumed(.provisioning))
        #expect(try removed.routerGone() == .fetchOrder(id: "ord_1"))
        #expect(removed.reason == "the router was removed or disabled before the access was delivered; refunding")
        var refused = PaymentFlow(debugState: .provisioning(.init(orderID: "ord_1", profileChecked: true)), method: .oxxo, recovering: true)
        #expect(try refused.userCreateFailed(.profileNotFound) == .fetchOrder(id: "ord_1"))
        #expect(refused.state.recorded == .refunding)
        var otherProfile = PaymentFlow(debugState: .provisioning(.init(orderID: "ord_1")), method: .oxxo, recovering: true)
        #expect(try otherProfile.userCreated(id: "*3", profileMatches: false) == .fetchOrder(id: "ord_1"))
        #expect(otherProfile.state == .refunding(.init(orderID: "ord_1", routerUserID: "*3")))
    }

    @Test func aRouterRemovedWhileWaitingChangesNothingBeforeTheMoney() throws {
        var flow = try #require(resumed(.awaitingPayment))
        #expect(try flow.routerGone() == .suspend(.awaitingPayment))
        #expect(try flow.dependenciesUnavailable() == .suspend(.awaitingPayment))
        var provisioning = try #require(resumed(.provisioning))
        #expect(try provisioning.dependenciesUnavailable() == .suspend(.activationPending))
    }

    @Test func refundedBeforeItsAccessWasDeliveredTheAccessIsTakenBack() throws {
        var flow = try #require(resumed(.provisioning, user: "*4"))
        #expect(try flow.orderReported(order("ord_1", .refunded, refunded: 1500)) == .disableUser)
        #expect(flow.state == .revoking(.init(orderID: "ord_1", routerUserID: "*4")))
        #expect(try flow.userDisableFailed(.notFound) == .removeSessions)
        #expect(try flow.sessionsRemoved() == .respond(.revoked))
    }

    @Test func aRecordedPendingPayLaterAttemptNeverSentItsOrder() throws {
        var flow = try #require(resumed(.pending, order: nil))
        #expect(try flow.resume() == .respond(.routerUnavailable))
        #expect(flow.state == .failed)
    }

    @Test func aCardFlowIsUnchangedByAPayLaterCharge() throws {
        var flow = PaymentFlow()
        _ = try flow.start()
        _ = try flow.profileChecked(exists: true)
        _ = try flow.userCreated(id: "*1", profileMatches: true)
        #expect(try flow.chargeCompleted(.awaitingPayment(orderID: "ord_9", charge: Self.oxxo)) == .fetchOrder(id: "ord_9"))
        #expect(flow.state.recorded == .declining)
    }
}
