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
        /// How often an attempt waiting for its cash or SPEI money has its order read (CONTRACT
        /// §12): every minute at first, backing off to every 10 minutes, and at its expiry.
        public var payLaterPoll = RetrySchedule(baseSeconds: 60, ceilingSeconds: 600)
        /// An order still payable this long after its reference expired is cancelled at the gateway.
        public var payLaterCancelGraceSeconds: Int64 = 3_600
        /// Failed claim-code guesses allowed within the window, per device MAC, per client address
        /// and per router (like card testing, CONTRACT §8); 0 turns a limit off.
        public var claimGuessWindowSeconds = 600
        public var claimGuessesPerMAC = 10
        public var claimGuessesPerAddress = 10
        public var claimGuessesPerRouter = 100
        /// A claim of an attempt still waiting for its money (or its user) reads its order again
        /// when nothing did for this long, so a customer who just paid need not wait for the poll.
        public var claimRefreshSeconds: Int64 = 10

        public init() {}
    }

    /// A state change just committed (for the metrics of pay-later orders paid and expired).
    public struct StateChange: Sendable, Equatable {
        public var attemptID: String
        public var method: PaymentMethod
        public var from: PaymentAttempt.State
        public var to: PaymentAttempt.State

        public init(attemptID: String, method: PaymentMethod, from: PaymentAttempt.State, to: PaymentAttempt.State) {
            self.attemptID = attemptID
            self.method = method
            self.from = from
            self.to = to
        }
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
        /// A router call of this run got no answer (unreachable, timed out, or its slots stayed
        /// full): the reconciler holds the router's other attempts back for a while.
        public var routerUnanswered = false

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
    private let observe: (StateChange) -> Void

    /// - Parameters:
    ///   - owner: this worker's name in leases (instance and thread).
    ///   - fingerprint: a keyed hash (HMAC) for idempotency keys derived from card tokens and for
    ///     request hashes, so no token is stored.
    ///   - releaseLater: called with an attempt whose lease could not be released (the database
    ///     was down); the process's reconciler releases it when the database is back, so the
    ///     attempt does not wait for the lease to expire.
    ///   - verifiedProfiles: profile checks to trust; one for the whole process, so a check is
    ///     shared by all its workers.
    ///   - random: where credentials, claim codes and attempt ids come from (a CSPRNG; seeded in
    ///     simulations).
    ///   - observe: called with every state change once it is committed.
    public init(
        ledger: any PaymentLedger, gateway: any PaymentGateway, rendering: any PaymentRendering, clock: any WallClock,
        settings: Settings, owner: String, fingerprint: @escaping (String) -> String,
        routerAccess: @escaping (Int64) throws(StoreFailure) -> RouterAccess?,
        gatewayKey: @escaping (Int64) throws(StoreFailure) -> GatewayKey?,
        releaseLater: @escaping (String) -> Void = { _ in },
        verifiedProfiles: VerifiedProfiles = VerifiedProfiles(),
        random: any RandomNumberGenerator = SystemRandomNumberGenerator(),
        observe: @escaping (StateChange) -> Void = { _ in }
    ) {
        self.random = random
        self.observe = observe
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
        if request.method.isPayLater, !grant.company.payLater.methods.contains(request.method) {
            throw .paymentMethodUnavailable
        }
        let now = clock.nowSeconds
        let requestHash = fingerprint("\(grant.company.id)|\(grant.router.id)|\(request.canonicalFields)")
        let key: String
        if let header {
            key = "h:" + header
        } else if request.method.isPayLater {
            // No token makes a pay-later request unique: the same request within the same ten
            // minutes is the same purchase (a double submit gets the same reference).
            key = "p:" + fingerprint("\(requestHash)|\(now / 600)")
        } else {
            key = "t:" + fingerprint("\(grant.company.id):\(request.cardToken)")
        }
        let claimCode = request.method.isPayLater ? ClaimCode.generate(using: &random) : nil
        var attempt = PaymentAttempt(
            id: newAttemptID(), companyID: grant.company.id, routerID: grant.router.id, productID: product.id,
            apiKeyID: grant.keyID, idempotencyKey: key, requestHash: requestHash, state: .pending, amount: product.price,
            productName: product.name, profileName: product.profileName, limitUptime: product.limitUptime,
            limitBytesTotal: product.limitBytesTotal, customerName: request.customerName, customerEmail: request.customerEmail,
            customerPhone: request.customerPhone, userType: request.userType,
            credentials: HotspotCredentials.generate(request.userType, policy: grant.company.credentialPolicy, using: &random),
            mac: request.mac, ip: request.ip, autoConnect: request.wantsAutoConnect, createdAt: now,
            requestID: requestID, remoteAddress: remoteAddress, validity: product.validity, method: request.method)
        if let claimCode {
            attempt.claimCodeHash = claimCodeHash(claimCode)
            attempt.payLaterExpiresAt = now + Int64(grant.company.payLater.expirySeconds)
        }

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
            var flow = PaymentFlow(method: request.method)
            let first = (try? flow.start()) ?? .respond(.routerUnavailable)
            var run = PaymentRun(
                attempt: attempt, flow: flow, next: first, cardToken: request.method.isPayLater ? nil : request.cardToken,
                customerPhoneFallback: grant.company.contactPhone)
            run.claimCode = claimCode
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

    // MARK: Pay later: redeeming a claim code

    /// A claim of a pay-later access (`POST /api/v1/payments/canjear`, CONTRACT §12): the code as
    /// the customer typed it, and the device to log in.
    public struct Claim: Sendable, Equatable {
        /// As typed; never logged.
        public var code: String
        public var mac: MACAddress?
        public var ip: IPv4Address?
        public var autoConnect: Bool

        public init(code: String, mac: MACAddress? = nil, ip: IPv4Address? = nil, autoConnect: Bool = false) {
            self.code = code
            self.mac = mac
            self.ip = ip
            self.autoConnect = autoConnect
        }
    }

    /// What a claim comes to.
    public enum Redemption: Sendable, Equatable {
        /// Paid and delivered: the receipt (credentials, auto-connect), as a card purchase's.
        case delivered(StoredResponse, attempt: PaymentAttempt)
        /// Not delivered yet: waiting for the money (`awaitingPayment`), or paid and the user
        /// being made (`provisioning`).
        case pending(PaymentAttempt)
        /// No access to hand out any more.
        case ended(ClaimEnd, attempt: PaymentAttempt)
        /// No attempt of this company's router has that code (a failed guess, counted).
        case unknownCode
        /// Too many failed guesses lately from this device, address or router: nothing was
        /// looked up.
        case tooManyGuesses(retryAfterSeconds: Int)
    }

    /// Redeems a claim code on the router of `grant`. Failed guesses are counted per device,
    /// client address and router, and past a limit nothing is looked up (CONTRACT §8). A code is
    /// found only among the pay-later attempts of the key's company and router. An attempt still
    /// waiting for its money (or its user) that nothing ran for a while is run now, as the
    /// reconciler would: its order is read, and a paid one gets its user, so a customer who just
    /// paid need not wait for the poll.
    public func redeem(_ claim: Claim, grant: AccessGrant, remoteAddress: String?) throws(ServiceError) -> Redemption {
        do {
            if let refusal = try claimGuessRefusal(claim, routerID: grant.router.id, remoteAddress: remoteAddress) { return refusal }
            guard let code = ClaimCode(typed: claim.code),
                let found = try ledger.redeemable(
                    claimCodeHash: claimCodeHash(code), companyID: grant.company.id, routerID: grant.router.id)
            else {
                try ledger.recordFailedClaim(
                    companyID: grant.company.id, routerID: grant.router.id, mac: claim.mac, address: remoteAddress)
                return .unknownCode
            }
            var attempt = found.attempt
            if [.pending, .charging, .awaitingPayment, .provisioning].contains(attempt.state), !found.leased,
                found.idleSeconds >= settings.claimRefreshSeconds
            {
                attempt = try refreshed(attempt)
            }
            switch attempt.state {
            case .delivered:
                return .delivered(receipt(attempt, for: claim), attempt: attempt)
            case .pending, .charging, .paid, .awaitingPayment, .provisioning:
                return .pending(attempt)
            case .expired:
                return .ended(.expired, attempt: attempt)
            case .refunding, .refunded:
                return .ended(.refunded, attempt: attempt)
            case .revoking, .revoked:
                return .ended(.revoked, attempt: attempt)
            case .declining, .declined, .aborting, .failed:
                // Its order was never made, so its code was never shown: nobody's.
                return .unknownCode
            }
        } catch {
            throw ServiceError(error)
        }
    }

    private func claimGuessRefusal(_ claim: Claim, routerID: Int64, remoteAddress: String?) throws(StoreFailure) -> Redemption? {
        let limits = (settings.claimGuessesPerMAC, settings.claimGuessesPerAddress, settings.claimGuessesPerRouter)
        guard limits.0 > 0 || limits.1 > 0 || limits.2 > 0 else { return nil }
        let counts = try ledger.failedClaims(
            routerID: routerID, mac: claim.mac, address: remoteAddress, windowSeconds: settings.claimGuessWindowSeconds)
        func over(_ count: Int, _ limit: Int) -> Bool { limit > 0 && count >= limit }
        guard
            over(counts.mac, limits.0) && claim.mac != nil || over(counts.address, limits.1) && remoteAddress != nil
                || over(counts.router, limits.2)
        else { return nil }
        return .tooManyGuesses(retryAfterSeconds: settings.claimGuessWindowSeconds)
    }

    /// Runs a pay-later attempt now if nobody holds it: the attempt as it ends this run, in the
    /// state last committed (a run whose last write failed answers from what the ledger holds).
    private func refreshed(_ attempt: PaymentAttempt) throws(StoreFailure) -> PaymentAttempt {
        guard let claimed = try ledger.claim(attemptID: attempt.id, owner: owner, leaseSeconds: settings.leaseSeconds) else {
            return attempt
        }
        guard case .running(var run) = resumed(claimed, customerPhoneFallback: nil) else { return attempt }
        let outcome = drive(&run)
        var now = run.attempt
        now.state = outcome.state ?? attempt.state
        return now
    }

    /// The receipt of a delivered pay-later access, with the claiming device logged in when asked
    /// (as a card purchase's, within its budget).
    private func receipt(_ attempt: PaymentAttempt, for claim: Claim) -> StoredResponse {
        var report = AutoConnectReport.notRequested(mac: claim.mac, ip: claim.ip)
        if claim.autoConnect, let mac = claim.mac {
            if let access = (try? routerAccess(attempt.routerID)) ?? nil {
                report = AutoConnector(directory: access.quick, clock: clock, budgetMilliseconds: settings.autoConnectBudgetMilliseconds)
                    .connect(credentials: attempt.credentials, mac: mac, ip: claim.ip)
            } else {
                report = AutoConnectReport(outcome: .routerUnreachable, mac: mac.value, ip: claim.ip?.value)
            }
        }
        return rendering.receipt(attempt, completedAtMicroseconds: clock.nowMicroseconds(), autoConnect: report)
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
        guard order.attemptID == attempt.id, order.amount == attempt.amount, var flow = flow(resuming: attempt),
            let first = try? flow.orderReported(order)
        else {
            release(attempt)
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

    /// An attempt claimed for a pool of reconciler threads (`claimDue(_:owner:)`), to be run by
    /// whichever of them the pool hands it to (`reconcile(_:)`).
    public struct ClaimedAttempt: Sendable {
        public let attempt: PaymentAttempt
        /// The claim's lease owner: one name per claim, so that a run whose lease lapsed while it
        /// waited, and which another claim (of this process or another) took over, stops.
        public let owner: String
        /// When the claim's lease runs out, by this service's clock (microseconds).
        public let leaseEndsAt: Int64

        public var routerID: Int64 { attempt.routerID }
    }

    /// Claims due, unfinished attempts as `claim` allows in all and per router, under `owner`
    /// (a name for this claim alone, `host:pid/…`), for `reconcile(_:)`.
    public func claimDue(_ claim: DueClaim, owner: String) throws(StoreFailure) -> [ClaimedAttempt] {
        // Counted from before the statement: the run renews the lease early rather than late.
        let leaseEndsAt = clock.nowMicroseconds() + Int64(settings.leaseSeconds) * 1_000_000
        return try ledger.claimDue(claim, owner: owner, leaseSeconds: settings.leaseSeconds).map {
            ClaimedAttempt(attempt: $0, owner: owner, leaseEndsAt: leaseEndsAt)
        }
    }

    /// Drives an attempt `claimDue(_:owner:)` claimed (by this service or another of the process)
    /// to the end of its run, under the claim's lease: renewed first if it is past half (the
    /// attempt waited), and the run stops if another worker took the attempt over meanwhile.
    public func reconcile(_ claimed: ClaimedAttempt) -> Outcome {
        switch resumed(claimed.attempt, customerPhoneFallback: nil) {
        case .answered(let outcome): return outcome
        case .running(var run):
            run.leaseOwner = claimed.owner
            run.leaseEndsAt = claimed.leaseEndsAt
            return drive(&run)
        }
    }

    /// Gives back claimed attempts that did not run, due again in `seconds`.
    public func postpone(_ claimed: [ClaimedAttempt], seconds: Int) throws(StoreFailure) {
        for (owner, attempts) in Dictionary(grouping: claimed, by: \.owner) {
            try ledger.postpone(attemptIDs: attempts.map(\.attempt.id), owner: owner, seconds: seconds)
        }
    }

    /// The machine of a recorded attempt, as of now.
    private func flow(resuming attempt: PaymentAttempt) -> PaymentFlow? {
        PaymentFlow(
            resuming: attempt, ageSeconds: clock.nowSeconds - attempt.createdAt,
            activationDeadlineSeconds: settings.activationDeadlineSeconds, payLaterGraceSeconds: settings.payLaterCancelGraceSeconds)
    }

    private func resumed(_ attempt: PaymentAttempt, customerPhoneFallback: String?) -> Beginning {
        guard var flow = flow(resuming: attempt) else {
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
        switch run.next {
        case .respond(let result), .suspend(let result):
            // A run whose first action ends it (a recorded attempt with nothing left to do), or a
            // delivery committed before its receipt.
            return end(&run, result, final: result == .delivered || result.isFinalForCustomer)
        default:
            break
        }
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
            guard try ledger.renewLease(attemptID: run.attempt.id, owner: run.leaseOwner ?? owner, leaseSeconds: settings.leaseSeconds)
            else {
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
            observeChange(from: run.saved, to: attempt)
        } catch {
            // Nothing further may happen unrecorded. The reconciler resumes from `saved`.
            release(run.saved)
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
        if run.resolved == nil {
            do {
                run.resolved = (try routerAccess(run.attempt.routerID), try gatewayKey(run.attempt.companyID))
            } catch {
                return try run.flow.dependenciesUnavailable()
            }
        }
        let key = run.resolved?.key
        guard let access = run.resolved?.access else {
            // A card attempt needs its router throughout; a pay-later one only to make its user.
            guard run.flow.method.isPayLater else { return try run.flow.dependenciesUnavailable() }
            guard !run.next.needsRouter else { return try run.flow.routerGone() }
            return try performWithGateway(&run, key: key)
        }
        return try run.next.needsRouter ? performWithRouter(&run, access: access) : performWithGateway(&run, key: key)
    }

    /// The one router call of `run.next`, and the machine's answer to it.
    private func performWithRouter(
        _ run: inout PaymentRun, access: RouterAccess
    ) throws(PaymentFlow.InvalidEvent)
        -> PaymentFlow.Action
    {
        var attempt = run.attempt
        defer { run.attempt = attempt }
        let directory = access.directory

        switch run.next {
        case .checkProfile:
            if verifiedProfiles.trusts(attempt.profileName, routerID: attempt.routerID, now: clock.nowSeconds) {
                return try run.flow.profileChecked(exists: true)
            }
            switch noted(Result(catching: { () throws(RouterFailure) in try directory.findProfile(named: attempt.profileName) }), in: &run)
            {
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

        case .createUser(let renewCredentials), .provisionUser(let renewCredentials):
            let enabled = run.next == .provisionUser(renewCredentials: renewCredentials)
            if renewCredentials {
                // New credentials are committed (next step) before the create that uses them.
                attempt.credentials = HotspotCredentials.generate(
                    attempt.userType,
                    policy: CredentialPolicy(
                        usernameLength: attempt.credentials.username.count,
                        passwordLength: max(attempt.credentials.password.count, 4),
                        pinLength: attempt.credentials.username.count), using: &random)
                return enabled ? .provisionUser(renewCredentials: false) : .createUser(renewCredentials: false)
            }
            let user = newUser(attempt, server: access.hotspotServer, enabled: enabled)
            switch noted(Result(catching: { () throws(RouterFailure) in try directory.createUser(user) }), in: &run) {
            case .success(let created):
                // Kept on the record whatever the next state holds (a delivered one holds no user id).
                attempt.routerUserID = created.id
                return try run.flow.userCreated(id: created.id, profileMatches: boundToProduct(created, attempt))
            case .failure(let error):
                if error == .profileNotFound || error == .profileAmbiguous { forgetProfile(of: attempt) }
                return try run.flow.userCreateFailed(error)
            }

        case .lookUpUser:
            let name = attempt.credentials.username
            switch noted(Result(catching: { () throws(RouterFailure) in try directory.findUser(named: name) }), in: &run) {
            case .success(let user):
                if let user, user.comment == attempt.routerComment, attempt.routerUserID == nil { attempt.routerUserID = user.id }
                return try run.flow.userLookedUp(
                    id: user?.id, ours: user?.comment == attempt.routerComment,
                    profileMatches: user.map { boundToProduct($0, attempt) } ?? false)
            case .failure(let error):
                return try run.flow.userLookUpFailed(error)
            }

        case .enableUser:
            let target = attempt
            switch noted(
                Result(catching: { () throws(RouterFailure) in
                    try directory.setUserDisabled(id: try routerUserID(of: target, in: directory), disabled: false)
                }), in: &run)
            {
            case .success: return try run.flow.userEnabled()
            case .failure(let error): return try run.flow.userEnableFailed(error)
            }

        case .deleteUser:
            let target = attempt
            switch noted(
                Result(catching: { () throws(RouterFailure) in
                    if let id = try? routerUserID(of: target, in: directory) {
                        try directory.deleteUser(id: id)
                    } else if try directory.findUser(named: target.credentials.username)?.comment == target.routerComment {
                        throw RouterFailure.rejected("user present but its id unknown")
                    }
                }), in: &run)
            {
            case .success: return try run.flow.userDeleted()
            case .failure(let error): return try run.flow.userDeleteFailed(error)
            }

        case .disableUser:
            let target = attempt
            switch noted(Result(catching: { () throws(RouterFailure) in try disable(target, in: directory) }), in: &run) {
            case .success: return try run.flow.userDisabled()
            case .failure(let error): return try run.flow.userDisableFailed(error)
            }

        case .removeSessions:
            let target = attempt
            let server = access.hotspotServer
            switch noted(
                Result(catching: { () throws(RouterFailure) in try endSessions(of: target, server: server, in: directory) }), in: &run)
            {
            case .success: return try run.flow.sessionsRemoved()
            case .failure(let error): return try run.flow.sessionsRemoveFailed(error)
            }

        case .charge, .findOrder, .fetchOrder, .cancelOrder, .refund, .respond, .suspend:
            preconditionFailure("not a router action: \(run.next)")
        }
    }

    /// A router call's result, noting on the run a call the router did not answer: the reconciler
    /// holds that router back (`ReconcileSchedule`).
    private func noted<T>(_ result: Result<T, RouterFailure>, in run: inout PaymentRun) -> Result<T, RouterFailure> {
        if case .failure(let failure) = result, failure.isUnanswered { run.routerUnanswered = true }
        return result
    }

    /// The one gateway call of `run.next` (no router needed), and the machine's answer to it.
    private func performWithGateway(
        _ run: inout PaymentRun, key: GatewayKey?
    ) throws(PaymentFlow.InvalidEvent)
        -> PaymentFlow.Action
    {
        var attempt = run.attempt
        defer { run.attempt = attempt }
        switch run.next {
        case .charge where attempt.method.isPayLater:
            // Sent once, on the request path; a lost reply is looked up by attempt id.
            guard let key else {
                return try run.flow.chargeCompleted(.configurationError(reason: "the company has no Conekta private key"))
            }
            let expiresAt = attempt.payLaterExpiresAt ?? clock.nowSeconds + Int64(PayLaterSettings.defaultExpirySeconds)
            let outcome = gateway.charge(
                chargeRequest(
                    attempt, payment: .payLater(attempt.method, expiresAt: expiresAt), phoneFallback: run.customerPhoneFallback),
                using: key)
            if case .awaitingPayment(_, let charge) = outcome { remember(charge, in: &attempt) }
            return try run.flow.chargeCompleted(outcome)

        case .charge:
            // The machine charges only right after creating the user on the request path.
            guard let cardToken = run.cardToken else { preconditionFailure("a resumed attempt never charges") }
            // The token is spent: a second charge would be refused, and it is never kept.
            run.cardToken = nil
            guard let key else {
                return try run.flow.chargeCompleted(.configurationError(reason: "the company has no Conekta private key"))
            }
            let outcome = gateway.charge(
                chargeRequest(attempt, payment: .card(token: cardToken), phoneFallback: run.customerPhoneFallback), using: key)
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

        default:
            preconditionFailure("not a gateway action: \(run.next)")
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
        } else if result == .awaitingPayment {
            // The claim code is shown once, in the answer every retry gets. A run that has it not
            // (a retry or the reconciler after a lost reply) and owes that answer draws a new one:
            // the first was never shown. One that has an answer stored already changes nothing.
            if run.claimCode == nil, run.attempt.answeredCodigo == nil {
                let code = ClaimCode.generate(using: &random)
                run.claimCode = code
                run.attempt.claimCodeHash = claimCodeHash(code)
            }
            let answer = rendering.awaitingPayment(run.attempt, claimCode: run.claimCode)
            outcome = conclude(run.attempt, saved: run.saved, answer: answer, final: final)
        } else {
            outcome = conclude(run.attempt, saved: run.saved, answer: rendering.answer(result, attempt: run.attempt), final: final)
        }
        outcome.warning = run.warning
        outcome.absenceUnproven = run.flow.absenceUnproven
        outcome.routerUnanswered = run.routerUnanswered
        return outcome
    }

    // MARK: Helpers

    /// The card an order names, kept on the record for the operator.
    private func remember(_ order: GatewayOrder?, in attempt: inout PaymentAttempt) {
        guard let order else { return }
        attempt.cardBrand = order.cardBrand ?? attempt.cardBrand
        attempt.cardLast4 = order.cardLast4 ?? attempt.cardLast4
        if let charge = order.payLater, attempt.method.isPayLater { remember(charge, in: &attempt) }
    }

    /// How to pay a pay-later order, and until when, as the gateway issued them.
    private func remember(_ charge: PayLaterCharge, in attempt: inout PaymentAttempt) {
        if charge.instructions.isUsable(for: attempt.method) { attempt.instructions = charge.instructions }
        attempt.payLaterExpiresAt = charge.expiresAt ?? attempt.payLaterExpiresAt
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
                    retry: schedule(for: attempt))
            else { return inProgress(attempt) }
            observeChange(from: saved, to: attempt)
        } catch {
            release(saved)
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

    /// Lets go of an attempt as last committed (`attempt`), due again as its state schedules.
    private func release(_ attempt: PaymentAttempt, storing response: StoredResponse? = nil) {
        do {
            try ledger.release(attemptID: attempt.id, storing: response, retry: schedule(for: attempt))
        } catch {
            releaseLater(attempt.id)
        }
    }

    /// Answers, stores the answer when it is final for the customer, and lets go of the attempt.
    private func stop(_ attempt: PaymentAttempt, answering result: PaymentResult) -> Outcome {
        let response = rendering.answer(result, attempt: attempt)
        let final = result.isFinalForCustomer ? response : nil
        release(attempt, storing: final)
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

    /// The attempt's user as the router gets it: disabled until its charge is paid, or, for a
    /// pay-later order paid already, enabled. A pay-later user is bound to no MAC: it is made when
    /// the money arrives, and its code may be redeemed from another device than the one that
    /// ordered.
    private func newUser(_ attempt: PaymentAttempt, server: String, enabled: Bool) -> NewHotspotUser {
        NewHotspotUser(
            name: attempt.credentials.username, password: attempt.credentials.password, profile: attempt.profileName,
            server: server, disabled: !enabled, comment: attempt.routerComment,
            macAddress: attempt.autoConnect && !attempt.method.isPayLater ? attempt.mac : nil, limitUptime: attempt.limitUptime,
            limitBytesTotal: attempt.limitBytesTotal)
    }

    private func chargeRequest(_ attempt: PaymentAttempt, payment: ChargeRequest.Payment, phoneFallback: String?) -> ChargeRequest {
        ChargeRequest(
            attemptID: attempt.id, amount: attempt.amount, itemName: attempt.productName, customerName: attempt.customerName,
            customerEmail: attempt.customerEmail, customerPhone: attempt.customerPhone ?? phoneFallback ?? "",
            payment: payment, metadata: ["router_id": String(attempt.routerID), "product_id": String(attempt.productID)])
    }

    /// The keyed hash a claim code is stored and found by (the server's key secret: HMAC).
    private func claimCodeHash(_ code: ClaimCode) -> String {
        fingerprint("claim-code:" + code.symbols)
    }

    /// Counts a committed state change.
    private func observeChange(from saved: PaymentAttempt, to attempt: PaymentAttempt) {
        guard saved.state != attempt.state else { return }
        observe(StateChange(attemptID: attempt.id, method: attempt.method, from: saved.state, to: attempt.state))
    }

    /// When an unfinished attempt is due again: as the retry schedule says, or for one waiting for
    /// its money, as the pay-later poll says and at the latest at its reference's expiry, then at
    /// the end of the grace after it (when an order still payable is cancelled).
    private func schedule(for attempt: PaymentAttempt) -> RetrySchedule {
        guard attempt.state == .awaitingPayment, let expiresAt = attempt.payLaterExpiresAt else { return settings.retry }
        var poll = settings.payLaterPoll
        let now = clock.nowSeconds
        let cancelAt = expiresAt + settings.payLaterCancelGraceSeconds
        poll.latest = now < expiresAt ? expiresAt : now < cancelAt ? cancelAt : nil
        return poll
    }

    /// A time-ordered (version 7) UUID: the Unix milliseconds of its creation, then 74 bits from
    /// the CSPRNG (RFC 9562 §5.7). The ledger's indexes on attempt ids (the primary key, the
    /// timeline's) then grow at one end, so a payment writes to the few pages the ones before it
    /// wrote, not to a random page of an index as large as the history (bench/README.md, growth).
    private func newAttemptID() -> String {
        var bytes = RandomBytes.bytes(16, using: &random)
        let milliseconds = UInt64(max(0, clock.nowMicroseconds() / 1_000))
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index))) }
        bytes[6] = (bytes[6] & 0x0F) | 0x70
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        // 8-4-4-4-12 digits, written as bytes (slicing an array of Characters into five Strings
        // and joining them was 2 % of a payment's instructions).
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            Hex.append(CollectionOfOne(byte), to: &text)
        }
        return String(decoding: text, as: UTF8.self)
    }
}

@available(*, unavailable, message: "a payment service and its adapters belong to one thread")
extension PaymentService: Sendable {}
