import Domain
import Testing

/// The saga one event per line: what happened → what to do next.
@Suite struct PaymentFlowTests {
    let paid = ChargeOutcome.paid(PaidOrder(orderID: "ord_1", amount: Money(cents: 1500, currency: "MXN")))

    @Test func happyPath() {
        var flow = PaymentFlow()
        #expect(flow.start() == .checkProfile)
        #expect(flow.profileChecked(exists: true) == .createUser)
        #expect(flow.userCreated(profileMatches: true) == .charge)
        #expect(flow.state == .charging)
        #expect(flow.chargeCompleted(paid) == .enableUser)
        #expect(flow.state == .paid)
        #expect(flow.userEnabled() == .respond(.delivered))
        #expect(flow.state == .delivered)
    }

    @Test func aUserBoundToAnotherProfileIsRemovedAndNothingCharged() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        #expect(flow.userCreated(profileMatches: false) == .deleteUser)
        #expect(flow.state == .aborting)
        #expect(flow.userDeleted() == .respond(.profileUnavailable))
        #expect(flow.state == .failed)
    }

    @Test func aLostCreateFoundOnAnotherProfileIsRemoved() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        #expect(flow.userCreateFailed(.timedOut(maybeApplied: true)) == .lookUpUser)
        #expect(flow.userLookedUp(found: true, ours: true, profileMatches: false) == .deleteUser)
        #expect(flow.state == .aborting)
    }

    @Test func declineRemovesTheUser() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        _ = flow.userCreated(profileMatches: true)
        #expect(flow.chargeCompleted(.declined(code: "card_declined", message: "Texto del proveedor", orderID: "ord_2")) == .deleteUser)
        #expect(flow.state == .declining)
        #expect(flow.userDeleted() == .respond(.declined(message: "El pago fue declinado. Contacte a su banco.")))
        #expect(flow.state == .declined)
    }

    @Test func declineWithTheRouterDownAnswersAndLeavesCleanUp() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        _ = flow.userCreated(profileMatches: true)
        _ = flow.chargeCompleted(.declined(code: "conekta.errors.processing.bank.insufficient_funds", message: "No", orderID: nil))
        #expect(
            flow.userDeleteFailed(.unreachable("refused"))
                == .respond(.declined(message: "Fondos insuficientes en la tarjeta. Intente con otra tarjeta.")))
        #expect(flow.state == .declining)
    }

    @Test func threeDSecurePendingCancelsTheOrderThenRemovesTheUser() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        _ = flow.userCreated(profileMatches: true)
        #expect(flow.chargeCompleted(.notPaid(status: "pending_payment", orderID: "ord_3")) == .cancelOrder)
        #expect(flow.orderCancelled() == .deleteUser)
        #expect(flow.userDeleted() == .respond(.notCompleted(status: "pending_payment")))
        #expect(flow.state == .declined)
    }

    @Test func unknownChargeLooksTheOrderUpAndWaitsWhenItIsNotThere() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        _ = flow.userCreated(profileMatches: true)
        #expect(flow.chargeCompleted(.unknown(reason: "timed out")) == .lookUpOrder)
        #expect(flow.orderLookedUp(nil, ageSeconds: 1, lookupGraceSeconds: 120) == .suspend(.inVerification))
        #expect(flow.state == .charging)
    }

    @Test func unknownChargeFoundPaidIsDelivered() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        _ = flow.userCreated(profileMatches: true)
        _ = flow.chargeCompleted(.unknown(reason: "connection lost"))
        let order = GatewayOrder(id: "ord_4", paymentStatus: "paid", amount: Money(cents: 1500, currency: "MXN"))
        #expect(flow.orderLookedUp(order, ageSeconds: 1, lookupGraceSeconds: 120) == .enableUser)
        #expect(flow.state == .paid)
    }

    @Test func usedTokenWithNoOrderOfOursIsADecline() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        _ = flow.userCreated(profileMatches: true)
        #expect(flow.chargeCompleted(.tokenAlreadyUsed) == .lookUpOrder)
        #expect(flow.orderLookedUp(nil, ageSeconds: 0, lookupGraceSeconds: 120) == .deleteUser)
        #expect(flow.state == .declining)
        #expect(flow.answer == .declined(message: PaymentResult.cardNotProcessed))
    }

    @Test func otherUnknownOutcomesWithNoOrderYetAreStillBeingVerified() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        _ = flow.userCreated(profileMatches: true)
        #expect(flow.chargeCompleted(.unknown(reason: "http_504")) == .lookUpOrder)
        #expect(flow.orderLookedUp(nil, ageSeconds: 0, lookupGraceSeconds: 120) == .suspend(.inVerification))
        #expect(flow.state == .charging)
    }

    @Test func enableFailureWaitsWithoutRefunding() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        _ = flow.userCreated(profileMatches: true)
        _ = flow.chargeCompleted(paid)
        #expect(flow.userEnableFailed(.timedOut(maybeApplied: true)) == .suspend(.activationPending))
        #expect(flow.state == .paid)
    }

    @Test func vanishedUserIsRefunded() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        _ = flow.userCreated(profileMatches: true)
        _ = flow.chargeCompleted(paid)
        #expect(flow.userEnableFailed(.notFound) == .refund)
        #expect(flow.refunded() == .deleteUser)
        #expect(flow.userDeleted() == .respond(.refunded))
        #expect(flow.state == .refunded)
    }

    @Test func routerFailuresBeforeChargingChargeNothing() {
        var missing = PaymentFlow()
        _ = missing.start()
        #expect(missing.profileChecked(exists: false) == .respond(.profileUnavailable))
        #expect(missing.state == .failed)

        var down = PaymentFlow()
        _ = down.start()
        #expect(down.profileCheckFailed(.unreachable("refused")) == .respond(.routerUnavailable))

        var refused = PaymentFlow()
        _ = refused.start()
        _ = refused.profileChecked(exists: true)
        #expect(refused.userCreateFailed(.unreachable("refused")) == .respond(.routerUnavailable))
        #expect(refused.state == .failed)
    }

    @Test func createWhoseReplyWasLostIsLookedUp() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        #expect(flow.userCreateFailed(.timedOut(maybeApplied: true)) == .lookUpUser)
        #expect(flow.userLookedUp(found: true, ours: true, profileMatches: true) == .charge)
    }

    @Test func createSentTwiceIsRecognisedByItsComment() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        #expect(flow.userCreateFailed(.duplicateName) == .lookUpUser)
        #expect(flow.userLookedUp(found: true, ours: true, profileMatches: true) == .charge)
    }

    @Test func nameTakenBySomeoneElseGetsNewCredentials() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        #expect(flow.userCreateFailed(.duplicateName) == .lookUpUser)
        #expect(flow.userLookedUp(found: true, ours: false, profileMatches: true) == .renewCredentialsAndCreateUser)
        #expect(flow.userCreateFailed(.duplicateName) == .lookUpUser)
        #expect(flow.userLookedUp(found: true, ours: false, profileMatches: true) == .renewCredentialsAndCreateUser)
        #expect(flow.userCreateFailed(.duplicateName) == .lookUpUser)
        #expect(flow.userLookedUp(found: true, ours: false, profileMatches: true) == .respond(.routerUnavailable))
    }

    @Test func gatewayRefusalsChargeNothingAndRemoveTheUser() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        _ = flow.userCreated(profileMatches: true)
        #expect(flow.chargeCompleted(.configurationError(reason: "401")) == .deleteUser)
        #expect(flow.state == .aborting)
        #expect(flow.userDeleted() == .respond(.paymentsUnavailable))
        #expect(flow.state == .failed)
    }

    @Test func anUnusableTokenIsADeclineToldAndRecordedAsOne() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        _ = flow.userCreated(profileMatches: true)
        #expect(flow.chargeCompleted(.invalidRequest(param: "payment_method.token_id", message: "x")) == .deleteUser)
        #expect(flow.state == .declining)
        #expect(flow.userDeleted() == .respond(.declined(message: PaymentResult.cardNotProcessed)))
        #expect(flow.state == .declined)
    }

    @Test func anOrderThatCannotBeShownAbsentEndsNotChargedOnlyAfterTheGrace() {
        var flow = PaymentFlow(resuming: .charging, routerUserKnown: true, orderKnown: false)
        #expect(flow.resume(routerUserID: "*1", ageSeconds: 10, activationDeadlineSeconds: 600) == .lookUpOrder)
        #expect(flow.orderLookUpFailed(absenceUnproven: true, ageSeconds: 10, lookupGraceSeconds: 120) == .suspend(.inVerification))
        #expect(flow.state == .charging && !flow.absenceUnproven)
        #expect(flow.orderLookUpFailed(ageSeconds: 130, lookupGraceSeconds: 120) == .suspend(.inVerification))
        #expect(flow.orderLookUpFailed(absenceUnproven: true, ageSeconds: 130, lookupGraceSeconds: 120) == .deleteUser)
        #expect(flow.state == .declining && flow.absenceUnproven)
        #expect(flow.userDeleted() == .respond(.notCompleted(status: "not_found")))
        #expect(flow.state == .declined)
    }

    @Test func theRequestItselfNeverDeclaresAnUnprovenAbsence() {
        var flow = PaymentFlow()
        _ = flow.start()
        _ = flow.profileChecked(exists: true)
        _ = flow.userCreated(profileMatches: true)
        #expect(flow.chargeCompleted(.unknown(reason: "timeout")) == .lookUpOrder)
        #expect(flow.orderLookUpFailed(absenceUnproven: true, ageSeconds: 500, lookupGraceSeconds: 120) == .suspend(.inVerification))
        #expect(flow.state == .charging && !flow.absenceUnproven)
    }

    @Test func reconcilerResumesEachUnfinishedState() {
        var pending = PaymentFlow(resuming: .pending, routerUserKnown: false, orderKnown: false)
        #expect(pending.resume(routerUserID: nil, ageSeconds: 100, activationDeadlineSeconds: 600) == .lookUpUser)
        #expect(pending.userLookedUp(found: true, ours: true, profileMatches: true) == .deleteUser)
        #expect(pending.userDeleted() == .respond(.routerUnavailable))
        #expect(pending.state == .failed)

        var charging = PaymentFlow(resuming: .charging, routerUserKnown: true, orderKnown: false)
        #expect(charging.resume(routerUserID: "*1", ageSeconds: 10, activationDeadlineSeconds: 600) == .lookUpOrder)
        #expect(charging.orderLookedUp(nil, ageSeconds: 10, lookupGraceSeconds: 120) == .suspend(.inVerification))
        #expect(charging.orderLookedUp(nil, ageSeconds: 121, lookupGraceSeconds: 120) == .deleteUser)
        #expect(charging.userDeleted() == .respond(.notCompleted(status: "not_found")))

        var paid = PaymentFlow(resuming: .paid, routerUserKnown: true, orderKnown: true)
        #expect(paid.resume(routerUserID: "*1", ageSeconds: 10, activationDeadlineSeconds: 600) == .enableUser)

        var late = PaymentFlow(resuming: .paid, routerUserKnown: true, orderKnown: true)
        #expect(late.resume(routerUserID: "*1", ageSeconds: 601, activationDeadlineSeconds: 600) == .enableUser)
        #expect(late.userEnableFailed(.unreachable("down")) == .refund)
        #expect(late.state == .refunding)

        var lateButReachable = PaymentFlow(resuming: .paid, routerUserKnown: true, orderKnown: true)
        #expect(lateButReachable.resume(routerUserID: "*1", ageSeconds: 601, activationDeadlineSeconds: 600) == .enableUser)
        #expect(lateButReachable.userEnabled() == .respond(.delivered))

        var declining = PaymentFlow(resuming: .declining, routerUserKnown: true, orderKnown: false)
        #expect(declining.resume(routerUserID: "*1", ageSeconds: 10, activationDeadlineSeconds: 600) == .deleteUser)

        var aborting = PaymentFlow(resuming: .aborting, routerUserKnown: false, orderKnown: false)
        #expect(aborting.resume(routerUserID: nil, ageSeconds: 10, activationDeadlineSeconds: 600) == .lookUpUser)
        #expect(aborting.userLookedUp(found: false, ours: false, profileMatches: true) == .respond(.routerUnavailable))
        #expect(aborting.state == .failed)
    }

    @Test func anOrderPaidWhileDecliningIsRefunded() {
        var flow = PaymentFlow(resuming: .declining, routerUserKnown: true, orderKnown: true)
        #expect(flow.resume(routerUserID: "*1", ageSeconds: 30, activationDeadlineSeconds: 600) == .cancelOrder)
        #expect(flow.orderTurnedPaid() == .refund)
        #expect(flow.refunded() == .deleteUser)
        #expect(flow.userDeleted() == .respond(.refunded))
        #expect(flow.state == .refunded)
    }

    @Test func onlyTheCustomersFinalAnswersAreStored() {
        #expect(PaymentResult.delivered.isFinalForCustomer)
        #expect(PaymentResult.declined(message: "x").isFinalForCustomer)
        #expect(!PaymentResult.inVerification.isFinalForCustomer)
        #expect(!PaymentResult.activationPending.isFinalForCustomer)
        #expect(!PaymentResult.inProgress.isFinalForCustomer)
    }
}
