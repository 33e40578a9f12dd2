/// The payment saga as a value-type state machine (CONTRACT §5–6). Each event method takes
/// what just happened and returns the next action; `PaymentService` performs the actions and
/// commits every state change before the next side effect. No I/O here.
public struct PaymentFlow: Sendable, Equatable {
    public private(set) var state: PaymentAttempt.State
    /// Why the attempt is where it is, for the timeline and `hotspotctl payments`.
    public private(set) var reason: String?
    /// What the customer will be told once the pending clean-up is done.
    public private(set) var answer: PaymentResult?
    private var createTries = 0
    private var recovering: Bool
    private var needsCancel = false
    private var tokenAlreadyUsed = false
    /// Set on resume when a paid attempt is past its activation deadline: one last enable, then refund.
    private var activationDeadlinePassed = false
    /// Set when the attempt was declared not charged without proof that no order exists
    /// (`orderLookUpFailed(absenceUnproven:)`): an operator should hear of it.
    public private(set) var absenceUnproven = false

    /// What to do next.
    public enum Action: Sendable, Equatable {
        /// Find the product's profile by exact name.
        case checkProfile
        case createUser
        /// The name is taken by someone else: new credentials (saved first), then create.
        case renewCredentialsAndCreateUser
        /// Did a create apply? Find the user by name and check its comment.
        case lookUpUser
        case charge
        /// The charge's outcome is unknown: find the order by attempt id.
        case lookUpOrder
        case enableUser
        case cancelOrder
        case deleteUser
        case refund
        /// Answer the customer; `result` is final for them even if clean-up remains.
        case respond(PaymentResult)
        /// Stop for now (the reconciler continues); answer `result`, which may still change.
        case suspend(PaymentResult)

        /// Whether this action ends the run (`respond`, `suspend`).
        public var endsRun: Bool {
            switch self {
            case .respond, .suspend: true
            default: false
            }
        }
    }

    /// A new attempt, just recorded.
    public init() {
        state = .pending
        recovering = false
    }

    /// An attempt read back from the ledger, to be driven on by the reconciler (or a retry).
    public init(resuming state: PaymentAttempt.State, routerUserKnown: Bool, orderKnown: Bool) {
        self.state = state
        recovering = true
        needsCancel = orderKnown && state == .declining
        _ = routerUserKnown
    }

    // MARK: Events

    public mutating func start() -> Action {
        .checkProfile
    }

    /// Where the reconciler picks an attempt up.
    /// - Parameters:
    ///   - ageSeconds: since the attempt was recorded.
    ///   - activationDeadlineSeconds: a paid attempt still not enabled after this is refunded.
    ///   - lookupGraceSeconds: an unknown charge whose order is still not found after this was not made.
    public mutating func resume(
        routerUserID: String?, ageSeconds: Int64, activationDeadlineSeconds: Int64
    ) -> Action {
        switch state {
        case .pending:
            return .lookUpUser
        case .charging:
            return .lookUpOrder
        case .paid:
            activationDeadlinePassed = ageSeconds >= activationDeadlineSeconds
            return .enableUser
        case .declining:
            return needsCancel ? .cancelOrder : .deleteUser
        case .aborting:
            return routerUserID == nil ? .lookUpUser : .deleteUser
        case .refunding:
            answer = .refunded
            return .refund
        case .delivered, .declined, .failed, .refunded:
            preconditionFailure("a final attempt (\(state)) is never resumed")
        }
    }

    public mutating func profileChecked(exists: Bool) -> Action {
        guard exists else {
            move(to: .failed, "the product's profile does not exist on the router")
            return .respond(.profileUnavailable)
        }
        return .createUser
    }

    public mutating func profileCheckFailed(_ failure: RouterFailure) -> Action {
        move(to: .failed, "profile check failed: \(failure)")
        return .respond(.routerUnavailable)
    }

    /// The router created the user (disabled).
    /// - Parameter profileMatches: whether the router bound it to the product's profile by its
    ///   exact name. RouterOS resolves `profile=` by unique prefix, so a profile renamed or removed
    ///   since it was checked can leave the user on another profile (docs/sources.md A4); such a user is
    ///   removed and nothing is charged.
    public mutating func userCreated(profileMatches: Bool) -> Action {
        guard profileMatches else {
            move(to: .aborting, "the router bound the hotspot user to another profile; removing it, nothing charged")
            answer = .profileUnavailable
            return .deleteUser
        }
        move(to: .charging, "hotspot user created disabled; charging")
        return .charge
    }

    public mutating func userCreateFailed(_ failure: RouterFailure) -> Action {
        createTries += 1
        switch failure {
        case .duplicateName, .timedOut(maybeApplied: true):
            // Either our own create applied (its reply was lost) or the name is taken: look.
            return .lookUpUser
        case .profileNotFound, .profileAmbiguous:
            move(to: .failed, "router refused the profile: \(failure)")
            return .respond(.profileUnavailable)
        default:
            move(to: .failed, "could not create the hotspot user: \(failure)")
            return .respond(.routerUnavailable)
        }
    }

    /// The result of looking our user up by name: `ours` when its comment names this attempt;
    /// `profileMatches` as for `userCreated(profileMatches:)`.
    public mutating func userLookedUp(found: Bool, ours: Bool, profileMatches: Bool) -> Action {
        if recovering {
            // Clean-up of an attempt that never charged (pending or aborting).
            if found && ours {
                move(to: .aborting, "removing the hotspot user of an attempt that never charged")
                answer = answer ?? .routerUnavailable
                return .deleteUser
            }
            move(to: .failed, recoveringReason(found: found))
            return .respond(answer ?? .routerUnavailable)
        }
        if found && ours { return userCreated(profileMatches: profileMatches) }
        guard createTries < 3 else {
            move(to: .failed, "could not create the hotspot user after \(createTries) tries")
            return .respond(.routerUnavailable)
        }
        return found ? .renewCredentialsAndCreateUser : .createUser
    }

    public mutating func userLookUpFailed(_ failure: RouterFailure) -> Action {
        // A disabled user may exist; nothing was charged. The reconciler removes it.
        move(to: .aborting, "could not check for the hotspot user: \(failure)")
        answer = answer ?? .routerUnavailable
        return .respond(.routerUnavailable)
    }

    public mutating func chargeCompleted(_ outcome: ChargeOutcome) -> Action {
        switch outcome {
        case .paid:
            move(to: .paid, "charge paid")
            return .enableUser
        case .declined(let code, _, _):
            // The provider's own text never reaches the customer (CONTRACT §3): ours, by kind.
            move(to: .declining, "declined: \(code)")
            answer = .declined(message: PaymentResult.declineMessage(code: code))
            return .deleteUser
        case .notPaid(let status, _):
            move(to: .declining, "order not paid: \(status)")
            answer = .notCompleted(status: status)
            needsCancel = status == "pending_payment" || status == "pre_authorized"
            return needsCancel ? .cancelOrder : .deleteUser
        case .unknown(let reason):
            tokenAlreadyUsed = outcome == .tokenAlreadyUsed
            self.reason = "charge outcome unknown: \(reason)"
            return .lookUpOrder
        case .configurationError(let reason):
            move(to: .aborting, "payment gateway refused our configuration: \(reason)")
            answer = .paymentsUnavailable
            return .deleteUser
        case .invalidRequest(let param, _):
            // An unusable card token (unknown, expired) or customer data the gateway refuses: the
            // customer is told the card was not processed (402), and the attempt is a decline.
            move(to: .declining, "payment gateway refused the payment's data: \(param ?? "-")")
            answer = .declined(message: PaymentResult.cardNotProcessed)
            return .deleteUser
        }
    }

    /// The order found for this attempt (nil: none yet). `ageSeconds` since the attempt began.
    public mutating func orderLookedUp(_ order: GatewayOrder?, ageSeconds: Int64, lookupGraceSeconds: Int64) -> Action {
        guard let order else {
            if tokenAlreadyUsed {
                // Our only charge met a used token and no order of ours exists: someone else used it.
                move(to: .declining, "card token already used by another payment")
                answer = .declined(message: PaymentResult.cardNotProcessed)
                return .deleteUser
            }
            if recovering && ageSeconds >= lookupGraceSeconds {
                move(to: .declining, "no order found for the attempt after \(ageSeconds) s: not charged")
                answer = .notCompleted(status: "not_found")
                return .deleteUser
            }
            return .suspend(.inVerification)
        }
        if order.isPaid {
            move(to: .paid, "order \(order.id) found paid")
            return .enableUser
        }
        if order.paymentStatus == "refunded" || order.paymentStatus == "partially_refunded" {
            move(to: .refunding, "order \(order.id) was refunded")
            answer = .refunded
            return .refund
        }
        move(to: .declining, "order \(order.id) is \(order.paymentStatus)")
        answer = .notCompleted(status: order.paymentStatus)
        needsCancel = order.paymentStatus == "pending_payment" || order.paymentStatus == "pre_authorized"
        return needsCancel ? .cancelOrder : .deleteUser
    }

    /// The order could not be looked up; the reconciler asks again later. With
    /// `absenceUnproven`, nothing was found and nothing can show there is none, so asking again
    /// gives the same answer: once the look-up grace has passed, the attempt ends as not charged
    /// (CONTRACT §6), and `absenceUnproven` is set so that the run warns about it.
    public mutating func orderLookUpFailed(
        absenceUnproven: Bool = false, ageSeconds: Int64 = 0, lookupGraceSeconds: Int64 = .max
    ) -> Action {
        guard absenceUnproven, recovering, ageSeconds >= lookupGraceSeconds else { return .suspend(.inVerification) }
        move(
            to: .declining,
            "no order found by the attempt's reference after \(ageSeconds) s, and too many orders in its window to show "
                + "there is none: treated as not charged")
        self.absenceUnproven = true
        answer = .notCompleted(status: "not_found")
        return .deleteUser
    }

    public mutating func userEnabled() -> Action {
        move(to: .delivered, "hotspot user enabled")
        return .respond(.delivered)
    }

    public mutating func userEnableFailed(_ failure: RouterFailure) -> Action {
        if failure == .notFound {
            // The user vanished from the router: the order cannot be delivered.
            move(to: .refunding, "the hotspot user disappeared before it could be enabled")
            answer = .refunded
            return .refund
        }
        if activationDeadlinePassed {
            move(to: .refunding, "could not enable the user before the activation deadline: \(failure)")
            answer = .refunded
            return .refund
        }
        reason = "paid; enabling the user failed: \(failure)"
        return .suspend(.activationPending)
    }

    /// While declining, the order turned out paid (a 3-D Secure challenge completed late): the
    /// customer was told it failed, so the money goes back.
    public mutating func orderTurnedPaid() -> Action {
        move(to: .refunding, "the unpaid order was paid later; refunding")
        answer = .refunded
        needsCancel = false
        return .refund
    }

    public mutating func orderCancelled() -> Action {
        needsCancel = false
        return .deleteUser
    }

    public mutating func orderCancelFailed() -> Action {
        // Still remove the user: access is what must never be granted. The reconciler cancels later.
        reason = "could not cancel the unpaid order; will retry"
        return .deleteUser
    }

    public mutating func userDeleted() -> Action {
        if needsCancel {
            return .suspend(answer ?? .routerUnavailable)
        }
        let why = reason ?? "hotspot user removed"
        switch state {
        case .declining: move(to: .declined, why)
        case .aborting: move(to: .failed, why)
        case .refunding: move(to: .refunded, why)
        default: preconditionFailure("a user is deleted only while declining, aborting or refunding, not \(state)")
        }
        return .respond(answer ?? .routerUnavailable)
    }

    public mutating func userDeleteFailed(_ failure: RouterFailure) -> Action {
        // The user stays disabled (harmless); the reconciler deletes it. The answer is final.
        reason = "could not delete the hotspot user (\(failure)); will retry"
        return .respond(answer ?? .routerUnavailable)
    }

    public mutating func refunded() -> Action {
        .deleteUser
    }

    public mutating func refundFailed() -> Action {
        reason = "refund failed; will retry"
        return .suspend(.activationPending)
    }

    // MARK: Private

    private mutating func move(to next: PaymentAttempt.State, _ why: String?) {
        state = next
        reason = why
    }

    private func recoveringReason(found: Bool) -> String {
        found ? "a user with this name belongs to someone else; nothing charged" : "no hotspot user was left behind; nothing charged"
    }
}

/// What the customer is told about a payment.
public enum PaymentResult: Sendable, Equatable {
    /// Paid and enabled: the receipt with the credentials.
    case delivered
    /// The card was declined; `message` is the provider's Spanish text for the customer.
    case declined(message: String)
    /// The order exists but is not paid (3-D Secure pending, pre-authorised, expired…).
    case notCompleted(status: String)
    /// Nobody knows yet whether money moved; retry the same request later, do not pay again.
    case inVerification
    /// Paid; the user will be enabled shortly. Retry the same request.
    case activationPending
    /// The router could not create the user; nothing was charged.
    case routerUnavailable
    /// The product's profile is missing on the router; nothing was charged.
    case profileUnavailable
    /// Our payment provider configuration is broken; nothing was charged.
    case paymentsUnavailable
    /// Paid, could not be delivered, refunded.
    case refunded
    /// Too many declined payments from this device, address or router lately (card testing).
    case tooManyAttempts
    /// Another worker holds this attempt right now.
    case inProgress
    /// The idempotency key was used with a different request.
    case idempotencyConflict

    public static let cardNotProcessed = "La tarjeta no pudo ser procesada. Intente con otro método de pago."
    public static let declinedByBank = "El pago fue declinado. Contacte a su banco."

    /// Our Spanish text for a provider decline code (insufficient funds is worth telling apart).
    public static func declineMessage(code: String) -> String {
        code.contains("insufficient_funds") ? "Fondos insuficientes en la tarjeta. Intente con otra tarjeta." : declinedByBank
    }

    /// Whether a retry of the same request may get another answer.
    public var isFinalForCustomer: Bool {
        switch self {
        case .inVerification, .activationPending, .inProgress, .idempotencyConflict: false
        default: true
        }
    }
}
