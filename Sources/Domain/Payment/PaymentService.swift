/// Runs the payment saga (`PaymentFlow`) against the ports: the request path (`pay`), retries of
/// the same request, and the reconciler (`reconcile`). Every state change is committed through
/// the ledger before the next side effect; when the ledger cannot commit, the saga stops and the
/// reconciler finishes it once the database is back.
public final class PaymentService {
    public struct Settings: Sendable {
        /// Longer than the slowest request, so a live request's attempt is never taken over
        /// (the composition root derives it from the timeouts).
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
        /// Something an operator should hear of (the run logs it as a warning): the attempt was
        /// declared not charged without proof that no order exists.
        public var warning: String? = nil
        /// The codigo of the answer stored for every retry, when one is: a clean-up that ends an
        /// attempt answered `pago_declinado` long ago renders its own answer, which is not stored.
        public var answeredCodigo: String? = nil

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
    private var random = SystemRandomNumberGenerator()
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
    public init(
        ledger: any PaymentLedger, gateway: any PaymentGateway, rendering: any PaymentRendering, clock: any WallClock,
        settings: Settings, owner: String, fingerprint: @escaping (String) -> String,
        routerAccess: @escaping (Int64) throws(StoreFailure) -> RouterAccess?,
        gatewayKey: @escaping (Int64) throws(StoreFailure) -> GatewayKey?,
        releaseLater: @escaping (String) -> Void = { _ in },
        verifiedProfiles: VerifiedProfiles = VerifiedProfiles()
    ) {
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
            requestID: requestID, remoteAddress: remoteAddress)

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
            if let declines, let refusal = cardTestingRefusal(attempt, declines) { return refusal }
            return run(
                attempt, flow: PaymentFlow(), first: nil, cardToken: request.cardToken, customerPhoneFallback: grant.company.contactPhone)
        case .existing(let existing, let response, let leaseActive):
            guard existing.requestHash == requestHash else {
                return Outcome(response: rendering.answer(.idempotencyConflict, attempt: nil), attemptID: existing.id, orderID: nil)
            }
            if let response { return Outcome(response: response, attemptID: existing.id, orderID: existing.orderID) }
            // A delivery whose answer was never stored (its last write failed) is claimed, and
            // resuming it renders and stores the receipt; other final states wait for theirs.
            if leaseActive || (existing.state.isFinal && existing.state != .delivered) {
                return inProgress(existing)
            }
            let claimed: PaymentAttempt?
            do {
                claimed = try ledger.claim(attemptID: existing.id, owner: owner, leaseSeconds: settings.leaseSeconds)
            } catch {
                throw ServiceError(error)
            }
            guard let claimed else { return inProgress(existing) }
            return resume(claimed, customerPhoneFallback: grant.company.contactPhone)
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
        return stop(refused, answering: .tooManyAttempts, release: true)
    }

    // MARK: Reconciler

    /// Drives up to `limit` due, unfinished attempts one step further. Returns how many it took.
    @discardableResult
    public func reconcile(limit: Int = 20) throws(StoreFailure) -> [Outcome] {
        let due = try ledger.claimDue(limit: limit, owner: owner, leaseSeconds: settings.leaseSeconds)
        return due.map { resume($0, customerPhoneFallback: nil) }
    }

    /// Drives one unfinished attempt now, whatever its retry backoff (`hotspotctl reconcile
    /// --once`). Nil when it is final with its answer stored, unknown, or held by another worker.
    public func reconcile(attemptID: String) throws(StoreFailure) -> Outcome? {
        guard let attempt = try ledger.claim(attemptID: attemptID, owner: owner, leaseSeconds: settings.leaseSeconds) else {
            return nil
        }
        return resume(attempt, customerPhoneFallback: nil)
    }

    private func resume(_ attempt: PaymentAttempt, customerPhoneFallback: String?) -> Outcome {
        if attempt.state == .delivered {
            // Enabled before a crash, answer not stored yet: render it now.
            return finishDelivered(attempt, autoConnect: lateReport(attempt))
        }
        var flow = PaymentFlow(resuming: attempt.state, routerUserKnown: attempt.routerUserID != nil, orderKnown: attempt.orderID != nil)
        let first = flow.resume(
            routerUserID: attempt.routerUserID, ageSeconds: clock.nowSeconds - attempt.createdAt,
            activationDeadlineSeconds: settings.activationDeadlineSeconds)
        return run(attempt, flow: flow, first: first, cardToken: nil, customerPhoneFallback: customerPhoneFallback)
    }

    // MARK: The loop

    /// - Parameters:
    ///   - first: nil on the request path (the flow starts); the resume action otherwise.
    ///   - cardToken: only on the request path: a resumed attempt never charges (it looks up).
    private func run(
        _ start: PaymentAttempt, flow initial: PaymentFlow, first: PaymentFlow.Action?, cardToken: String?,
        customerPhoneFallback: String?
    ) -> Outcome {
        var attempt = start
        var flow = initial
        var saved = start
        var warning: String?
        var action = first ?? flow.start()
        let access: RouterAccess?
        let key: GatewayKey?
        do {
            access = try routerAccess(attempt.routerID)
            key = try gatewayKey(attempt.companyID)
        } catch {
            return stop(attempt, answering: attempt.state == .pending ? .routerUnavailable : .inVerification, release: false)
        }
        guard let access else { return stop(attempt, answering: .routerUnavailable, release: true) }

        while true {
            // Commit what changed before acting on it. The last state of a run is committed
            // with its answer and the end of the lease, in one write (`conclude`).
            if flow.state == .charging, attempt.state != .charging { attempt.chargeSentAt = clock.nowSeconds }
            attempt.state = flow.state
            // A resumed flow starts without a reason; keep the recorded one until it has its own.
            attempt.reason = flow.reason ?? attempt.reason
            let reason = attempt.reason
            // A delivered payment is committed before the customer's login is tried (seconds at
            // most, and the reconciler must not take the attempt over meanwhile).
            let connectsFirst = action == .respond(.delivered) && attempt.autoConnect && attempt.mac != nil && first == nil
            if !action.endsRun || connectsFirst, attempt != saved {
                do {
                    guard try ledger.save(attempt, expecting: saved.state, reason: reason) else { return inProgress(attempt) }
                } catch {
                    // Nothing further may happen unrecorded. The reconciler resumes from `saved`.
                    release(attempt.id)
                    return Outcome(
                        response: rendering.answer(saved.state == .pending ? .routerUnavailable : .inVerification, attempt: saved),
                        attemptID: attempt.id, orderID: attempt.orderID)
                }
                saved = attempt
            }

            let directory = access.directory
            switch action {
            case .checkProfile:
                if verifiedProfiles.trusts(attempt.profileName, routerID: attempt.routerID, now: clock.nowSeconds) {
                    action = flow.profileChecked(exists: true)
                    continue
                }
                do {
                    let exists = try directory.findProfile(named: attempt.profileName)?.name == attempt.profileName
                    if exists, settings.profileCheckSeconds > 0 {
                        verifiedProfiles.found(
                            attempt.profileName, routerID: attempt.routerID, until: clock.nowSeconds + Int64(settings.profileCheckSeconds))
                    } else if !exists {
                        forgetProfile(of: attempt)
                    }
                    action = flow.profileChecked(exists: exists)
                } catch {
                    // Others trust the entry while it is re-checked: a failed check ends that.
                    forgetProfile(of: attempt)
                    action = flow.profileCheckFailed(error)
                }

            case .renewCredentialsAndCreateUser:
                attempt.credentials = HotspotCredentials.generate(
                    attempt.userType,
                    policy: CredentialPolicy(
                        usernameLength: attempt.credentials.username.count,
                        passwordLength: max(attempt.credentials.password.count, 4),
                        pinLength: attempt.credentials.username.count), using: &random)
                action = .createUser  // saved at the top of the loop before the create

            case .createUser:
                do {
                    let user = try directory.createUser(newUser(attempt, server: access.hotspotServer))
                    attempt.routerUserID = user.id
                    action = flow.userCreated(profileMatches: boundToProduct(user, attempt))
                } catch {
                    if case .profileNotFound = error { forgetProfile(of: attempt) }
                    if case .profileAmbiguous = error { forgetProfile(of: attempt) }
                    action = flow.userCreateFailed(error)
                }

            case .lookUpUser:
                do {
                    let user = try directory.findUser(named: attempt.credentials.username)
                    let ours = user?.comment == attempt.routerComment
                    if ours { attempt.routerUserID = user?.id }
                    action = flow.userLookedUp(
                        found: user != nil, ours: ours, profileMatches: user.map { boundToProduct($0, attempt) } ?? false)
                } catch {
                    action = flow.userLookUpFailed(error)
                }

            case .charge:
                // The flow charges only right after creating the user on the request path.
                guard let cardToken else { preconditionFailure("a resumed attempt never charges") }
                guard let key else {
                    action = flow.chargeCompleted(.configurationError(reason: "the company has no Conekta private key"))
                    continue
                }
                let outcome = gateway.charge(
                    chargeRequest(attempt, cardToken: cardToken, phoneFallback: customerPhoneFallback), using: key)
                switch outcome {
                case .paid(let order):
                    attempt.orderID = order.orderID
                    attempt.cardBrand = order.cardBrand
                    attempt.cardLast4 = order.cardLast4
                case .declined(_, _, let orderID?): attempt.orderID = orderID
                case .notPaid(_, let orderID): attempt.orderID = orderID
                default: break
                }
                action = flow.chargeCompleted(outcome)

            case .lookUpOrder:
                guard let key else {
                    action = flow.orderLookUpFailed()
                    continue
                }
                do {
                    let order: GatewayOrder?
                    if let orderID = attempt.orderID {
                        order = try gateway.order(id: orderID, using: key)
                    } else {
                        let window = orderWindow(of: attempt)
                        order = try gateway.findOrder(
                            attemptID: attempt.id, customerEmail: attempt.customerEmail, createdAfter: window.lowerBound,
                            createdBefore: window.upperBound, using: key)
                    }
                    if let order {
                        attempt.orderID = order.id
                        attempt.cardBrand = order.cardBrand ?? attempt.cardBrand
                        attempt.cardLast4 = order.cardLast4 ?? attempt.cardLast4
                    }
                    action = flow.orderLookedUp(
                        order, ageSeconds: clock.nowSeconds - attempt.createdAt, lookupGraceSeconds: settings.lookupGraceSeconds)
                } catch {
                    guard case .absenceUnproven(let why) = error else {
                        action = flow.orderLookUpFailed()
                        continue
                    }
                    action = flow.orderLookUpFailed(
                        absenceUnproven: true, ageSeconds: clock.nowSeconds - attempt.createdAt,
                        lookupGraceSeconds: settings.lookupGraceSeconds)
                    if flow.absenceUnproven {
                        warning = "attempt declared not charged without proof that no order exists (\(why))"
                    }
                }

            case .enableUser:
                do {
                    let id = try routerUserID(of: attempt, in: directory)
                    try directory.setUserDisabled(id: id, disabled: false)
                    action = flow.userEnabled()
                } catch {
                    action = flow.userEnableFailed(error)
                }

            case .cancelOrder:
                guard let key, let orderID = attempt.orderID else {
                    action = flow.orderCancelled()
                    continue
                }
                do {
                    // Look first: only a pending order can be cancelled, and one paid meanwhile
                    // must be refunded instead.
                    let order = try gateway.order(id: orderID, using: key)
                    switch order?.paymentStatus {
                    case "paid"?:
                        action = flow.orderTurnedPaid()
                    case "pending_payment"?, "pre_authorized"?:
                        _ = try gateway.cancel(orderID: orderID, using: key)
                        action = flow.orderCancelled()
                    default:
                        action = flow.orderCancelled()
                    }
                } catch {
                    action = error == .notFound ? flow.orderCancelled() : flow.orderCancelFailed()
                }

            case .deleteUser:
                do throws(RouterFailure) {
                    if let id = try? routerUserID(of: attempt, in: directory) {
                        try directory.deleteUser(id: id)
                    } else if try directory.findUser(named: attempt.credentials.username)?.comment == attempt.routerComment {
                        throw RouterFailure.rejected("user present but its id unknown")
                    }
                    action = flow.userDeleted()
                } catch {
                    action = flow.userDeleteFailed(error)
                }

            case .refund:
                guard let key, let orderID = attempt.orderID else {
                    action = flow.refundFailed()
                    continue
                }
                do {
                    if let order = try gateway.order(id: orderID, using: key) {
                        let remaining = order.amount.cents - order.amountRefundedCents
                        if remaining > 0 { _ = try gateway.refund(orderID: orderID, amountCents: remaining, using: key) }
                    }
                    action = flow.refunded()
                } catch {
                    action = flow.refundFailed()
                }

            case .respond(let result):
                if result == .delivered {
                    let report: AutoConnectReport
                    if attempt.autoConnect, let mac = attempt.mac, first == nil {
                        report = AutoConnector(
                            directory: access.quick, clock: clock, budgetMilliseconds: settings.autoConnectBudgetMilliseconds
                        )
                        .connect(credentials: attempt.credentials, mac: mac, ip: attempt.ip)
                    } else {
                        report = first == nil ? .notRequested(mac: attempt.mac, ip: attempt.ip) : lateReport(attempt)
                    }
                    let receipt = rendering.receipt(attempt, completedAtMicroseconds: clock.nowMicroseconds(), autoConnect: report)
                    return conclude(attempt, saved: saved, answer: receipt, final: true)
                }
                var outcome = conclude(
                    attempt, saved: saved, answer: rendering.answer(result, attempt: attempt), final: result.isFinalForCustomer)
                outcome.warning = warning
                return outcome

            case .suspend(let result):
                var outcome = conclude(
                    attempt, saved: saved, answer: rendering.answer(result, attempt: attempt), final: result.isFinalForCustomer)
                outcome.warning = warning
                return outcome
            }
        }
    }

    // MARK: Helpers

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

    private func finishDelivered(_ attempt: PaymentAttempt, autoConnect: AutoConnectReport) -> Outcome {
        let response = rendering.receipt(attempt, completedAtMicroseconds: clock.nowMicroseconds(), autoConnect: autoConnect)
        release(attempt.id, storing: response)
        return Outcome(
            response: response, attemptID: attempt.id, orderID: attempt.orderID, state: attempt.state, reason: attempt.reason,
            answeredCodigo: attempt.answeredCodigo ?? response.codigo)
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
    private func stop(_ attempt: PaymentAttempt, answering result: PaymentResult, release: Bool) -> Outcome {
        let response = rendering.answer(result, attempt: attempt)
        let final = result.isFinalForCustomer ? response : nil
        if release {
            self.release(attempt.id, storing: final)
        } else if let final {
            try? ledger.storeResponse(attemptID: attempt.id, final)
        }
        return Outcome(
            response: response, attemptID: attempt.id, orderID: attempt.orderID, state: attempt.state, reason: attempt.reason,
            answeredCodigo: attempt.answeredCodigo ?? final?.codigo)
    }

    private func inProgress(_ attempt: PaymentAttempt) -> Outcome {
        Outcome(response: rendering.answer(.inProgress, attempt: attempt), attemptID: attempt.id, orderID: attempt.orderID)
    }

    /// Auto-connect is not attempted after the request is gone.
    private func lateReport(_ attempt: PaymentAttempt) -> AutoConnectReport {
        guard attempt.autoConnect else { return .notRequested(mac: attempt.mac, ip: attempt.ip) }
        return AutoConnectReport(
            state: .notConnected, mac: attempt.mac?.value, ip: attempt.ip?.value,
            message: "Su acceso se activó después del pago. Ingrese sus credenciales en la página del hotspot.", verified: false,
            sessionID: nil)
    }

    private func routerUserID(of attempt: PaymentAttempt, in directory: any HotspotUserDirectory) throws(RouterFailure) -> String {
        if let id = attempt.routerUserID { return id }
        guard let user = try directory.findUser(named: attempt.credentials.username), user.comment == attempt.routerComment else {
            throw .notFound
        }
        return user.id
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
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let characters = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "-")
    }
}

@available(*, unavailable, message: "a payment service and its adapters belong to one thread")
extension PaymentService: Sendable {}
