/// The payment saga (CONTRACT §5–6) as a value-type state machine.
///
/// Each state carries what it needs: an order id where money may have moved, the router user's id
/// where it is known, what the customer will be told. So a paid attempt without its order, or a
/// refund without one, cannot be built. Each event method takes what just happened, as typed
/// values, checks that it may happen in the current state, and returns the next action; an event
/// that is not valid where the machine stands is an `InvalidEvent`, never a silent transition.
/// Every decision is made here: cancel or refund, how much to refund, retry or give up, new
/// credentials. `PaymentService` only carries the actions out, commits each state change before
/// the next side effect, and feeds the results back. No I/O here.
///
/// A pay-later attempt (cash at OXXO, a SPEI transfer: CONTRACT §12) runs the same machine on
/// another path: its order is created with no router user (`charging`), then waits for the
/// customer's money (`awaitingPayment`); once paid, its user is created enabled
/// (`provisioning` → `delivered`); unpaid at its expiry it ends `expired`, with nothing ever made
/// on the router.
public struct PaymentFlow: Sendable, Equatable {
    /// Where the saga stands, with what each state needs.
    public enum State: Sendable, Equatable {
        /// Recorded; the router user may or may not exist yet. Nothing charged.
        case pending(Pending)
        /// The disabled user exists; the charge is being sent, or its outcome is unknown.
        case charging(Charging)
        /// The order is paid; the user is being enabled.
        case paid(Paid)
        /// Final: paid and the user enabled.
        case delivered(orderID: String)
        /// Not paid: an order still payable is cancelled, then the user removed.
        case declining(Declining)
        /// Final: not paid, nothing left on the router.
        case declined
        /// Nothing charged; a disabled user the router may hold is removed.
        case aborting(Aborting)
        /// Final: nothing charged, nothing left on the router.
        case failed
        /// Paid but undeliverable: the money goes back, then the user is removed.
        case refunding(Refunding)
        /// Final: refunded, nothing left on the router.
        case refunded
        /// Delivered, then refunded or charged back outside the product: the user is disabled and
        /// its sessions removed.
        case revoking(Revoking)
        /// Final: the access was revoked.
        case revoked
        /// Pay later: the order waits for the customer's money; no router user yet.
        case awaitingPayment(AwaitingPayment)
        /// Pay later: the order is paid; the user is being created, enabled.
        case provisioning(Provisioning)
        /// Final, pay later: the order expired or was cancelled unpaid; nothing on the router.
        case expired

        /// The state's name as the ledger records it.
        public var recorded: PaymentAttempt.State {
            switch self {
            case .pending: .pending
            case .charging: .charging
            case .paid: .paid
            case .delivered: .delivered
            case .declining: .declining
            case .declined: .declined
            case .aborting: .aborting
            case .failed: .failed
            case .refunding: .refunding
            case .refunded: .refunded
            case .revoking: .revoking
            case .revoked: .revoked
            case .awaitingPayment: .awaitingPayment
            case .provisioning: .provisioning
            case .expired: .expired
            }
        }
    }

    public struct Pending: Sendable, Equatable {
        /// Creates tried in this run (a name taken by someone else gets new credentials, three times).
        public var createTries = 0
        public init(createTries: Int = 0) { self.createTries = createTries }
    }

    public struct Charging: Sendable, Equatable {
        /// The router's id of the user, once known.
        public var routerUserID: String?
        /// The order, when the gateway named one without settling (recorded attempts only).
        public var orderID: String?
        /// Our one charge met `tokenization.used`: with no order of ours, someone else used the token.
        public var tokenAlreadyUsed = false
        public init(routerUserID: String? = nil, orderID: String? = nil, tokenAlreadyUsed: Bool = false) {
            self.routerUserID = routerUserID
            self.orderID = orderID
            self.tokenAlreadyUsed = tokenAlreadyUsed
        }
    }

    public struct Paid: Sendable, Equatable {
        public var orderID: String
        public var routerUserID: String?
        /// Past the activation deadline: one last enable, then the money goes back.
        public var deadlinePassed = false
        public init(orderID: String, routerUserID: String? = nil, deadlinePassed: Bool = false) {
            self.orderID = orderID
            self.routerUserID = routerUserID
            self.deadlinePassed = deadlinePassed
        }
    }

    public struct Declining: Sendable, Equatable {
        public var orderID: String?
        public var routerUserID: String?
        /// The order is still payable and must be cancelled first.
        public var cancelPending: Bool
        public var answer: PaymentResult
        public init(orderID: String?, routerUserID: String? = nil, cancelPending: Bool, answer: PaymentResult) {
            self.orderID = orderID
            self.routerUserID = routerUserID
            self.cancelPending = cancelPending && orderID != nil
            self.answer = answer
        }
    }

    public struct Aborting: Sendable, Equatable {
        public var routerUserID: String?
        public var answer: PaymentResult
        public init(routerUserID: String? = nil, answer: PaymentResult) {
            self.routerUserID = routerUserID
            self.answer = answer
        }
    }

    public struct Refunding: Sendable, Equatable {
        public var orderID: String
        public var routerUserID: String?
        /// Nothing is left to refund: only the user remains to remove.
        public var settled = false
        /// The router may hold a user of this attempt. False only for a pay-later attempt whose
        /// user was never tried (paid after its expiry): nothing to remove there.
        public var userPossible = true
        public init(orderID: String, routerUserID: String? = nil, settled: Bool = false, userPossible: Bool = true) {
            self.orderID = orderID
            self.routerUserID = routerUserID
            self.settled = settled
            self.userPossible = userPossible
        }
    }

    public struct AwaitingPayment: Sendable, Equatable {
        public var orderID: String
        /// The reference expired more than the grace ago and the order still takes money: cancel
        /// it at the gateway (never expire by our clock alone), then read it again (paid wins).
        public var cancelDue = false
        /// This run asked the gateway to cancel the order.
        public var cancelSent = false
        public init(orderID: String, cancelDue: Bool = false, cancelSent: Bool = false) {
            self.orderID = orderID
            self.cancelDue = cancelDue
            self.cancelSent = cancelSent
        }
    }

    public struct Provisioning: Sendable, Equatable {
        public var orderID: String
        /// The router's id of the user, once created.
        public var routerUserID: String?
        /// The product's profile was found on the router in this run.
        public var profileChecked = false
        /// Creates tried in this run (a name taken by someone else gets new credentials, three times).
        public var createTries = 0
        public init(orderID: String, routerUserID: String? = nil, profileChecked: Bool = false, createTries: Int = 0) {
            self.orderID = orderID
            self.routerUserID = routerUserID
            self.profileChecked = profileChecked
            self.createTries = createTries
        }
    }

    public struct Revoking: Sendable, Equatable {
        public var orderID: String
        public var routerUserID: String?
        /// The user is disabled (or gone from the router): only its active sessions remain to end.
        /// Not recorded: a resumed revocation disables again, which is harmless.
        public var disabled = false
        public init(orderID: String, routerUserID: String? = nil, disabled: Bool = false) {
            self.orderID = orderID
            self.routerUserID = routerUserID
            self.disabled = disabled
        }
    }

    /// What to do next.
    public enum Action: Sendable, Equatable {
        /// Find the product's profile by exact name.
        case checkProfile
        /// Create the user, disabled; with `renewCredentials`, with new ones first (saved before).
        case createUser(renewCredentials: Bool)
        /// Create the user enabled, its order being paid already (pay later); with
        /// `renewCredentials`, with new ones first (saved before).
        case provisionUser(renewCredentials: Bool)
        /// Did a create apply? Find the user by name and check its comment.
        case lookUpUser
        case charge
        /// The charge's outcome is unknown: find the order by attempt id.
        case findOrder
        /// Read the order as the gateway has it now, before cancelling or refunding it.
        case fetchOrder(id: String)
        case cancelOrder(id: String)
        case refund(orderID: String, amountCents: Int64)
        case enableUser
        case deleteUser
        /// Disable the user (revocation); succeeds when it is disabled already.
        case disableUser
        /// End the user's active sessions on the router (revocation).
        case removeSessions
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

        /// Whether carrying it out takes the router.
        public var needsRouter: Bool {
            switch self {
            case .checkProfile, .createUser, .provisionUser, .lookUpUser, .enableUser, .deleteUser, .disableUser, .removeSessions:
                true
            default: false
            }
        }
    }

    /// An event that cannot happen where the machine stands: a bug in the runner.
    public struct InvalidEvent: Error, Sendable, Equatable, CustomStringConvertible {
        public var event: String
        public var state: PaymentAttempt.State
        public var description: String { "\(event) is not valid in state \(state.rawValue)" }

        public init(event: String, state: PaymentAttempt.State) {
            self.event = event
            self.state = state
        }
    }

    public private(set) var state: State
    /// Card, or cash or SPEI later: which path the machine takes.
    public let method: PaymentMethod
    /// Why the attempt is where it is, for the timeline and `hotspotctl payments`.
    public private(set) var reason: String?
    /// Set when the attempt was declared not charged without proof that no order exists
    /// (`orderLookUpFailed(absenceUnproven:)`): an operator should hear of it.
    public private(set) var absenceUnproven = false
    /// Driving a recorded attempt (the reconciler or a retry), not a new request.
    private let recovering: Bool

    /// A new attempt, just recorded.
    public init(method: PaymentMethod = .card) {
        state = .pending(Pending())
        self.method = method
        recovering = false
    }

    /// A recorded attempt, to be driven on by the reconciler or a retry of its request. Nil when
    /// the record lacks what its state needs (a paid attempt without its order id).
    /// - Parameters:
    ///   - ageSeconds: since the attempt was recorded.
    ///   - activationDeadlineSeconds: a paid attempt still not enabled after this is refunded (a
    ///     pay-later one is not: its customer is not waiting on the request, and it is delivered
    ///     whenever its router answers again).
    ///   - payLaterGraceSeconds: a pay-later order still payable this long after its reference
    ///     expired is cancelled at the gateway.
    public init?(
        resuming attempt: PaymentAttempt, ageSeconds: Int64, activationDeadlineSeconds: Int64, payLaterGraceSeconds: Int64 = 3_600
    ) {
        recovering = true
        method = attempt.method
        // The recorded reason stays on the record until this run has its own (a "will retry"
        // of an earlier run must not become the final reason).
        let user = attempt.routerUserID
        switch attempt.state {
        case .pending:
            state = .pending(Pending())
        case .charging:
            state = .charging(Charging(routerUserID: user, orderID: attempt.orderID))
        case .paid:
            guard let orderID = attempt.orderID else { return nil }
            state = .paid(Paid(orderID: orderID, routerUserID: user, deadlinePassed: ageSeconds >= activationDeadlineSeconds))
        case .declining:
            // What the customer was told is stored with the answer; a pending order was cancellable.
            state = .declining(
                Declining(
                    orderID: attempt.orderID, routerUserID: user, cancelPending: attempt.orderID != nil,
                    answer: .notCompleted(status: nil)))
        case .aborting:
            state = .aborting(Aborting(routerUserID: user, answer: .routerUnavailable))
        case .refunding:
            guard let orderID = attempt.orderID else { return nil }
            state = .refunding(Refunding(orderID: orderID, routerUserID: user))
        case .delivered:
            guard let orderID = attempt.orderID else { return nil }
            state = .delivered(orderID: orderID)
        case .revoking:
            guard let orderID = attempt.orderID else { return nil }
            state = .revoking(Revoking(orderID: orderID, routerUserID: user))
        case .declined: state = .declined
        case .failed: state = .failed
        case .refunded: state = .refunded
        case .revoked: state = .revoked
        case .awaitingPayment:
            guard let orderID = attempt.orderID else { return nil }
            let now = attempt.createdAt + ageSeconds
            let cancelDue = attempt.payLaterExpiresAt.map { now >= $0 + payLaterGraceSeconds } ?? false
            state = .awaitingPayment(AwaitingPayment(orderID: orderID, cancelDue: cancelDue))
        case .provisioning:
            guard let orderID = attempt.orderID else { return nil }
            state = .provisioning(Provisioning(orderID: orderID, routerUserID: user))
        case .expired: state = .expired
        }
    }

    #if DEBUG
    /// Any state, for tests that start mid-flow.
    public init(debugState state: State, method: PaymentMethod = .card, recovering: Bool = false, reason: String? = nil) {
        self.state = state
        self.method = method
        self.recovering = recovering
        self.reason = reason
    }
    #endif

    /// The order id the state holds, for the attempt's record.
    public var orderID: String? {
        switch state {
        case .charging(let data): data.orderID
        case .paid(let data): data.orderID
        case .delivered(let orderID): orderID
        case .declining(let data): data.orderID
        case .refunding(let data): data.orderID
        case .revoking(let data): data.orderID
        case .awaitingPayment(let data): data.orderID
        case .provisioning(let data): data.orderID
        default: nil
        }
    }

    /// The router user's id the state holds, for the attempt's record.
    public var routerUserID: String? {
        switch state {
        case .charging(let data): data.routerUserID
        case .paid(let data): data.routerUserID
        case .declining(let data): data.routerUserID
        case .aborting(let data): data.routerUserID
        case .refunding(let data): data.routerUserID
        case .revoking(let data): data.routerUserID
        case .provisioning(let data): data.routerUserID
        default: nil
        }
    }

    // MARK: Starting

    /// The first action of a new attempt.
    public mutating func start() throws(InvalidEvent) -> Action {
        guard case .pending = state, !recovering else { throw invalid("start") }
        return .checkProfile
    }

    /// The first action of a recorded attempt. A delivered attempt whose answer was never stored
    /// only needs its receipt.
    public mutating func resume() throws(InvalidEvent) -> Action {
        guard recovering else { throw invalid("resume") }
        switch state {
        case .pending where method.isPayLater:
            // Its order was never sent (moving to charging is committed first), and it has no
            // user before its money arrives: nothing to clean up.
            move(to: .failed, "stopped before its order was created; nothing charged, nothing on the router")
            return .respond(.routerUnavailable)
        case .pending:
            return .lookUpUser
        case .charging(let data):
            return data.orderID.map { .fetchOrder(id: $0) } ?? .findOrder
        case .paid:
            return .enableUser
        case .declining(let data):
            if data.cancelPending, let orderID = data.orderID { return .fetchOrder(id: orderID) }
            return removeUser()
        case .aborting(let data):
            if !userPossible { return removeUser() }
            return data.routerUserID == nil ? .lookUpUser : .deleteUser
        case .refunding(let data):
            return .fetchOrder(id: data.orderID)
        case .delivered:
            return .respond(.delivered)
        case .revoking(let data):
            return data.disabled ? .removeSessions : .disableUser
        case .awaitingPayment(let data):
            return .fetchOrder(id: data.orderID)
        case .provisioning:
            // An earlier run's create may have applied with its reply lost.
            return .lookUpUser
        case .declined, .failed, .refunded, .revoked, .expired:
            throw invalid("resume")
        }
    }

    // MARK: What the run needs

    /// The router's or the company's settings could not be read (the database is unreachable),
    /// or the router is gone: nothing can be done now. Before anything was charged the customer
    /// is told so and the reconciler cleans up; after, the outcome is still being verified.
    public mutating func dependenciesUnavailable() throws(InvalidEvent) -> Action {
        switch state {
        case .pending: return .respond(.routerUnavailable)
        case .declined, .failed, .refunded, .revoked, .expired: throw invalid("dependenciesUnavailable")
        case .revoking: return .suspend(.revoked)
        case .awaitingPayment: return .suspend(.awaitingPayment)
        case .provisioning: return .suspend(.activationPending)
        default: return .suspend(.inVerification)
        }
    }

    /// The attempt's router was removed or disabled by the operator (a pay-later attempt only:
    /// card attempts treat it as `dependenciesUnavailable`). Its paid order can no longer be
    /// delivered: the money goes back (CONTRACT §12). Elsewhere it is `dependenciesUnavailable`.
    public mutating func routerGone() throws(InvalidEvent) -> Action {
        guard case .provisioning(let data) = state else { return try dependenciesUnavailable() }
        move(
            to: .refunding(Refunding(orderID: data.orderID, routerUserID: data.routerUserID)),
            "the router was removed or disabled before the access was delivered; refunding")
        return .fetchOrder(id: data.orderID)
    }

    // MARK: The router

    public mutating func profileChecked(exists: Bool) throws(InvalidEvent) -> Action {
        if case .provisioning(var data) = state {
            guard exists else {
                move(
                    to: .refunding(Refunding(orderID: data.orderID, routerUserID: data.routerUserID)),
                    "the product's profile does not exist on the router; refunding")
                return .fetchOrder(id: data.orderID)
            }
            data.profileChecked = true
            state = .provisioning(data)
            return .provisionUser(renewCredentials: false)
        }
        guard case .pending(let data) = state, data.createTries == 0, !recovering else { throw invalid("profileChecked") }
        guard exists else {
            move(to: .failed, "the product's profile does not exist on the router")
            return .respond(.profileUnavailable)
        }
        if method.isPayLater { return createOrder("creating the \(method.rawValue) order; no router user before the money arrives") }
        return .createUser(renewCredentials: false)
    }

    public mutating func profileCheckFailed(_ failure: RouterFailure) throws(InvalidEvent) -> Action {
        if case .provisioning = state {
            reason = "paid; the router did not answer the profile check (\(failure)); will retry"
            return .suspend(.activationPending)
        }
        guard case .pending = state, !recovering else { throw invalid("profileCheckFailed") }
        if method.isPayLater {
            // Nothing is needed of the router before the money arrives, when it is checked again.
            return createOrder("could not check the profile (\(failure)); creating the \(method.rawValue) order all the same")
        }
        move(to: .failed, "profile check failed: \(failure)")
        return .respond(.routerUnavailable)
    }

    /// A pay-later request's order is sent (committed as `charging` first, like a card's charge).
    private mutating func createOrder(_ why: String) -> Action {
        move(to: .charging(Charging()), why)
        return .charge
    }

    /// The router created the user (disabled).
    /// - Parameter profileMatches: whether the router bound it to the product's profile by its
    ///   exact name. RouterOS resolves `profile=` by unique prefix, so a profile renamed or removed
    ///   since it was checked can leave the user on another profile (docs/sources.md A4); such a
    ///   user is removed and nothing is charged.
    public mutating func userCreated(id: String, profileMatches: Bool) throws(InvalidEvent) -> Action {
        if case .provisioning(let data) = state {
            guard profileMatches else {
                move(
                    to: .refunding(Refunding(orderID: data.orderID, routerUserID: id)),
                    "the router bound the hotspot user to another profile; refunding, then removing it")
                return .fetchOrder(id: data.orderID)
            }
            move(to: .delivered(orderID: data.orderID), "hotspot user created enabled")
            return .respond(.delivered)
        }
        guard case .pending = state else { throw invalid("userCreated") }
        guard profileMatches else {
            move(
                to: .aborting(Aborting(routerUserID: id, answer: .profileUnavailable)),
                "the router bound the hotspot user to another profile; removing it, nothing charged")
            return .deleteUser
        }
        move(to: .charging(Charging(routerUserID: id)), "hotspot user created disabled; charging")
        return .charge
    }

    public mutating func userCreateFailed(_ failure: RouterFailure) throws(InvalidEvent) -> Action {
        if case .provisioning(var data) = state {
            data.createTries += 1
            state = .provisioning(data)
            switch failure {
            case .duplicateName, .timedOut(maybeApplied: true):
                return .lookUpUser
            case .profileNotFound, .profileAmbiguous:
                move(
                    to: .refunding(Refunding(orderID: data.orderID, routerUserID: data.routerUserID)),
                    "router refused the profile (\(failure)); refunding")
                return .fetchOrder(id: data.orderID)
            default:
                reason = "paid; could not create the hotspot user (\(failure)); will retry"
                return .suspend(.activationPending)
            }
        }
        guard case .pending(var data) = state, !recovering else { throw invalid("userCreateFailed") }
        data.createTries += 1
        state = .pending(data)
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
    /// `profileMatches` as for `userCreated(id:profileMatches:)`.
    public mutating func userLookedUp(id: String?, ours: Bool, profileMatches: Bool) throws(InvalidEvent) -> Action {
        let found = id != nil
        switch state {
        case .provisioning(var data):
            if let id, ours {
                data.routerUserID = id
                state = .provisioning(data)
                return try userCreated(id: id, profileMatches: profileMatches)
            }
            guard data.profileChecked else { return .checkProfile }
            guard data.createTries < 3 else {
                reason = "paid; could not create the hotspot user after \(data.createTries) tries; will retry"
                return .suspend(.activationPending)
            }
            return .provisionUser(renewCredentials: found)
        case .pending(let data) where !recovering:
            if let id, ours { return try userCreated(id: id, profileMatches: profileMatches) }
            guard data.createTries < 3 else {
                move(to: .failed, "could not create the hotspot user after \(data.createTries) tries")
                return .respond(.routerUnavailable)
            }
            return .createUser(renewCredentials: found)
        case .pending where recovering:
            // Clean-up of an attempt that never charged.
            if let id, ours {
                move(
                    to: .aborting(Aborting(routerUserID: id, answer: .routerUnavailable)),
                    "removing the hotspot user of an attempt that never charged")
                return .deleteUser
            }
            move(to: .failed, Self.nothingLeft(found: found))
            return .respond(.routerUnavailable)
        case .aborting(var data):
            if let id, ours {
                data.routerUserID = id
                move(to: .aborting(data), "removing the hotspot user of an attempt that never charged")
                return .deleteUser
            }
            move(to: .failed, Self.nothingLeft(found: found))
            return .respond(data.answer)
        default:
            throw invalid("userLookedUp")
        }
    }

    public mutating func userLookUpFailed(_ failure: RouterFailure) throws(InvalidEvent) -> Action {
        if case .provisioning = state {
            reason = "paid; could not look the hotspot user up (\(failure)); will retry"
            return .suspend(.activationPending)
        }
        let answer: PaymentResult
        switch state {
        case .pending: answer = .routerUnavailable
        case .aborting(let data): answer = data.answer
        default: throw invalid("userLookUpFailed")
        }
        // A disabled user may exist; nothing was charged. The reconciler removes it.
        move(to: .aborting(Aborting(answer: answer)), "could not check for the hotspot user: \(failure)")
        return .respond(answer)
    }

    public mutating func userEnabled() throws(InvalidEvent) -> Action {
        guard case .paid(let data) = state else { throw invalid("userEnabled") }
        move(to: .delivered(orderID: data.orderID), "hotspot user enabled")
        return .respond(.delivered)
    }

    public mutating func userEnableFailed(_ failure: RouterFailure) throws(InvalidEvent) -> Action {
        guard case .paid(let data) = state else { throw invalid("userEnableFailed") }
        if failure == .notFound {
            // The user vanished from the router: the order cannot be delivered.
            move(
                to: .refunding(Refunding(orderID: data.orderID, routerUserID: data.routerUserID)),
                "the hotspot user disappeared before it could be enabled")
            return .fetchOrder(id: data.orderID)
        }
        if data.deadlinePassed {
            move(
                to: .refunding(Refunding(orderID: data.orderID, routerUserID: data.routerUserID)),
                "could not enable the user before the activation deadline: \(failure)")
            return .fetchOrder(id: data.orderID)
        }
        reason = "paid; enabling the user failed: \(failure)"
        return .suspend(.activationPending)
    }

    public mutating func userDeleted() throws(InvalidEvent) -> Action {
        let why = reason ?? "hotspot user removed"
        switch state {
        case .declining(let data):
            if data.cancelPending { return .suspend(data.answer) }
            move(to: .declined, why)
            return .respond(data.answer)
        case .aborting(let data):
            move(to: .failed, why)
            return .respond(data.answer)
        case .refunding(let data) where data.settled:
            move(to: .refunded, why)
            return .respond(.refunded)
        default:
            throw invalid("userDeleted")
        }
    }

    public mutating func userDeleteFailed(_ failure: RouterFailure) throws(InvalidEvent) -> Action {
        let answer: PaymentResult
        switch state {
        case .declining(let data): answer = data.answer
        case .aborting(let data): answer = data.answer
        case .refunding(let data) where data.settled: answer = .refunded
        default: throw invalid("userDeleteFailed")
        }
        // The user stays disabled (harmless); the reconciler deletes it. The answer is final.
        reason = "could not delete the hotspot user (\(failure)); will retry"
        return .respond(answer)
    }

    // MARK: The gateway

    public mutating func chargeCompleted(_ outcome: ChargeOutcome) throws(InvalidEvent) -> Action {
        guard case .charging(var data) = state, !recovering else { throw invalid("chargeCompleted") }
        let user = data.routerUserID
        if method.isPayLater {
            switch outcome {
            case .awaitingPayment(let orderID, let charge) where charge.instructions.isUsable(for: method):
                move(
                    to: .awaitingPayment(AwaitingPayment(orderID: orderID)),
                    "\(method.rawValue) order \(orderID) created; waiting for the customer's money")
                return .respond(.awaitingPayment)
            case .paid(let order):
                return provision(order.orderID, "order \(order.orderID) paid at once")
            case .declined(let code, _, let orderID):
                move(
                    to: .declining(
                        Declining(orderID: orderID, routerUserID: nil, cancelPending: false, answer: .notCompleted(status: nil))),
                    "the payment gateway refused the \(method.rawValue) order: \(code)")
                return removeUser()
            case .invalidRequest(let param, _):
                move(
                    to: .declining(
                        Declining(orderID: nil, routerUserID: nil, cancelPending: false, answer: .notCompleted(status: nil))),
                    "the payment gateway refused the \(method.rawValue) order's data: \(param ?? "-")")
                return removeUser()
            default:
                break
            }
        }
        switch outcome {
        case .paid(let order):
            move(to: .paid(Paid(orderID: order.orderID, routerUserID: user)), "charge paid")
            return .enableUser
        case .awaitingPayment(let orderID, _):
            // Without a reference or CLABE to show (or for a card): an order nobody can pay. It
            // is cancelled, then the attempt ends unpaid.
            return declining(orderID: orderID, status: .pendingPayment, user: user, "order \(orderID) has nothing to pay with")
        case .declined(let code, _, let orderID):
            // The provider's own text never reaches the customer (CONTRACT §3): ours, by kind.
            move(
                to: .declining(
                    Declining(
                        orderID: orderID, routerUserID: user, cancelPending: false,
                        answer: .declined(Decline(code: code)))),
                "declined: \(code)")
            return removeUser()
        case .notPaid(let status, let orderID):
            return declining(orderID: orderID, status: status, user: user, "order not paid: \(status.name)")
        case .unknown(let why):
            data.tokenAlreadyUsed = outcome == .tokenAlreadyUsed
            state = .charging(data)
            reason = "charge outcome unknown: \(why)"
            return .findOrder
        case .configurationError(let why):
            move(
                to: .aborting(Aborting(routerUserID: user, answer: .paymentsUnavailable)),
                "payment gateway refused our configuration: \(why)")
            return removeUser()
        case .invalidRequest(let param, _):
            // An unusable card token (unknown, expired) or customer data the gateway refuses: the
            // customer is told the card was not processed (402), and the attempt is a decline.
            move(
                to: .declining(
                    Declining(
                        orderID: nil, routerUserID: user, cancelPending: false, answer: .declined(.cardNotProcessed))),
                "payment gateway refused the payment's data: \(param ?? "-")")
            return removeUser()
        }
    }

    /// The order found for this attempt (nil: none yet). `ageSeconds` since the attempt began.
    public mutating func orderLookedUp(
        _ order: GatewayOrder?, ageSeconds: Int64, lookupGraceSeconds: Int64
    ) throws(InvalidEvent) -> Action {
        guard case .charging(let data) = state else { throw invalid("orderLookedUp") }
        let user = data.routerUserID
        guard let order else {
            if data.tokenAlreadyUsed {
                // Our only charge met a used token and no order of ours exists: someone else used it.
                move(
                    to: .declining(
                        Declining(
                            orderID: nil, routerUserID: user, cancelPending: false,
                            answer: .declined(.cardNotProcessed))),
                    "card token already used by another payment")
                return removeUser()
            }
            if recovering && ageSeconds >= lookupGraceSeconds {
                move(
                    to: .declining(Declining(orderID: nil, routerUserID: user, cancelPending: false, answer: .notCompleted(status: nil))),
                    "no order found for the attempt after \(ageSeconds) s: not charged")
                return removeUser()
            }
            return .suspend(.inVerification)
        }
        switch order.status {
        case .paid where method.isPayLater:
            return provision(order.id, "order \(order.id) found paid")
        case .paid:
            move(to: .paid(Paid(orderID: order.id, routerUserID: user)), "order \(order.id) found paid")
            return .enableUser
        case .pendingPayment where method.isPayLater && order.payLater?.instructions.isUsable(for: method) == true:
            move(
                to: .awaitingPayment(AwaitingPayment(orderID: order.id)),
                "\(method.rawValue) order \(order.id) found; waiting for the customer's money")
            return .respond(.awaitingPayment)
        case .expired where method.isPayLater, .canceled where method.isPayLater:
            move(to: .expired, "order \(order.id) found \(order.status.name), unpaid")
            return .respond(.expired)
        case .refunded, .partiallyRefunded:
            move(
                to: .refunding(Refunding(orderID: order.id, routerUserID: user, userPossible: !method.isPayLater)),
                "order \(order.id) was \(order.status.name)")
            return refundRest(of: order)
        default:
            return declining(orderID: order.id, status: order.status, user: user, "order \(order.id) is \(order.status.name)")
        }
    }

    /// What the order of an attempt waiting for its money says, read by the poll or reported by a
    /// webhook: paid → provisioning; expired or cancelled → expired; paid and given back before
    /// the access was made → refunded. Still payable: nil (wait), or past the grace after its
    /// expiry, a cancel at the gateway (a report never cancels: the poll does). Never expired by
    /// our clock alone: only what the gateway says ends it.
    private mutating func awaiting(_ data: AwaitingPayment, read order: GatewayOrder, reported: Bool) -> Action? {
        switch order.status {
        case .paid:
            return provision(order.id, "order \(order.id) paid")
        case .expired, .canceled:
            move(to: .expired, "order \(order.id) \(order.status.name) unpaid; nothing on the router")
            return .respond(.expired)
        case .refunded, .partiallyRefunded, .chargedBack:
            move(
                to: .refunding(Refunding(orderID: order.id, userPossible: false)),
                "order \(order.id) was paid and \(order.status.name) before its access was made")
            return refundRest(of: order)
        case .pendingPayment, .preAuthorized:
            guard !reported else { return nil }
            if data.cancelSent {
                reason = "order \(order.id) still takes money after its cancel; will try again"
                return .suspend(.awaitingPayment)
            }
            return data.cancelDue ? .cancelOrder(id: order.id) : nil
        case .declined, .other:
            // Never paid, and not payable any more.
            guard !reported else { return nil }
            move(to: .expired, "order \(order.id) is \(order.status.name), unpaid; nothing on the router")
            return .respond(.expired)
        }
    }

    /// The gateway does not know the order of an attempt waiting for its money. Past the grace
    /// after its expiry the attempt ends (nobody can have paid into it); before, it is asked again.
    private mutating func orderMissing(_ data: AwaitingPayment) -> Action {
        guard data.cancelDue else {
            reason = "the gateway does not know order \(data.orderID); will poll again"
            return .suspend(.awaitingPayment)
        }
        move(to: .expired, "order \(data.orderID) unknown to the gateway past its expiry; nothing on the router")
        return .respond(.expired)
    }

    /// A pay-later order is paid: its user is created, enabled, after the profile check.
    private mutating func provision(_ orderID: String, _ why: String) -> Action {
        move(to: .provisioning(Provisioning(orderID: orderID)), why)
        return .checkProfile
    }

    /// The order could not be looked up; the reconciler asks again later. With
    /// `absenceUnproven`, nothing was found and nothing can show there is none, so asking again
    /// gives the same answer: once the look-up grace has passed, the attempt ends as not charged
    /// (CONTRACT §6), and `absenceUnproven` is set so that the run warns about it.
    public mutating func orderLookUpFailed(
        absenceUnproven: Bool = false, ageSeconds: Int64 = 0, lookupGraceSeconds: Int64 = .max
    ) throws(InvalidEvent) -> Action {
        guard case .charging(let data) = state else { throw invalid("orderLookUpFailed") }
        guard absenceUnproven, recovering, ageSeconds >= lookupGraceSeconds else { return .suspend(.inVerification) }
        move(
            to: .declining(
                Declining(orderID: nil, routerUserID: data.routerUserID, cancelPending: false, answer: .notCompleted(status: nil))),
            "no order found by the attempt's reference after \(ageSeconds) s, and too many orders in its window to show "
                + "there is none: treated as not charged")
        self.absenceUnproven = true
        return removeUser()
    }

    /// The order as the gateway has it now (nil: it does not know it), read before a cancel or
    /// a refund. A paid order is never cancelled: its money goes back instead.
    public mutating func orderFetched(_ order: GatewayOrder?) throws(InvalidEvent) -> Action {
        switch state {
        case .charging(let data):
            // A recorded attempt that knew its order id but not its outcome.
            guard let order else {
                move(
                    to: .declining(
                        Declining(orderID: nil, routerUserID: data.routerUserID, cancelPending: false, answer: .notCompleted(status: nil))),
                    "the order \(data.orderID ?? "-") does not exist: not charged")
                return removeUser()
            }
            return try orderLookedUp(order, ageSeconds: 0, lookupGraceSeconds: .max)
        case .declining(var data):
            guard let order else {
                data.cancelPending = false
                state = .declining(data)
                return removeUser()
            }
            switch order.status {
            case .paid:
                // A 3-D Secure challenge completed late: the customer was told it failed.
                move(
                    to: .refunding(Refunding(orderID: order.id, routerUserID: data.routerUserID)),
                    "the unpaid order was paid later; refunding")
                return refundRest(of: order)
            case let status where status.isCancellable:
                return .cancelOrder(id: order.id)
            default:
                data.cancelPending = false
                state = .declining(data)
                return removeUser()
            }
        case .refunding:
            guard let order else { return settle() }
            return refundRest(of: order)
        case .awaitingPayment(let data):
            guard let order else { return orderMissing(data) }
            return awaiting(data, read: order, reported: false) ?? .suspend(.awaitingPayment)
        default:
            throw invalid("orderFetched")
        }
    }

    public mutating func orderFetchFailed(_ failure: GatewayFailure) throws(InvalidEvent) -> Action {
        switch state {
        case .charging:
            return try orderLookUpFailed()
        case .declining(var data):
            if failure == .notFound {
                data.cancelPending = false
                state = .declining(data)
                return removeUser()
            }
            // Still remove the user: access is what must never be granted. The reconciler cancels later.
            reason = "could not cancel the unpaid order; will retry"
            return removeUser()
        case .refunding:
            reason = "refund failed; will retry"
            return .suspend(.activationPending)
        case .awaitingPayment(let data):
            if failure == .notFound { return orderMissing(data) }
            reason = "waiting for the customer's money; could not read the order (\(failure)); will poll again"
            return .suspend(.awaitingPayment)
        default:
            throw invalid("orderFetchFailed")
        }
    }

    public mutating func orderCancelled() throws(InvalidEvent) -> Action {
        if case .awaitingPayment(var data) = state {
            // Read it again: money that came in before the cancel wins.
            data.cancelSent = true
            move(to: .awaitingPayment(data), "order \(data.orderID) cancelled at the gateway past its expiry; reading it again")
            return .fetchOrder(id: data.orderID)
        }
        guard case .declining(var data) = state else { throw invalid("orderCancelled") }
        data.cancelPending = false
        state = .declining(data)
        return removeUser()
    }

    public mutating func orderCancelFailed(_ failure: GatewayFailure) throws(InvalidEvent) -> Action {
        if case .awaitingPayment(var data) = state {
            switch failure {
            case .notFound:
                return orderMissing(data)
            case .rejected:
                // Not cancellable (paid, expired or cancelled meanwhile): its status decides.
                data.cancelSent = true
                state = .awaitingPayment(data)
                return .fetchOrder(id: data.orderID)
            default:
                reason = "could not cancel the expired order (\(failure)); will retry"
                return .suspend(.awaitingPayment)
            }
        }
        guard case .declining(var data) = state else { throw invalid("orderCancelFailed") }
        if failure == .notFound {
            data.cancelPending = false
            state = .declining(data)
        } else {
            reason = "could not cancel the unpaid order; will retry"
        }
        return removeUser()
    }

    public mutating func refunded() throws(InvalidEvent) -> Action {
        guard case .refunding = state else { throw invalid("refunded") }
        return settle()
    }

    public mutating func refundFailed() throws(InvalidEvent) -> Action {
        guard case .refunding = state else { throw invalid("refundFailed") }
        reason = "refund failed; will retry"
        return .suspend(.activationPending)
    }

    // MARK: After the request

    /// What the gateway reports of the attempt's order after the request (a webhook's order, read
    /// again from the API: its status is the truth, the event only the hint, so events that come
    /// late, twice or out of order decide the same). Nil when the report asks for nothing here:
    /// the saga's own run (the reconciler) reads the order again before it finishes, or the
    /// attempt is where the report leaves it already (CONTRACT §10, I7).
    /// - An order refunded or charged back takes the access back, delivered or about to be
    ///   (`paid`: its enable may have applied with the reply lost): `revoking`.
    /// - An order that kept money after its attempt gave up, or is giving up (declined, failed,
    ///   told it was not charged: a 3-D Secure challenge completed late, an order whose absence
    ///   was assumed), is refunded: `refunding`.
    /// - An attempt still charging takes the report as the look-up of its order.
    /// - `partially_refunded` of a delivered order is recorded only: the access is kept.
    public mutating func orderReported(_ order: GatewayOrder) throws(InvalidEvent) -> Action? {
        guard recovering else { throw invalid("orderReported") }
        let takenBack = order.status == .refunded || order.status == .chargedBack
        let moneyKept = order.status == .paid || order.status == .partiallyRefunded
        switch state {
        case .delivered(let orderID) where takenBack && orderID == order.id:
            move(
                to: .revoking(Revoking(orderID: orderID)),
                "order \(orderID) was \(order.status.name) after delivery; revoking the access")
            return .disableUser
        case .paid(let data) where takenBack && data.orderID == order.id:
            move(
                to: .revoking(Revoking(orderID: data.orderID, routerUserID: data.routerUserID)),
                "order \(data.orderID) was \(order.status.name) before its access was delivered; revoking the access")
            return .disableUser
        case .provisioning(let data) where takenBack && data.orderID == order.id:
            // A create whose reply was lost may have left an enabled user: it is disabled.
            move(
                to: .revoking(Revoking(orderID: data.orderID, routerUserID: data.routerUserID)),
                "order \(data.orderID) was \(order.status.name) before its access was delivered; revoking the access")
            return .disableUser
        case .charging:
            return try orderLookedUp(order, ageSeconds: 0, lookupGraceSeconds: .max)
        case .awaitingPayment(let data) where data.orderID == order.id:
            return awaiting(data, read: order, reported: true)
        case .declining(let data) where moneyKept:
            return refundLate(order, user: data.routerUserID)
        case .aborting(let data) where moneyKept:
            return refundLate(order, user: data.routerUserID)
        case .declined where moneyKept, .failed where moneyKept:
            return refundLate(order, user: nil)
        case .expired where moneyKept:
            // Paid into a reference that was dead already: the money goes back (CONTRACT §12).
            move(
                to: .refunding(Refunding(orderID: order.id, userPossible: false)),
                "order \(order.id) was \(order.status.name) after it expired; refunding")
            return refundRest(of: order)
        default:
            return nil
        }
    }

    public mutating func userDisabled() throws(InvalidEvent) -> Action {
        guard case .revoking(var data) = state else { throw invalid("userDisabled") }
        data.disabled = true
        move(to: .revoking(data), "hotspot user disabled; ending its sessions")
        return .removeSessions
    }

    public mutating func userDisableFailed(_ failure: RouterFailure) throws(InvalidEvent) -> Action {
        guard case .revoking(var data) = state else { throw invalid("userDisableFailed") }
        if failure == .notFound {
            // Nobody can log in as a user the router does not have, but a session it had may
            // outlive it: the sessions are ended all the same.
            data.disabled = true
            move(to: .revoking(data), "the hotspot user no longer exists; ending its sessions")
            return .removeSessions
        }
        reason = "could not disable the hotspot user (\(failure)); will retry"
        return .suspend(.revoked)
    }

    public mutating func sessionsRemoved() throws(InvalidEvent) -> Action {
        guard case .revoking(let data) = state, data.disabled else { throw invalid("sessionsRemoved") }
        move(to: .revoked, "order \(data.orderID) taken back: hotspot user disabled and its sessions ended; access revoked")
        return .respond(.revoked)
    }

    public mutating func sessionsRemoveFailed(_ failure: RouterFailure) throws(InvalidEvent) -> Action {
        guard case .revoking(let data) = state, data.disabled else { throw invalid("sessionsRemoveFailed") }
        reason = "hotspot user disabled; could not end its sessions (\(failure)); will retry"
        return .suspend(.revoked)
    }

    // MARK: Private

    private mutating func declining(orderID: String, status: GatewayOrder.Status, user: String?, _ why: String) -> Action {
        // A pending pay-later order is no 3-D Secure challenge: its customer is told it did not go through.
        let data = Declining(
            orderID: orderID, routerUserID: user, cancelPending: status.isCancellable,
            answer: .notCompleted(status: method.isPayLater ? nil : status))
        move(to: .declining(data), why)
        return data.cancelPending ? .fetchOrder(id: orderID) : removeUser()
    }

    /// An order that kept money for an attempt that gave up: the money goes back, then the user
    /// (if any is left) is removed.
    private mutating func refundLate(_ order: GatewayOrder, user: String?) -> Action {
        move(
            to: .refunding(Refunding(orderID: order.id, routerUserID: user, userPossible: !method.isPayLater || user != nil)),
            "order \(order.id) was \(order.status.name) after the attempt gave up; refunding")
        return refundRest(of: order)
    }

    /// Refunds what is left of `order`, or, with nothing left, goes on to remove the user. A
    /// charged-back order has nothing left: the bank took the money back, and the gateway
    /// refuses a refund of it.
    private mutating func refundRest(of order: GatewayOrder) -> Action {
        let rest = order.refundableCents
        guard rest > 0, order.status != .refunded, order.status != .chargedBack else { return settle() }
        return .refund(orderID: order.id, amountCents: rest)
    }

    private mutating func settle() -> Action {
        guard case .refunding(var data) = state else { preconditionFailure("settle outside refunding") }
        data.settled = true
        state = .refunding(data)
        return removeUser()
    }

    /// Whether the router may hold a user of this attempt. A pay-later attempt has none before
    /// its money arrives: not when its order could not be made (declining, aborting), nor when it
    /// was paid after its expiry.
    private var userPossible: Bool {
        switch state {
        case .declining, .aborting: !method.isPayLater
        case .refunding(let data): data.userPossible
        default: true
        }
    }

    /// Removes the attempt's router user, or goes straight on as if it had (`userDeleted`) when
    /// the router cannot hold one: a pay-later attempt never touches a router before its money.
    private mutating func removeUser() -> Action {
        guard !userPossible, let next = try? userDeleted() else { return .deleteUser }
        return next
    }

    private mutating func move(to next: State, _ why: String?) {
        state = next
        reason = why
    }

    private func invalid(_ event: String) -> InvalidEvent {
        InvalidEvent(event: event, state: state.recorded)
    }

    private static func nothingLeft(found: Bool) -> String {
        found ? "a user with this name belongs to someone else; nothing charged" : "no hotspot user was left behind; nothing charged"
    }
}

/// What the customer is told about a payment.
public enum PaymentResult: Sendable, Equatable {
    /// Paid and enabled: the receipt with the credentials.
    case delivered
    /// The card was declined, for the reason the customer is told.
    case declined(Decline)
    /// The order is not paid (3-D Secure pending, pre-authorised, expired…), or there is none
    /// (`status` nil). Nothing was charged.
    case notCompleted(status: GatewayOrder.Status?)
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
    /// Delivered, then refunded or charged back outside the product: the access was taken back.
    case revoked
    /// Pay later: the order waits for the customer's money (its reference, expiry and claim code
    /// are the answer).
    case awaitingPayment
    /// Pay later: the reference expired unpaid; nothing was charged.
    case expired
    /// Too many declined payments from this device, address or router lately (card testing).
    case tooManyAttempts
    /// Another worker holds this attempt right now.
    case inProgress
    /// The idempotency key was used with a different request.
    case idempotencyConflict

    /// Whether a retry of the same request may get another answer.
    public var isFinalForCustomer: Bool {
        switch self {
        case .inVerification, .activationPending, .inProgress, .idempotencyConflict: false
        default: true
        }
    }
}

/// Why a card was declined, as far as its customer is told (the wording is the API's).
public enum Decline: Sendable, Equatable {
    /// The bank refused for lack of funds: worth telling apart, since another card helps.
    case insufficientFunds
    /// The bank refused for another reason.
    case byBank
    /// The card never reached the bank: its token was used by someone else.
    case cardNotProcessed

    /// The reason behind a provider's decline code.
    public init(code: String) {
        self = code.contains("insufficient_funds") ? .insufficientFunds : .byBank
    }
}
