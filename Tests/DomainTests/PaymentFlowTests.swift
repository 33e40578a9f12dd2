import Domain
import Testing

/// The saga one event per line: what happened → what to do next, and where the machine stands.
@Suite struct PaymentFlowTests {
    static let money = Money(cents: 1500, currency: "MXN")
    let paid = ChargeOutcome.paid(PaidOrder(orderID: "ord_1", amount: money))

    func order(_ id: String, _ status: GatewayOrder.Status, refunded: Int64 = 0) -> GatewayOrder {
        GatewayOrder(id: id, status: status, amount: Self.money, amountRefundedCents: refunded)
    }

    /// A new request whose user was just created, about to charge.
    func charging() throws -> PaymentFlow {
        var flow = PaymentFlow()
        #expect(try flow.start() == .checkProfile)
        #expect(try flow.profileChecked(exists: true) == .createUser(renewCredentials: false))
        #expect(try flow.userCreated(id: "*1", profileMatches: true) == .charge)
        return flow
    }

    /// A recorded attempt, as the reconciler picks it up.
    func resumed(
        _ state: PaymentAttempt.State, user: String? = "*1", order: String? = nil, age: Int64 = 10, reason: String? = nil
    ) -> PaymentFlow? {
        var attempt = PaymentAttempt(
            id: "a1", companyID: 1, routerID: 1, productID: 1, apiKeyID: nil, idempotencyKey: "k", requestHash: "h", state: state,
            amount: Self.money, productName: "1 Hora", profileName: "1hora", limitUptime: nil, limitBytesTotal: nil,
            customerName: "Ana", customerEmail: "ana@example.com", customerPhone: nil, userType: .userAndPassword,
            credentials: HotspotCredentials(username: "ABC234", password: "1234"), mac: nil, ip: nil, autoConnect: false,
            createdAt: 0)
        attempt.routerUserID = user
        attempt.orderID = order
        attempt.reason = reason
        return PaymentFlow(resuming: attempt, ageSeconds: age, activationDeadlineSeconds: 600)
    }

    @Test func happyPath() throws {
        var flow = try charging()
        #expect(flow.state == .charging(.init(routerUserID: "*1")))
        #expect(try flow.chargeCompleted(paid) == .enableUser)
        #expect(flow.state == .paid(.init(orderID: "ord_1", routerUserID: "*1")))
        #expect(try flow.userEnabled() == .respond(.delivered))
        #expect(flow.state == .delivered(orderID: "ord_1"))
    }

    @Test func anEventThatCannotHappenWhereTheMachineStandsIsAnError() throws {
        var pending = PaymentFlow()
        #expect(throws: PaymentFlow.InvalidEvent(event: "userEnabled", state: .pending)) { try pending.userEnabled() }
        #expect(throws: PaymentFlow.InvalidEvent.self) { try pending.chargeCompleted(paid) }
        #expect(throws: PaymentFlow.InvalidEvent.self) { try pending.refunded() }
        #expect(pending.state == .pending(.init()))
        var delivered = PaymentFlow(debugState: .delivered(orderID: "ord_1"))
        #expect(throws: PaymentFlow.InvalidEvent.self) { try delivered.userDeleted() }
        #expect(throws: PaymentFlow.InvalidEvent.self) { try delivered.orderFetched(nil) }
        var refunding = PaymentFlow(debugState: .refunding(.init(orderID: "ord_1")))
        // The user is removed only once nothing is left to refund.
        #expect(throws: PaymentFlow.InvalidEvent.self) { try refunding.userDeleted() }
        var recorded = try #require(resumed(.charging))
        #expect(throws: PaymentFlow.InvalidEvent.self) { try recorded.chargeCompleted(paid) }
    }

    @Test func withoutItsRouterOrGatewaySettingsARunStopsAndSaysWhatItKnows() throws {
        var pending = PaymentFlow()
        #expect(try pending.dependenciesUnavailable() == .respond(.routerUnavailable))
        #expect(pending.state == .pending(.init()))
        var paid = PaymentFlow(debugState: .paid(.init(orderID: "ord_1")), recovering: true)
        #expect(try paid.dependenciesUnavailable() == .suspend(.inVerification))
        var declined = PaymentFlow(debugState: .declined)
        #expect(throws: PaymentFlow.InvalidEvent.self) { try declined.dependenciesUnavailable() }
    }

    @Test func aUserBoundToAnotherProfileIsRemovedAndNothingCharged() throws {
        var flow = PaymentFlow()
        _ = try flow.start()
        _ = try flow.profileChecked(exists: true)
        #expect(try flow.userCreated(id: "*1", profileMatches: false) == .deleteUser)
        #expect(flow.state == .aborting(.init(routerUserID: "*1", answer: .profileUnavailable)))
        #expect(try flow.userDeleted() == .respond(.profileUnavailable))
        #expect(flow.state == .failed)
    }

    @Test func aLostCreateFoundOnAnotherProfileIsRemoved() throws {
        var flow = PaymentFlow()
        _ = try flow.start()
        _ = try flow.profileChecked(exists: true)
        #expect(try flow.userCreateFailed(.timedOut(maybeApplied: true)) == .lookUpUser)
        #expect(try flow.userLookedUp(id: "*7", ours: true, profileMatches: false) == .deleteUser)
        #expect(flow.state == .aborting(.init(routerUserID: "*7", answer: .profileUnavailable)))
    }

    @Test func declineRemovesTheUser() throws {
        var flow = try charging()
        #expect(try flow.chargeCompleted(.declined(code: "card_declined", message: "Texto del proveedor", orderID: "ord_2")) == .deleteUser)
        #expect(
            flow.state
                == .declining(
                    .init(
                        orderID: "ord_2", routerUserID: "*1", cancelPending: false, answer: .declined(.byBank)
                    )))
        #expect(try flow.userDeleted() == .respond(.declined(.byBank)))
        #expect(flow.state == .declined)
    }

    @Test func declineWithTheRouterDownAnswersAndLeavesCleanUp() throws {
        var flow = try charging()
        _ = try flow.chargeCompleted(.declined(code: "conekta.errors.processing.bank.insufficient_funds", message: "No", orderID: nil))
        #expect(
            try flow.userDeleteFailed(.unreachable("refused"))
                == .respond(.declined(.insufficientFunds)))
        #expect(flow.state.recorded == .declining)
    }

    @Test func threeDSecurePendingCancelsTheOrderThenRemovesTheUser() throws {
        var flow = try charging()
        #expect(try flow.chargeCompleted(.notPaid(status: .pendingPayment, orderID: "ord_3")) == .fetchOrder(id: "ord_3"))
        #expect(try flow.orderFetched(order("ord_3", .pendingPayment)) == .cancelOrder(id: "ord_3"))
        #expect(try flow.orderCancelled() == .deleteUser)
        #expect(try flow.userDeleted() == .respond(.notCompleted(status: .pendingPayment)))
        #expect(flow.state == .declined)
    }

    @Test func anOrderNotPayableIsNotCancelled() throws {
        var flow = try charging()
        #expect(try flow.chargeCompleted(.notPaid(status: .declined, orderID: "ord_3")) == .deleteUser)
        #expect(try flow.userDeleted() == .respond(.notCompleted(status: .declined)))
    }

    @Test func aCancelThatFailsStillRemovesTheUserAndComesBackForTheOrder() throws {
        var flow = PaymentFlow(
            debugState: .declining(.init(orderID: "ord_3", cancelPending: true, answer: .notCompleted(status: .pendingPayment))))
        #expect(try flow.orderCancelFailed(.unavailable("503")) == .deleteUser)
        #expect(try flow.userDeleted() == .suspend(.notCompleted(status: .pendingPayment)))
        #expect(flow.state.recorded == .declining)
        #expect(flow.reason == "could not cancel the unpaid order; will retry")
    }

    @Test func unknownChargeLooksTheOrderUpAndWaitsWhenItIsNotThere() throws {
        var flow = try charging()
        #expect(try flow.chargeCompleted(.unknown(reason: "timed out")) == .findOrder)
        #expect(try flow.orderLookedUp(nil, ageSeconds: 1, lookupGraceSeconds: 120) == .suspend(.inVerification))
        #expect(flow.state.recorded == .charging)
        #expect(flow.reason == "charge outcome unknown: timed out")
    }

    @Test func unknownChargeFoundPaidIsDelivered() throws {
        var flow = try charging()
        _ = try flow.chargeCompleted(.unknown(reason: "connection lost"))
        #expect(try flow.orderLookedUp(order("ord_4", .paid), ageSeconds: 1, lookupGraceSeconds: 120) == .enableUser)
        #expect(flow.state == .paid(.init(orderID: "ord_4", routerUserID: "*1")))
    }

    @Test func unknownChargeFoundPartlyRefundedRefundsTheRest() throws {
        var flow = try charging()
        _ = try flow.chargeCompleted(.unknown(reason: "connection lost"))
        let partly = order("ord_5", .partiallyRefunded, refunded: 500)
        #expect(try flow.orderLookedUp(partly, ageSeconds: 1, lookupGraceSeconds: 120) == .refund(orderID: "ord_5", amountCents: 1000))
        #expect(try flow.refunded() == .deleteUser)
        #expect(try flow.userDeleted() == .respond(.refunded))
        #expect(flow.state == .refunded)
    }

    @Test func usedTokenWithNoOrderOfOursIsADecline() throws {
        var flow = try charging()
        #expect(try flow.chargeCompleted(.tokenAlreadyUsed) == .findOrder)
        #expect(try flow.orderLookedUp(nil, ageSeconds: 0, lookupGraceSeconds: 120) == .deleteUser)
        #expect(
            flow.state
                == .declining(
                    .init(
                        orderID: nil, routerUserID: "*1", cancelPending: false, answer: .declined(.cardNotProcessed)))
        )
    }

    @Test func otherUnknownOutcomesWithNoOrderYetAreStillBeingVerified() throws {
        var flow = try charging()
        #expect(try flow.chargeCompleted(.unknown(reason: "http_504")) == .findOrder)
        #expect(try flow.orderLookedUp(nil, ageSeconds: 0, lookupGraceSeconds: 120) == .suspend(.inVerification))
        #expect(flow.state.recorded == .charging)
    }

    @Test func enableFailureWaitsWithoutRefunding() throws {
        var flow = try charging()
        _ = try flow.chargeCompleted(paid)
        #expect(try flow.userEnableFailed(.timedOut(maybeApplied: true)) == .suspend(.activationPending))
        #expect(flow.state.recorded == .paid)
    }

    @Test func vanishedUserIsRefundedWhatIsLeft() throws {
        var flow = try charging()
        _ = try flow.chargeCompleted(paid)
        #expect(try flow.userEnableFailed(.notFound) == .fetchOrder(id: "ord_1"))
        #expect(try flow.orderFetched(order("ord_1", .paid)) == .refund(orderID: "ord_1", amountCents: 1500))
        #expect(try flow.refunded() == .deleteUser)
        #expect(try flow.userDeleted() == .respond(.refunded))
        #expect(flow.state == .refunded)
    }

    @Test func aRefundAlreadyMadeIsNotMadeAgain() throws {
        var flow = PaymentFlow(debugState: .refunding(.init(orderID: "ord_1", routerUserID: "*1")), recovering: true)
        #expect(try flow.orderFetched(order("ord_1", .refunded, refunded: 1500)) == .deleteUser)
        #expect(try flow.userDeleted() == .respond(.refunded))
    }

    @Test func aRefundThatFailsIsTriedAgainLater() throws {
        var flow = PaymentFlow(debugState: .refunding(.init(orderID: "ord_1")), recovering: true)
        #expect(try flow.orderFetched(order("ord_1", .paid)) == .refund(orderID: "ord_1", amountCents: 1500))
        #expect(try flow.refundFailed() == .suspend(.activationPending))
        #expect(flow.state.recorded == .refunding)
    }

    @Test func routerFailuresBeforeChargingChargeNothing() throws {
        var missing = PaymentFlow()
        _ = try missing.start()
        #expect(try missing.profileChecked(exists: false) == .respond(.profileUnavailable))
        #expect(missing.state == .failed)

        var down = PaymentFlow()
        _ = try down.start()
        #expect(try down.profileCheckFailed(.unreachable("refused")) == .respond(.routerUnavailable))

        var refused = PaymentFlow()
        _ = try refused.start()
        _ = try refused.profileChecked(exists: true)
        #expect(try refused.userCreateFailed(.unreachable("refused")) == .respond(.routerUnavailable))
        #expect(refused.state == .failed)
    }

    @Test func createWhoseReplyWasLostIsLookedUp() throws {
        var flow = PaymentFlow()
        _ = try flow.start()
        _ = try flow.profileChecked(exists: true)
        #expect(try flow.userCreateFailed(.timedOut(maybeApplied: true)) == .lookUpUser)
        #expect(try flow.userLookedUp(id: "*1", ours: true, profileMatches: true) == .charge)
    }

    @Test func createSentTwiceIsRecognisedByItsComment() throws {
        var flow = PaymentFlow()
        _ = try flow.start()
        _ = try flow.profileChecked(exists: true)
        #expect(try flow.userCreateFailed(.duplicateName) == .lookUpUser)
        #expect(try flow.userLookedUp(id: "*1", ours: true, profileMatches: true) == .charge)
    }

    @Test func nameTakenBySomeoneElseGetsNewCredentialsThreeTimes() throws {
        var flow = PaymentFlow()
        _ = try flow.start()
        _ = try flow.profileChecked(exists: true)
        #expect(try flow.userCreateFailed(.duplicateName) == .lookUpUser)
        #expect(try flow.userLookedUp(id: "*9", ours: false, profileMatches: true) == .createUser(renewCredentials: true))
        #expect(try flow.userCreateFailed(.duplicateName) == .lookUpUser)
        #expect(try flow.userLookedUp(id: "*9", ours: false, profileMatches: true) == .createUser(renewCredentials: true))
        #expect(try flow.userCreateFailed(.duplicateName) == .lookUpUser)
        #expect(try flow.userLookedUp(id: "*9", ours: false, profileMatches: true) == .respond(.routerUnavailable))
        #expect(flow.state == .failed)
    }

    @Test func gatewayRefusalsChargeNothingAndRemoveTheUser() throws {
        var flow = try charging()
        #expect(try flow.chargeCompleted(.configurationError(reason: "401")) == .deleteUser)
        #expect(flow.state.recorded == .aborting)
        #expect(try flow.userDeleted() == .respond(.paymentsUnavailable))
        #expect(flow.state == .failed)
    }

    @Test func anUnusableTokenIsADeclineToldAndRecordedAsOne() throws {
        var flow = try charging()
        #expect(try flow.chargeCompleted(.invalidRequest(param: "payment_method.token_id", message: "x")) == .deleteUser)
        #expect(flow.state.recorded == .declining)
        #expect(try flow.userDeleted() == .respond(.declined(.cardNotProcessed)))
        #expect(flow.state == .declined)
    }

    @Test func anOrderThatCannotBeShownAbsentEndsNotChargedOnlyAfterTheGrace() throws {
        var flow = try #require(resumed(.charging))
        #expect(try flow.resume() == .findOrder)
        #expect(try flow.orderLookUpFailed(absenceUnproven: true, ageSeconds: 10, lookupGraceSeconds: 120) == .suspend(.inVerification))
        #expect(flow.state.recorded == .charging && !flow.absenceUnproven)
        #expect(try flow.orderLookUpFailed(ageSeconds: 130, lookupGraceSeconds: 120) == .suspend(.inVerification))
        #expect(try flow.orderLookUpFailed(absenceUnproven: true, ageSeconds: 130, lookupGraceSeconds: 120) == .deleteUser)
        #expect(flow.state.recorded == .declining && flow.absenceUnproven)
        #expect(try flow.userDeleted() == .respond(.notCompleted(status: nil)))
        #expect(flow.state == .declined)
    }

    @Test func theRequestItselfNeverDeclaresAnUnprovenAbsence() throws {
        var flow = try charging()
        #expect(try flow.chargeCompleted(.unknown(reason: "timeout")) == .findOrder)
        #expect(try flow.orderLookUpFailed(absenceUnproven: true, ageSeconds: 500, lookupGraceSeconds: 120) == .suspend(.inVerification))
        #expect(flow.state.recorded == .charging && !flow.absenceUnproven)
    }

    @Test func reconcilerResumesEachUnfinishedState() throws {
        var pending = try #require(resumed(.pending, user: nil))
        #expect(try pending.resume() == .lookUpUser)
        #expect(try pending.userLookedUp(id: "*1", ours: true, profileMatches: true) == .deleteUser)
        #expect(try pending.userDeleted() == .respond(.routerUnavailable))
        #expect(pending.state == .failed)

        var charging = try #require(resumed(.charging))
        #expect(try charging.resume() == .findOrder)
        #expect(try charging.orderLookedUp(nil, ageSeconds: 10, lookupGraceSeconds: 120) == .suspend(.inVerification))
        #expect(try charging.orderLookedUp(nil, ageSeconds: 121, lookupGraceSeconds: 120) == .deleteUser)
        #expect(try charging.userDeleted() == .respond(.notCompleted(status: nil)))

        var chargingWithOrder = try #require(resumed(.charging, order: "ord_8"))
        #expect(try chargingWithOrder.resume() == .fetchOrder(id: "ord_8"))
        #expect(try chargingWithOrder.orderFetched(order("ord_8", .paid)) == .enableUser)

        var paid = try #require(resumed(.paid, order: "ord_1"))
        #expect(try paid.resume() == .enableUser)

        var late = try #require(resumed(.paid, order: "ord_1", age: 601))
        #expect(try late.resume() == .enableUser)
        #expect(try late.userEnableFailed(.unreachable("down")) == .fetchOrder(id: "ord_1"))
        #expect(late.state.recorded == .refunding)

        var lateButReachable = try #require(resumed(.paid, order: "ord_1", age: 601))
        #expect(try lateButReachable.resume() == .enableUser)
        #expect(try lateButReachable.userEnabled() == .respond(.delivered))

        var declining = try #require(resumed(.declining))
        #expect(try declining.resume() == .deleteUser)
        #expect(try declining.userDeleted() == .respond(.notCompleted(status: nil)))

        var aborting = try #require(resumed(.aborting, user: nil))
        #expect(try aborting.resume() == .lookUpUser)
        #expect(try aborting.userLookedUp(id: nil, ours: false, profileMatches: true) == .respond(.routerUnavailable))
        #expect(aborting.state == .failed)

        var refunding = try #require(resumed(.refunding, order: "ord_1"))
        #expect(try refunding.resume() == .fetchOrder(id: "ord_1"))

        var delivered = try #require(resumed(.delivered, order: "ord_1"))
        #expect(try delivered.resume() == .respond(.delivered))

        var declined = try #require(resumed(.declined))
        #expect(throws: PaymentFlow.InvalidEvent.self) { try declined.resume() }
    }

    @Test func anEarlierRunsWillRetryIsNotTheFinalReason() throws {
        var flow = try #require(resumed(.refunding, order: "ord_1", reason: "refund failed; will retry"))
        #expect(flow.reason == nil)
        #expect(try flow.resume() == .fetchOrder(id: "ord_1"))
        #expect(try flow.orderFetched(order("ord_1", .paid)) == .refund(orderID: "ord_1", amountCents: 1500))
        #expect(try flow.refunded() == .deleteUser)
        #expect(try flow.userDeleted() == .respond(.refunded))
        #expect(flow.reason == "hotspot user removed")
    }

    @Test func aRecordWithoutWhatItsStateNeedsIsNotResumed() {
        #expect(resumed(.paid, order: nil) == nil)
        #expect(resumed(.refunding, order: nil) == nil)
    }

    @Test func anOrderPaidWhileDecliningIsRefunded() throws {
        var flow = try #require(resumed(.declining, order: "ord_6", age: 30))
        #expect(try flow.resume() == .fetchOrder(id: "ord_6"))
        #expect(try flow.orderFetched(order("ord_6", .paid)) == .refund(orderID: "ord_6", amountCents: 1500))
        #expect(try flow.refunded() == .deleteUser)
        #expect(try flow.userDeleted() == .respond(.refunded))
        #expect(flow.state == .refunded)
    }

    // MARK: After the request (CONTRACT §10)

    @Test func aDeliveredOrderRefundedLaterIsRevoked() throws {
        var flow = try #require(resumed(.delivered, order: "ord_1"))
        #expect(try flow.orderReported(order("ord_1", .refunded, refunded: 1500)) == .disableUser)
        #expect(flow.state == .revoking(.init(orderID: "ord_1")) && flow.state.recorded == .revoking)
        #expect(try flow.userDisabled() == .removeSessions)
        #expect(flow.state == .revoking(.init(orderID: "ord_1", disabled: true)))
        #expect(try flow.sessionsRemoved() == .respond(.revoked))
        #expect(flow.state == .revoked && flow.state.recorded.isFinal)
        #expect(flow.reason?.contains("access revoked") == true && flow.orderID == nil)
    }

    @Test func aChargebackRevokesAsARefundDoes() throws {
        var flow = try #require(resumed(.delivered, order: "ord_1"))
        #expect(try flow.orderReported(order("ord_1", .chargedBack)) == .disableUser)
        #expect(flow.reason == "order ord_1 was charged_back after delivery; revoking the access")
        #expect(try flow.userDisabled() == .removeSessions)
        #expect(try flow.sessionsRemoved() == .respond(.revoked))
        #expect(flow.state == .revoked)
    }

    @Test func aUserAlreadyGoneStillHasItsSessionsEnded() throws {
        var flow = try #require(resumed(.delivered, order: "ord_1"))
        #expect(try flow.orderReported(order("ord_1", .refunded, refunded: 1500)) == .disableUser)
        #expect(try flow.userDisableFailed(.notFound) == .removeSessions)
        #expect(flow.state == .revoking(.init(orderID: "ord_1", disabled: true)))
        #expect(try flow.sessionsRemoved() == .respond(.revoked))
        #expect(flow.state == .revoked)
    }

    @Test func aRouterDownSuspendsTheRevocationAndTheReconcilerResumesIt() throws {
        var flow = try #require(resumed(.delivered, order: "ord_1"))
        #expect(try flow.orderReported(order("ord_1", .chargedBack)) == .disableUser)
        #expect(try flow.userDisableFailed(.unreachable("refused")) == .suspend(.revoked))
        #expect(flow.state.recorded == .revoking && flow.reason?.contains("will retry") == true)
        // The reconciler picks the recorded attempt up: disabling again is harmless.
        var resumedFlow = try #require(resumed(.revoking, user: "*1", order: "ord_1"))
        #expect(resumedFlow.state == .revoking(.init(orderID: "ord_1", routerUserID: "*1")))
        #expect(try resumedFlow.resume() == .disableUser)
        #expect(try resumedFlow.userDisabled() == .removeSessions)
        #expect(try resumedFlow.sessionsRemoveFailed(.timedOut(maybeApplied: true)) == .suspend(.revoked))
        #expect(resumedFlow.state == .revoking(.init(orderID: "ord_1", routerUserID: "*1", disabled: true)))
        var again = try #require(resumed(.revoking, user: "*1", order: "ord_1"))
        #expect(try again.resume() == .disableUser)
        #expect(try again.dependenciesUnavailable() == .suspend(.revoked))
        #expect(try again.userDisabled() == .removeSessions)
        #expect(try again.sessionsRemoved() == .respond(.revoked))
        #expect(again.state == .revoked)
        #expect(resumed(.revoking, order: nil) == nil)
    }

    @Test func sessionsAreEndedOnlyOnceTheUserIsDisabled() throws {
        var flow = PaymentFlow(debugState: .revoking(.init(orderID: "ord_1")), recovering: true)
        #expect(throws: PaymentFlow.InvalidEvent(event: "sessionsRemoved", state: .revoking)) { try flow.sessionsRemoved() }
        #expect(throws: PaymentFlow.InvalidEvent.self) { try flow.sessionsRemoveFailed(.busy) }
        var delivered = PaymentFlow(debugState: .delivered(orderID: "ord_1"), recovering: true)
        #expect(throws: PaymentFlow.InvalidEvent.self) { try delivered.userDisabled() }
        #expect(throws: PaymentFlow.InvalidEvent.self) { try delivered.userDisableFailed(.notFound) }
        var revoked = try #require(resumed(.revoked, order: "ord_1"))
        #expect(throws: PaymentFlow.InvalidEvent(event: "resume", state: .revoked)) { try revoked.resume() }
        // A report is applied to a recorded attempt only, never inside a request.
        var fresh = PaymentFlow()
        #expect(throws: PaymentFlow.InvalidEvent(event: "orderReported", state: .pending)) {
            try fresh.orderReported(order("ord_1", .paid))
        }
    }

    @Test func anOrderRefundedBeforeItsAccessWasDeliveredIsRevoked() throws {
        // Paid, the enable not done yet (or done with its reply lost): the access must not follow.
        var flow = try #require(resumed(.paid, user: "*1", order: "ord_1"))
        #expect(try flow.orderReported(order("ord_1", .refunded, refunded: 1500)) == .disableUser)
        #expect(flow.state == .revoking(.init(orderID: "ord_1", routerUserID: "*1")))
        #expect(try flow.userDisabled() == .removeSessions)
        #expect(try flow.sessionsRemoved() == .respond(.revoked))
        #expect(flow.state == .revoked)
    }

    @Test func anOrderPaidAfterItsAttemptWasDeclinedIsRefunded() throws {
        var flow = try #require(resumed(.declined, user: "*1", order: "ord_6"))
        #expect(try flow.orderReported(order("ord_6", .paid)) == .refund(orderID: "ord_6", amountCents: 1500))
        #expect(flow.state == .refunding(.init(orderID: "ord_6")) && flow.orderID == "ord_6")
        #expect(try flow.refunded() == .deleteUser)
        #expect(try flow.userDeleted() == .respond(.refunded))
        #expect(flow.state == .refunded)
    }

    @Test func anOrderPaidAfterItsAttemptFailedIsRefunded() throws {
        // Declared not charged without its order (its absence assumed): the report names it.
        var flow = try #require(resumed(.failed, user: nil, order: nil))
        #expect(try flow.orderReported(order("ord_9", .paid)) == .refund(orderID: "ord_9", amountCents: 1500))
        #expect(flow.state == .refunding(.init(orderID: "ord_9")) && flow.orderID == "ord_9")
        #expect(try flow.refundFailed() == .suspend(.activationPending))
        var partly = try #require(resumed(.declined, order: "ord_9"))
        #expect(try partly.orderReported(order("ord_9", .partiallyRefunded, refunded: 500)) == .refund(orderID: "ord_9", amountCents: 1000))
    }

    @Test func anOrderPaidWhileItsAttemptGivesUpIsRefundedAtOnce() throws {
        var declining = try #require(resumed(.declining, user: "*1", order: nil))
        #expect(try declining.orderReported(order("ord_7", .paid)) == .refund(orderID: "ord_7", amountCents: 1500))
        #expect(declining.state == .refunding(.init(orderID: "ord_7", routerUserID: "*1")))
        var aborting = try #require(resumed(.aborting, user: "*2"))
        #expect(try aborting.orderReported(order("ord_8", .paid)) == .refund(orderID: "ord_8", amountCents: 1500))
        #expect(aborting.state == .refunding(.init(orderID: "ord_8", routerUserID: "*2")))
    }

    @Test func aReportOfAnAttemptStillChargingIsTheLookUpOfItsOrder() throws {
        var flow = try #require(resumed(.charging, user: "*1", order: nil))
        #expect(try flow.orderReported(order("ord_3", .paid)) == .enableUser)
        #expect(flow.state == .paid(.init(orderID: "ord_3", routerUserID: "*1")))
        var refunded = try #require(resumed(.charging, user: "*1", order: nil))
        #expect(try refunded.orderReported(order("ord_3", .refunded, refunded: 1500)) == .deleteUser)
        #expect(refunded.state == .refunding(.init(orderID: "ord_3", routerUserID: "*1", settled: true)))
    }

    @Test func aChargebackLeavesNothingToRefund() throws {
        // Paid but undeliverable, and charged back before the refund: the bank took the money back.
        var flow = try #require(resumed(.refunding, user: "*1", order: "ord_1"))
        #expect(try flow.resume() == .fetchOrder(id: "ord_1"))
        #expect(try flow.orderFetched(order("ord_1", .chargedBack)) == .deleteUser)
        #expect(try flow.userDeleted() == .respond(.refunded))
    }

    @Test func aPartialRefundOfADeliveredOrderKeepsTheAccess() throws {
        var flow = try #require(resumed(.delivered, order: "ord_1"))
        #expect(try flow.orderReported(order("ord_1", .partiallyRefunded, refunded: 500)) == nil)
        #expect(flow.state == .delivered(orderID: "ord_1") && flow.reason == nil)
    }

    @Test func aReportTheAttemptAlreadyActedOnAsksForNothing() throws {
        // I7: redelivered, late or out of order, a report finds the attempt where it leaves it.
        let reports: [(PaymentAttempt.State, String?, GatewayOrder)] = [
            (.revoked, "ord_1", order("ord_1", .refunded, refunded: 1500)),
            (.revoked, "ord_1", order("ord_1", .chargedBack)),
            (.revoked, "ord_1", order("ord_1", .paid)),
            (.refunded, "ord_1", order("ord_1", .refunded, refunded: 1500)),
            (.refunded, "ord_1", order("ord_1", .paid)),
            (.delivered, "ord_1", order("ord_1", .paid)),
            (.declined, "ord_1", order("ord_1", .canceled)),
            (.declined, "ord_1", order("ord_1", .refunded, refunded: 1500)),
            (.failed, nil, order("ord_1", .expired)),
            (.delivered, "ord_1", order("ord_2", .refunded, refunded: 1500)),
            (.revoking, "ord_1", order("ord_1", .refunded, refunded: 1500)),
            (.refunding, "ord_1", order("ord_1", .paid)),
            (.paid, "ord_1", order("ord_1", .paid)),
            (.declining, "ord_1", order("ord_1", .expired)),
            (.pending, nil, order("ord_1", .paid)),
        ]
        for (state, orderID, report) in reports {
            var flow = try #require(resumed(state, order: orderID))
            let before = flow
            #expect(try flow.orderReported(report) == nil, "\(state.rawValue) told \(report.status.name)")
            #expect(flow == before)
        }
    }

    @Test func onlyTheCustomersFinalAnswersAreStored() {
        #expect(PaymentResult.delivered.isFinalForCustomer)
        #expect(PaymentResult.declined(.byBank).isFinalForCustomer)
        #expect(!PaymentResult.inVerification.isFinalForCustomer)
        #expect(!PaymentResult.activationPending.isFinalForCustomer)
        #expect(!PaymentResult.inProgress.isFinalForCustomer)
        #expect(PaymentResult.revoked.isFinalForCustomer)
    }

    @Test func orderStatusesAreTypedAndNamedInReasons() {
        #expect(GatewayOrder.Status.pendingPayment.name == "pending_payment" && GatewayOrder.Status.other("voided").name == "voided")
        #expect(GatewayOrder.Status.pendingPayment.isCancellable && GatewayOrder.Status.preAuthorized.isCancellable)
        #expect(!GatewayOrder.Status.paid.isCancellable && !GatewayOrder.Status.expired.isCancellable)
    }

    @Test func declinesAreTypedByTheProvidersCode() {
        #expect(Decline(code: "conekta.errors.processing.bank.insufficient_funds") == .insufficientFunds)
        #expect(Decline(code: "card_declined") == .byBank)
    }
}
