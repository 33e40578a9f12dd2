/// Runs the payment saga (`PaymentFlow`) against the ports: the request path (`pay`), retries of
/// the same request, and the reconciler (`reconcile`). It decides nothing: it carries out the
/// machine's actions one `step` at a time, feeds their results back, and commits every state
/// change through the ledger before the next side effect. When the ledger cannot commit, the run
/// stops and the reconciler finishes it once the database is back. `step` is public so that a
/// simulation can interleave many runs itself.
public final class PaymentService {
    public struct Settings: Sendable {
        /// Longer than the slowest request, so a live request's attempt is never taken over
        /// (`Configuration.paymentLeaseSeconds` derives it from the timeouts).
        public var leaseSeconds = 90
        /// A paid attempt still not enabled after this is refunded.
        public var activationDeadlineSeconds: Int64 = 600
        /// An unknown charge whose order is still not found after this is treated as not made.
        public var lookupGraceSeconds: Int64 = 120
        /// The gateway's timeout for a charge: its order, if any, was created within this after
        /// the charge was sent.
        public var chargeTimeoutSeconds: Int64 = 25
        /// How far the gateway's clock may be from ours, for the window an order is looked for in.
        public var orderClockSkewSeconds: Int64 = 60
        /// When an unfinished attempt is due again.
        public var retry = RetrySchedule.standard
        public var autoConnectBudgetMilliseconds = 5_000
        /// Card-testing limits (CONTRACT §8): declined payments allowed within the window, per
        /// device MAC, per client address and per router; 0 turns a limit off.
        public var declineWindowSeconds = 600
        public var declinesPerMAC = 3
        public var declinesPerAddress = 10
        public var declinesPerRouter = 50
        /// How long a profile found by its exact name is trusted before it is checked again;
        /// 0 checks before every payment. Safe to cache: the profile the router actually bound
        /// is compared after every create.
        public var profileCheckSeconds = 60

        public init() {}
    }

    /// A router's directories: one for provisioning, one with short timeouts for auto-connect.
    public struct RouterAccess {
        public var directory: any HotspotUserDirectory
        public var quick: any HotspotUserDirectory
        /// The hotspot server new users belong to.
        public var hotspotServer: String

        public init(directory: any HotspotUserDirectory, quick: any HotspotUserDirectory, hotspotServer: String) {
            self.directory = directory
            self.quick = quick
            self.hotspotServer = hotspotServer
        }
    }

    /// What the HTTP layer answers, plus what its access log and the reconciler's report want
    /// to know.
    public struct Outcome: Sendable, Equatable {
        public var response: StoredResponse
        public var attemptID: String?
        public var orderID: String?
        /// Where the attempt stands after this run, and why (nil when no attempt was run).
        public var state: PaymentAttempt.State? = nil
        public var reason: String? = nil
        /// Something an operator should hear of (the run logs it as a warning).
        public var warning: String? = nil
        /// The attempt was declared not charged without proof that no order exists.
        public var absenceUnproven = false
        /// The codigo of the answer stored for every retry, when one is: a clean-up that ends an
        /// attempt answered `pago_declinado` long ago renders its own answer, which is not stored.
        public var answeredCodigo: String? = nil
        /// Another worker holds the attempt, or took it over during this run: the run did not
        /// finish (for `applyOrderReport`: apply the report again later).
        public var heldElsewhere = false

        /// The attempt's outcome for the customer: the stored answer's codigo, else this run's.
        public var codigo: String { answeredCodigo ?? response.codigo }
    }

    private let ledger: any PaymentLedger
    private let gateway: any PaymentGateway
    private let rendering: any PaymentRendering
    private let clock: any WallClock
    private let settings: Settings
    private let owner: String
    private let fingerprint: (String) -> String
    private let routerAccess: (Int64) throws(StoreFailure) -> RouterAccess?
    private let gatewayKey: (Int64) throws(StoreFailure) -> GatewayKey?
    private let releaseLater: (String) -> Void
    private var random: any RandomNumberGenerator
    private let verifiedProfiles: VerifiedProfiles

    /// - Parameters:
    ///   - owner: this worker's name in leases (instance and thread).
    ///   - fingerprint: a keyed hash (HMAC) for idempotency keys derived from card tokens and for
    ///     request hashes, so no token is stored.
    ///   - releaseLater: called with an attempt whose lease could not be released (the database
    ///     was down); the process's reconciler releases it when the database is back, so the
    ///     attempt does not wait for the lease to expire.
    ///   - verifiedProfiles: profile checks to trust; one for the whole process, so a check is
    ///     shared by all its workers.
    ///   - random: where credentials and attempt ids come from (a CSPRNG; seeded in simulations).
    public init(
        ledger: any PaymentLedger, gateway: any PaymentGateway, rendering: any PaymentRendering, clock: any WallClock,
        settings: Settings, owner: String, fingerprint: @escaping (String) -> String,
        routerAccess: @escaping (Int64) throws(StoreFailure) -> RouterAccess?,
        gatewayKey: @escaping (Int64) throws(StoreFailure) -> GatewayKey?,
        releaseLater: @escaping (String) -> Void = { _ in },
        verifiedProfiles: VerifiedProfiles = VerifiedProfiles(),
        random: any RandomNumberGenerator = SystemRandomNumberGenerator()
    ) {
        self.random = random
        self.verifiedProfiles = verifiedProfiles
        self.ledger = ledger
        self.gateway = gateway
        self.rendering = rendering
        self.clock = clock
        self.settings = settings
        self.owner = owner
        self.fingerprint = fingerprint
        self.routerAccess = routerAccess
        self.gatewayKey = gatewayKey
        self.releaseLater = releaseLater
    }

    // MARK: Request path

    /// Answers one payment request (already authorised, product already resolved).
    public func pay(
        _ request: PaymentRequest, grant: AccessGrant, product: Product, idempotencyKey header: String?, requestID: String?,
        remoteAddress: String? = nil
    ) throws(ServiceError) -> Outcome {
        switch try begin(
            request, grant: grant, product: product, idempotencyKey: header, requestID: requestID, remoteAddress: remoteAddress)
        {
        case .answered(let outcome): return outcome
        case .running(var run): return drive(&run)
        }
    }

    /// How a request begins: answered at once (a replay, a conflict, a refusal), or a run to drive.
    public enum Beginning {
        case answered(Outcome)
        case running(PaymentRun)
    }

    /// Records the request's attempt (or finds the one recorded under its idempotency key) and
    /// returns its run without taking a step (`pay` drives it to its answer).
    public func begin(
        _ request: PaymentRequest, grant: AccessGrant, product: Product, idempotencyKey header: String?, requestID: String?,
        remoteAddress: String? = nil
    ) throws(ServiceError) -> Beginning {
        let key = header.map { "h:" + $0 } ?? "t:" + fingerprint("\(grant.company.id):\(request.cardToken)")
        let requestHash = fingerprint("\(grant.company.id)|\(grant.router.id)|\(request.canonicalFields)")
        let attempt = PaymentAttempt(
            id: newAttemptID(), companyID: grant.company.id, routerID: grant.router.id, productID: product.id,
            apiKeyID: grant.keyID, idempotencyKey: key, requestHash: requestHash, state: .pending, amount: product.price,
            productName: product.name, profileName: product.profileName, limitUptime: product.limitUptime,
            limitBytesTotal: product.limitBytesTotal, customerName: request.customerName, customerEmail: request.customerEmail,
            customerPhone: request.customerPhone, userType: request.userType,
            credentials: HotspotCredentials.generate(request.userType, policy: grant.company.credentialPolicy, using: &random),
            mac: request.mac, ip: request.ip, autoConnect: request.wantsAutoConnect, createdAt: clock.nowSeconds,
            requestID: requestID, remoteAddress: remoteAddress, validity: product.validity)

        let began: LedgerBegin
        do {
            began = try ledger.begin(
                attempt, owner: owner, leaseSeconds: settings.leaseSeconds,
                declineWindowSeconds: limitsCardTesting ? settings.declineWindowSeconds : nil)
        } catch {
            throw ServiceError(error)
        }
        switch began {
        case .started(let declines):
            if let declines, let refusal = cardTestingRefusal(attempt, declines) { return .answered(refusal) }
            var flow = PaymentFlow()
            let first = (try? flow.start()) ?? .respond(.routerUnavailable)
            var run = PaymentRun(
                attempt: attempt, flow: flow, next: first, cardToken: request.cardToken, customerPhoneFallback: grant.company.contactPhone)
            run.leaseEndsAt = clock.nowMicroseconds() + Int64(settings.leaseSeconds) * 1_000_000
            return .running(run)
        case .existing(let existing, let response, let leaseActive):
            guard existing.requestHash == requestHash else {
                return .answered(
                    Outcome(response: rendering.answer(.idempotencyConflict, attempt: nil), attemptID: existing.id, orderID: nil))
            }
            if let response { return .answered(Outcome(response: response, attemptID: existing.id, orderID: existing.orderID)) }
            // A delivery whose answer was never stored (its last write failed) is claimed, and
            // resuming it renders and stores the receipt; other final states wait for theirs.
            if leaseActive || (existing.state.isFinal && existing.state != .delivered) {
                return .answered(inProgress(existing))
            }
            let claimed: PaymentAttempt?
            do {
                claimed = try ledger.claim(attemptID: existing.id, owner: owner, leaseSeconds: settings.leaseSeconds)
            } catch {
                throw ServiceError(error)
            }
            guard let claimed else { return .answered(inProgress(existing)) }
            return resumed(claimed, customerPhoneFallback: grant.company.contactPhone)
        }
    }

    private var limitsCardTesting: Bool {
        settings.declinesPerMAC > 0 || settings.declinesPerAddress > 0 || settings.declinesPerRouter > 0
    }

    /// Refuses a new attempt when its device, address or router has too many recent declines.
    /// The attempt is kept (every attempt leaves a record) as failed, with nothing done.
    private func cardTestingRefusal(_ attempt: PaymentAttempt, _ counts: DeclineCounts) -> Outcome? {
        func over(_ count: Int, _ limit: Int) -> Bool { limit > 0 && count >= limit }
        let which =
            over(counts.mac, settings.declinesPerMAC) && attempt.mac != nil
            ? "device"
            : over(counts.address, settings.declinesPerAddress) && attempt.remoteAddress != nil
                ? "address"
                : over(counts.router, settings.declinesPerRouter) ? "router" : nil
        guard let which else { return nil }
        var refused = attempt
        refused.state = .failed
        refused.reason = "too many declined payments from this \(which) lately (card testing)"
        _ = try? ledger.save(refused, expecting: .pending, reason: refused.reason)
        return stop(refused, answering: .tooManyAttempts)
    }

    // MARK: Reconciler

    /// Drives up to `limit` due, unfinished attempts to the end of their run.
    @discardableResult
    public func reconcile(limit: Int = 20) throws(StoreFailure) -> [Outcome] {
        try claimDue(limit: limit).map { beginning in
            switch beginning {
            case .answered(let outcome): return outcome
            case .running(var run): return drive(&run)
            }
        }
    }

    /// Drives one unfinished attempt now, whatever its retry backoff (`hotspotctl reconcile
    /// --once`). Nil when it is final with its answer stored, unknown, or held by another worker.
    public func reconcile(attemptID: String) throws(StoreFailure) -> Outcome? {
        guard let attempt = try ledger.claim(attemptID: attemptID, owner: owner, leaseSeconds: settings.leaseSeconds) else {
            return nil
        }
        switch resumed(attempt, customerPhoneFallback: nil) {
        case .answered(let outcome): return outcome
        case .running(var run): return drive(&run)
        }
    }

    // MARK: After the request

    /// Applies what the gateway reports of an attempt's order after the request (a webhook's
    /// order, read again from the gateway's API by the caller), and drives the run that follows
    /// as the reconciler would: a delivered access whose order was refunded or charged back is
    /// revoked, money kept by an attempt that gave up goes back (`PaymentFlow.orderReported`).
    /// The attempt's lease is claimed even when it is final; a run that moves it to a non-final
    /// state reopens it, so the reconciler finishes what this run cannot (the router down).
    /// - Returns: nil when there was nothing to do: the report asks for nothing where the
    ///   attempt stands (applying a report again changes nothing, CONTRACT §10 I7), or the order
    ///   is not this attempt's (its `metadata.attempt_id`, amount or currency differ). An outcome
    ///   with `heldElsewhere` when another worker holds the attempt (or there is no such
    ///   attempt): nothing was done, apply the report later. Otherwise the run's outcome.
    public func applyOrderReport(_ order: GatewayOrder, attemptID: String) throws(StoreFailure) -> Outcome? {
        switch try beginOrderReport(order, attemptID: attemptID) {
        case nil: return nil
        case .answered(let outcome): return outcome
        case .running(var run): return drive(&run)
        }
    }

    /// `applyOrderReport` without a step: nil when there is nothing to do, the held outcome, or
    /// the run to drive (a simulation interleaves it with others).
    public func beginOrderReport(_ order: GatewayOrder, attemptID: String) throws(StoreFailure) -> Beginning? {
        guard
            let attempt = try ledger.claim(
                attemptID: attemptID, owner: owner, leaseSeconds: settings.leaseSeconds, includingFinished: true)
        else {
            var held = Outcome(response: rendering.answer(.inProgress, attempt: nil), attemptID: attemptID, orderID: order.id)
            held.heldElsewhere = true
            return .answered(held)
        }
        guard order.attemptID == attempt.id, order.amount == attempt.amount,
            var flow = PaymentFlow(
                resuming: attempt, ageSeconds: clock.nowSeconds - attempt.createdAt,
                activationDeadlineSeconds: settings.activationDeadlineSeconds),
            let first = try? flow.orderReported(order)
        else {
            release(attempt.id)
            return nil
        }
        var run = PaymentRun(attempt: attempt, flow: flow, next: first, cardToken: nil, customerPhoneFallback: nil)
        run.recovering = true
        run.leaseEndsAt = clock.nowMicroseconds() + Int64(settings.leaseSeconds) * 1_000_000
        return .running(run)
    }

    /// Claims up to `limit` due, unfinished attempts and returns their runs without a step.
    public func claimDue(limit: Int) throws(StoreFailure) -> [Beginning] {
        try ledger.claimDue(limit: limit, owner: owner, leaseSeconds: settings.leaseSeconds).map {
            resumed($0, customerPhoneFallback: nil)
        }
    }

    private func resumed(_ attempt: PaymentAttempt, customerPhoneFallback: String?) -> Beginning {
        guard
            var flow = PaymentFlow(
                resuming: attempt, ageSeconds: clock.nowSeconds - attempt.createdAt,
                activationDeadlineSeconds: settings.activationDeadlineSeconds)
        else {
            // A record without what its state needs: left for an operator, never guessed at.
            var outcome = conclude(attempt, saved: attempt, answer: rendering.answer(.inVerification, attempt: attempt), final: false)
            outcome.warning = "attempt \(attempt.id) is \(attempt.state.rawValue) without an order id; left for an operator"
            return .answered(outcome)
        }
        let first: PaymentFlow.Action
        do {
            first = try flow.resume()
        } catch {
            return .answered(inProgress(attempt))
        }
        var run = PaymentRun(attempt: attempt, flow: flow, next: first, cardToken: nil, customerPhoneFallback: customerPhoneFallback)
        run.recovering = true
        run.leaseEndsAt = clock.nowMicroseconds() + Int64(settings.leaseSeconds) * 1_000_000
        return .running(run)
    }

    // MARK: The runner

    /// Steps a run until it ends.
    public func drive(_ run: inout PaymentRun) -> Outcome {
        while true {
            if let outcome = step(&run) { return outcome }
        }
    }

    /// Carries out the run's next action: first commits what the machine changed (a run's last
    /// state is committed with its answer and the end of the lease, in one write), then makes
    /// the one port call the action asks for, and feeds its result to the machine. Returns the
    /// outcome when the run ends.
    public func step(_ run: inout PaymentRun) -> Outcome? {
        if let stopped = holdLease(&run) { return stopped }
        if let stopped = commit(&run) { return stopped }
        if run.next == .respond(.delivered) { return end(&run, .delivered, final: true) }
        let next: PaymentFlow.Action
        do throws(PaymentFlow.InvalidEvent) {
            next = try perform(&run)
        } catch {
            // A bug in the runner: stop here; the reconciler takes the attempt up again.
            assertionFailure("\(error)")
            run.warning = "\(error)"
            return end(&run, run.attempt.state == .pending ? .routerUnavailable : .inVerification, final: false)
        }
        run.next = next
        switch next {
        case .respond(let result) where result != .delivered: return end(&run, result, final: result.isFinalForCustomer)
        case .suspend(let result): return end(&run, result, final: result.isFinalForCustomer)
        default: return nil
        }
    }

    /// No side effect without the lease: a worker that stalled past half its lease (a paused
    /// process, a swapped-out VM) renews it first, and stops if another worker took the attempt
    /// over meanwhile. The lease outlasts every call a step makes, so a run that never stalls
    /// never renews: this costs the request path nothing.
    private func holdLease(_ run: inout PaymentRun) -> Outcome? {
        let now = clock.nowMicroseconds()
        let lease = Int64(settings.leaseSeconds) * 1_000_000
        guard now >= run.leaseEndsAt - lease / 2 else { return nil }
        do {
            guard try ledger.renewLease(attemptID: run.attempt.id, owner: owner, leaseSeconds: settings.leaseSeconds) else {
                return inProgress(run.attempt)
            }
        } catch {
            // Whether this worker still holds the attempt cannot be known: touch nothing.
            return Outcome(
                response: rendering.answer(run.saved.state == .pending ? .routerUnavailable : .inVerification, attempt: run.saved),
                attemptID: run.attempt.id, orderID: run.attempt.orderID, state: run.saved.state, reason: run.saved.reason,
                answeredCodigo: run.attempt.answeredCodigo)
        }
        run.leaseEndsAt = now + lease
        return nil
    }

    /// Copies the machine's state onto the record.
    private func sync(_ run: inout PaymentRun) {
        if run.flow.state.recorded == .charging, run.attempt.state != .charging { run.attempt.chargeSentAt = clock.nowSeconds }
        run.attempt.state = run.flow.state.recorded
        // A resumed flow keeps the recorded reason until it has its own.
        run.attempt.reason = run.flow.reason ?? run.attempt.reason
        run.attempt.orderID = run.flow.orderID ?? run.attempt.orderID
        run.attempt.routerUserID = run.flow.routerUserID ?? run.attempt.routerUserID
    }

    /// Copies the machine's state onto the record and saves it before any side effect.
    private func commit(_ run: inout PaymentRun) -> Outcome? {
        sync(&run)
        let attempt = run.attempt
        // A delivered payment is committed before the customer's login is tried (seconds at
        // most, and the reconciler must not take the attempt over meanwhile).
        let connectsFirst = run.next == .respond(.delivered) && attempt.autoConnect && attempt.mac != nil && !run.recovering
        guard !run.next.endsRun || connectsFirst, attempt != run.saved else { return nil }
        do {
            guard try ledger.save(attempt, expecting: run.saved.state, reason: attempt.reason) else { return inProgress(attempt) }
        } catch {
            // Nothing further may happen unrecorded. The reconciler resumes from `saved`.
            release(attempt.id)
            return Outcome(
                response: rendering.answer(run.saved.state == .pending ? .routerUnavailable : .inVerification, attempt: run.saved),
                attemptID: attempt.id, orderID: attempt.orderID, state: run.saved.state, reason: run.saved.reason,
                answeredCodigo: attempt.answeredCodigo)
        }
        run.saved = attempt
        return nil
    }

    /// The one port call of `run.next`, and the machine's answer to its result.
    private func perform(_ run: inout PaymentRun) throws(PaymentFlow.InvalidEvent) -> PaymentFlow.Action {
        var attempt = run.attempt
        defer { run.attempt = attempt }
        if run.resolved == nil {
            do {
                run.resolved = (try routerAccess(attempt.routerID), try gatewayKey(attempt.companyID))
            } catch {
                return try run.flow.dependenciesUnavailable()
            }
        }
        let key = run.resolved?.key
        guard let access = run.resolved?.access else { return try run.flow.dependenciesUnavailable() }
        let directory = access.directory

        switch run.next {
        case .checkProfile:
            if verifiedProfiles.trusts(attempt.profileName, routerID: attempt.routerID, now: clock.nowSeconds) {
                return try run.flow.profileChecked(exists: true)
            }
            switch Result(catching: { () throws(RouterFailure) in try directory.findProfile(named: attempt.profileName) }) {
            case .success(let profile):
                let exists = profile?.name == attempt.profileName
                if exists, settings.profileCheckSeconds > 0 {
                    verifiedProfiles.found(
                        attempt.profileName, routerID: attempt.routerID, until: clock.nowSeconds + Int64(settings.profileCheckSeconds))
                } else if !exists {
                    forgetProfile(of: attempt)
                }
                return try run.flow.profileChecked(exists: exists)
            case .failure(let error):
                // Others trust the entry while it is re-checked: a failed check ends that.
                forgetProfile(of: attempt)
                return try run.flow.profileCheckFailed(error)
            }

        case .createUser(let renewCredentials):
            if renewCredentials {
                // New credentials are committed (next step) before the create that uses them.
                attempt.credentials = HotspotCredentials.generate(
                    attempt.userType,
                    policy: CredentialPolicy(
                        usernameLength: attempt.credentials.username.count,
                        passwordLength: max(attempt.credentials.password.count, 4),
                        pinLength: attempt.credentials.username.count), using: &random)
                return .createUser(renewCredentials: false)
            }
            let user = newUser(attempt, server: access.hotspotServer)
            switch Result(catching: { () throws(RouterFailure) in try directory.createUser(user) }) {
            case .success(let created):
                return try run.flow.userCreated(id: created.id, profileMatches: boundToProduct(created, attempt))
            case .failure(let error):
                if error == .profileNotFound || error == .profileAmbiguous { forgetProfile(of: attempt) }
                return try run.flow.userCreateFailed(error)
            }

        case .lookUpUser:
            let name = attempt.credentials.username
            switch Result(catching: { () throws(RouterFailure) in try directory.findUser(named: name) }) {
            case .success(let user):
                return try run.flow.userLookedUp(
                    id: user?.id, ours: user?.comment == attempt.routerComment,
                    profileMatches: user.map { boundToProduct($0, attempt) } ?? false)
            case .failure(let error):
                return try run.flow.userLookUpFailed(error)
            }

        case .charge:
            // The machine charges only right after creating the user on the request path.
            guard let cardToken = run.cardToken else { preconditionFailure("a resumed attempt never charges") }
            // The token is spent: a second charge would be refused, and it is never kept.
            run.cardToken = nil
            guard let key else {
                return try run.flow.chargeCompleted(.configurationError(reason: "the company has no Conekta private key"))
            }
            let outcome = gateway.charge(
                chargeRequest(attempt, cardToken: cardToken, phoneFallback: run.customerPhoneFallback), using: key)
            if case .paid(let order) = outcome {
                attempt.cardBrand = order.cardBrand
                attempt.cardLast4 = order.cardLast4
            }
            return try run.flow.chargeCompleted(outcome)

        case .findOrder:
            guard let key else { return try run.flow.orderLookUpFailed() }
            let window = orderWindow(of: attempt)
            let age = clock.nowSeconds - attempt.createdAt
            let found = Result(catching: { () throws(GatewayFailure) in
                try gateway.findOrder(
                    attemptID: attempt.id, customerEmail: attempt.customerEmail, createdAfter: window.lowerBound,
                    createdBefore: window.upperBound, using: key)
            })
            switch found {
            case .success(let order):
                remember(order, in: &attempt)
                return try run.flow.orderLookedUp(order, ageSeconds: age, lookupGraceSeconds: settings.lookupGraceSeconds)
            case .failure(.absenceUnproven(let why)):
                let next = try run.flow.orderLookUpFailed(
                    absenceUnproven: true, ageSeconds: age, lookupGraceSeconds: settings.lookupGraceSeconds)
                if run.flow.absenceUnproven {
                    run.warning = "attempt declared not charged without proof that no order exists (\(why))"
                }
                return next
            case .failure:
                return try run.flow.orderLookUpFailed()
            }

        case .fetchOrder(let id):
            guard let key else { return try run.flow.orderFetchFailed(.configurationError("the company has no Conekta private key")) }
            switch Result(catching: { () throws(GatewayFailure) in try gateway.order(id: id, using: key) }) {
            case .success(let order):
                remember(order, in: &attempt)
                return try run.flow.orderFetched(order)
            case .failure(let error):
                return try run.flow.orderFetchFailed(error)
            }

        case .cancelOrder(let id):
            guard let key else { return try run.flow.orderCancelFailed(.configurationError("the company has no Conekta private key")) }
            switch Result(catching: { () throws(GatewayFailure) in try gateway.cancel(orderID: id, using: key) }) {
            case .success: return try run.flow.orderCancelled()
            case .failure(let error): return try run.flow.orderCancelFailed(error)
            }

        case .refund(let orderID, let amountCents):
            guard let key else { return try run.flow.refundFailed() }
            switch Result(catching: { () throws(GatewayFailure) in
                try gateway.refund(orderID: orderID, amountCents: amountCents, using: key)
            }) {
            case .success: return try run.flow.refunded()
            case .failure: return try run.flow.refundFailed()
            }

        case .enableUser:
            let target = attempt
            switch Result(catching: { () throws(RouterFailure) in
                try directory.setUserDisabled(id: try routerUserID(of: target, in: directory), disabled: false)
            }) {
            case .success: return try run.flow.userEnabled()
            case .failure(let error): return try run.flow.userEnableFailed(error)
            }

        case .deleteUser:
            let target = attempt
            switch Result(catching: { () throws(RouterFailure) in
                if let id = try? routerUserID(of: target, in: directory) {
                    try directory.deleteUser(id: id)
                } else if try directory.findUser(named: target.credentials.username)?.comment == target.routerComment {
                    throw RouterFailure.rejected("user present but its id unknown")
                }
            }) {
            case .success: return try run.flow.userDeleted()
            case .failure(let error): return try run.flow.userDeleteFailed(error)
            }

        case .disableUser:
            let target = attempt
            switch Result(catching: { () throws(RouterFailure) in try disable(target, in: directory) }) {
            case .success: return try run.flow.userDisabled()
            case .failure(let error): return try run.flow.userDisableFailed(error)
            }

        case .removeSessions:
            let target = attempt
            let server = access.hotspotServer
            switch Result(catching: { () throws(RouterFailure) in try endSessions(of: target, server: server, in: directory) }) {
            case .success: return try run.flow.sessionsRemoved()
            case .failure(let error): return try run.flow.sessionsRemoveFailed(error)
            }

        case .respond, .suspend:
            preconditionFailure("a run that ended is not stepped again")
        }
    }

    /// Ends a run: the receipt of a delivery (with auto-connect on the request path), or the
    /// machine's answer, committed with the attempt's state and the end of the lease.
    private func end(_ run: inout PaymentRun, _ result: PaymentResult, final: Bool) -> Outcome {
        sync(&run)
        var outcome: Outcome
        if result == .delivered {
            let report: AutoConnectReport
            if !run.recovering, run.attempt.autoConnect, let mac = run.attempt.mac, let access = run.resolved?.access {
                report = AutoConnector(directory: access.quick, clock: clock, budgetMilliseconds: settings.autoConnectBudgetMilliseconds)
                    .connect(credentials: run.attempt.credentials, mac: mac, ip: run.attempt.ip)
            } else {
                report = run.recovering ? lateReport(run.attempt) : .notRequested(mac: run.attempt.mac, ip: run.attempt.ip)
            }
            let receipt = rendering.receipt(run.attempt, completedAtMicroseconds: clock.nowMicroseconds(), autoConnect: report)
            outcome = conclude(run.attempt, saved: run.saved, answer: receipt, final: true)
        } else {
            outcome = conclude(run.attempt, saved: run.saved, answer: rendering.answer(result, attempt: run.attempt), final: final)
        }
        outcome.warning = run.warning
        outcome.absenceUnproven = run.flow.absenceUnproven
        return outcome
    }

    // MARK: Helpers

    /// The card an order names, kept on the record for the operator.
    private func remember(_ order: GatewayOrder?, in attempt: inout PaymentAttempt) {
        guard let order else { return }
        attempt.cardBrand = order.cardBrand ?? attempt.cardBrand
        attempt.cardLast4 = order.cardLast4 ?? attempt.cardLast4
    }

    /// When the attempt's order, if any, was created (unix seconds): after its charge was sent
    /// (committed before it was) and within the gateway's timeout, each end widened by the
    /// clocks' possible skew. An attempt recorded before that moment was kept: from its creation
    /// to its lease's end.
    private func orderWindow(of attempt: PaymentAttempt) -> ClosedRange<Int64> {
        let skew = settings.orderClockSkewSeconds
        guard let sent = attempt.chargeSentAt else {
            return (attempt.createdAt - skew)...(attempt.createdAt + Int64(settings.leaseSeconds) + skew)
        }
        return (sent - skew)...(sent + settings.chargeTimeoutSeconds + skew)
    }

    /// Ends a run: commits the attempt's state with the answer (when final for the customer) and
    /// the end of the lease. When that write fails nothing was committed, so the customer is
    /// answered from the last committed state and the reconciler resumes from there.
    private func conclude(_ attempt: PaymentAttempt, saved: PaymentAttempt, answer: StoredResponse, final: Bool) -> Outcome {
        do {
            guard
                try ledger.conclude(
                    attempt, expecting: saved.state, reason: attempt.reason, storing: final ? answer : nil,
                    retry: settings.retry)
            else { return inProgress(attempt) }
        } catch {
            release(attempt.id)
            // The state itself was committed earlier (a delivery before its auto-connect): only the
            // stored answer and the end of the lease are missing, which the reconciler completes.
            if saved.state == attempt.state {
                return Outcome(
                    response: answer, attemptID: attempt.id, orderID: attempt.orderID, state: saved.state, reason: saved.reason,
                    answeredCodigo: attempt.answeredCodigo)
            }
            return Outcome(
                response: rendering.answer(saved.state == .pending ? .routerUnavailable : .inVerification, attempt: saved),
                attemptID: attempt.id, orderID: attempt.orderID, state: saved.state, reason: saved.reason,
                answeredCodigo: attempt.answeredCodigo)
        }
        return Outcome(
            response: answer, attemptID: attempt.id, orderID: attempt.orderID, state: attempt.state, reason: attempt.reason,
            answeredCodigo: attempt.answeredCodigo ?? (final ? answer.codigo : nil))
    }

    private func release(_ attemptID: String, storing response: StoredResponse? = nil) {
        do {
            try ledger.release(attemptID: attemptID, storing: response, retry: settings.retry)
        } catch {
            releaseLater(attemptID)
        }
    }

    /// Answers, stores the answer when it is final for the customer, and lets go of the attempt.
    private func stop(_ attempt: PaymentAttempt, answering result: PaymentResult) -> Outcome {
        let response = rendering.answer(result, attempt: attempt)
        let final = result.isFinalForCustomer ? response : nil
        release(attempt.id, storing: final)
        return Outcome(
            response: response, attemptID: attempt.id, orderID: attempt.orderID, state: attempt.state, reason: attempt.reason,
            answeredCodigo: attempt.answeredCodigo ?? final?.codigo)
    }

    private func inProgress(_ attempt: PaymentAttempt) -> Outcome {
        var outcome = Outcome(response: rendering.answer(.inProgress, attempt: attempt), attemptID: attempt.id, orderID: attempt.orderID)
        outcome.heldElsewhere = true
        return outcome
    }

    /// Auto-connect is not attempted after the request is gone.
    private func lateReport(_ attempt: PaymentAttempt) -> AutoConnectReport {
        guard attempt.autoConnect else { return .notRequested(mac: attempt.mac, ip: attempt.ip) }
        return AutoConnectReport(outcome: .activatedLater, mac: attempt.mac?.value, ip: attempt.ip?.value)
    }

    private func routerUserID(of attempt: PaymentAttempt, in directory: any HotspotUserDirectory) throws(RouterFailure) -> String {
        if let id = attempt.routerUserID { return id }
        guard let user = try directory.findUser(named: attempt.credentials.username), user.comment == attempt.routerComment else {
            throw .notFound
        }
        return user.id
    }

    /// Disables the attempt's user: by the recorded `.id`, else (or when that id is gone) the user
    /// found by name whose comment names the attempt. `.notFound` when the router has neither.
    private func disable(_ attempt: PaymentAttempt, in directory: any HotspotUserDirectory) throws(RouterFailure) {
        do {
            try directory.setUserDisabled(id: try routerUserID(of: attempt, in: directory), disabled: true)
        } catch .notFound where attempt.routerUserID != nil {
            guard let user = try directory.findUser(named: attempt.credentials.username), user.comment == attempt.routerComment
            else { throw .notFound }
            try directory.setUserDisabled(id: user.id, disabled: true)
        }
    }

    /// Ends every active session of the attempt's user on its hotspot server (`all`: any server;
    /// a user of the same name on another server is someone else's).
    private func endSessions(of attempt: PaymentAttempt, server: String, in directory: any HotspotUserDirectory) throws(RouterFailure) {
        for session in try directory.activeSessions(user: attempt.credentials.username)
        where server == "all" || session.server == nil || session.server == server {
            try directory.removeSession(id: session.id)
        }
    }

    /// Whether the router bound the user to the product's profile itself, not to another one
    /// that the name is a prefix of. A mismatch also drops the cached profile check.
    private func boundToProduct(_ user: HotspotUser, _ attempt: PaymentAttempt) -> Bool {
        guard user.profile == attempt.profileName else {
            forgetProfile(of: attempt)
            return false
        }
        return true
    }

    private func forgetProfile(of attempt: PaymentAttempt) {
        verifiedProfiles.forget(attempt.profileName, routerID: attempt.routerID)
    }

    private func newUser(_ attempt: PaymentAttempt, server: String) -> NewHotspotUser {
        NewHotspotUser(
            name: attempt.credentials.username, password: attempt.credentials.password, profile: attempt.profileName,
            server: server, disabled: true, comment: attempt.routerComment,
            macAddress: attempt.autoConnect ? attempt.mac : nil, limitUptime: attempt.limitUptime,
            limitBytesTotal: attempt.limitBytesTotal)
    }

    private func chargeRequest(_ attempt: PaymentAttempt, cardToken: String, phoneFallback: String?) -> ChargeRequest {
        ChargeRequest(
            attemptID: attempt.id, amount: attempt.amount, itemName: attempt.productName, customerName: attempt.customerName,
            customerEmail: attempt.customerEmail, customerPhone: attempt.customerPhone ?? phoneFallback ?? "",
            cardToken: cardToken, metadata: ["router_id": String(attempt.routerID), "product_id": String(attempt.productID)])
    }

    /// A random (version 4) UUID from the CSPRNG.
    private func newAttemptID() -> String {
        var bytes = RandomBytes.bytes(16, using: &random)
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let characters = Array(Hex.encode(bytes))
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "-")
    }
}

@available(*, unavailable, message: "a payment service and its adapters belong to one thread")
extension PaymentService: Sendable {}
