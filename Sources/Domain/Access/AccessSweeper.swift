/// Removes sold users from their router once their access is over (CONTRACT §11), one router's
/// pass at a time: the router's users are listed once, the product's own (comment
/// `hotspot-pay:<attempt id>`) are matched with their attempts, `AccessEnd` decides each, and
/// the ones whose access is over lose their sessions, then the user, then get the end recorded.
///
/// A pass is bounded (at most `batch` ends, within `passBudgetSeconds`) and paced (router calls
/// one at a time, `pauseMilliseconds` between ends), so one router with tens of thousands of
/// users holds one reconciler thread and one of its router slots for a bounded time; the rest is
/// the next pass's, due soon. A router that does not answer is tried again after a backoff, and
/// the ends done before it stopped answering are kept. Users the product did not make are never
/// touched, nor users of attempts still in the payment saga.
public final class AccessSweeper {
    public struct Settings: Sendable {
        /// Seconds between passes over one router.
        public var intervalSeconds = 60
        /// At most this many ends per pass; more are left to a pass `soonSeconds` later.
        public var batch = 200
        /// Pause between two ends on one router, so the sweep leaves room to its payments.
        public var pauseMilliseconds = 20
        /// How long a claimed router's sweep is held: longer than a pass can run (the listing's
        /// timeout and `passBudgetSeconds`), so a live pass is never taken over.
        public var leaseSeconds = 180
        /// A pass starts no further end after this long; the next pass goes on soon.
        public var passBudgetSeconds = 60
        /// When the next pass comes after one that left ends to do.
        public var soonSeconds = 1
        /// A router that failed waits `intervalSeconds × 2^failures`, at most this.
        public var backoffCeilingSeconds = 600

        public init() {}
    }

    /// One user whose access this pass ended.
    public struct Ended: Sendable, Equatable {
        public var attemptID: String
        public var username: String
        public var reason: AccessEndReason

        public init(attemptID: String, username: String, reason: AccessEndReason) {
            self.attemptID = attemptID
            self.username = username
            self.reason = reason
        }
    }

    /// One user whose removal the router refused (it stays, and the next pass tries again).
    public struct Refused: Sendable, Equatable {
        public var attemptID: String
        public var username: String
        public var failure: RouterFailure

        public init(attemptID: String, username: String, failure: RouterFailure) {
            self.attemptID = attemptID
            self.username = username
            self.failure = failure
        }
    }

    /// What one pass over a router did.
    public struct Pass: Sendable, Equatable {
        public var routerID: Int64
        /// The router's users made by the product for this router's attempts.
        public var users = 0
        /// Ends recorded by this pass (each end is counted by the one pass that recorded it).
        public var ended: [Ended] = []
        /// Users still on the router past their end when the pass finished.
        public var pastEnd = 0
        public var firstLogins = 0
        /// `hotspot-pay:` users left alone: no attempt of this router, or not its user's name.
        public var unmatched = 0
        public var refused: [Refused] = []
        public var durationMilliseconds = 0
        /// Why the pass stopped short; nil when it went through.
        public var failure: String?
        /// Seconds until the router's next pass.
        public var nextInSeconds = 0

        public init(routerID: Int64) { self.routerID = routerID }

        public var endedByReason: [AccessEndReason: Int] {
            ended.reduce(into: [:]) { $0[$1.reason, default: 0] += 1 }
        }
    }

    /// Why a look at one router (`users`, `endUser`) could not be answered.
    public enum Failure: Error, Sendable, Equatable {
        /// No router has that id.
        case unknownRouter
        case router(RouterFailure)
        case store(StoreFailure)
    }

    /// One of the router's users as `hotspotctl users list` shows it.
    public struct SoldUser: Sendable, Equatable {
        public var usage: HotspotUserUsage
        /// The attempt its comment names.
        public var attemptID: String
        /// Nil when that attempt is not one of this router's (or not this user's).
        public var access: SoldAccess?
        public var state: AccessState
        /// Why it is over (or revoked).
        public var reason: AccessEndReason?
        public var sessions: Int
        /// Recorded, or seen in this reading (unix seconds).
        public var firstLoginAt: Int64?
        /// When its validity runs out, once it has started (unix seconds).
        public var endsAt: Int64?

        public init(
            usage: HotspotUserUsage, attemptID: String, access: SoldAccess?, state: AccessState, reason: AccessEndReason? = nil,
            sessions: Int = 0, firstLoginAt: Int64? = nil, endsAt: Int64? = nil
        ) {
            self.usage = usage
            self.attemptID = attemptID
            self.access = access
            self.state = state
            self.reason = reason
            self.sessions = sessions
            self.firstLoginAt = firstLoginAt
            self.endsAt = endsAt
        }
    }

    /// What `endUser` found and did.
    public enum OperatorEnd: Sendable, Equatable {
        /// Sessions and user removed; `recorded` is false when the end was recorded before.
        case ended(SoldAccess, sessions: Int, recorded: Bool)
        /// No user of that name on the router's hotspot server.
        case noSuchUser
        /// The user's comment is not the product's: it is never touched.
        case notMadeByProduct(comment: String)
        /// The comment names an attempt that is not this router's, or not this user's.
        case noAttemptHere(attemptID: String)
        /// Its attempt is still in the payment saga; the reconciler finishes it first.
        case unfinished(SoldAccess)
    }

    private let ledger: any AccessLedger
    private let routerAccess: (Int64) throws(StoreFailure) -> PaymentService.RouterAccess?
    private let clock: any WallClock
    private let settings: Settings
    private let owner: String

    /// - Parameters:
    ///   - routerAccess: a router's directory, as the payment service gets it (nil: no such router).
    ///   - owner: this thread's name in sweep leases (instance and thread).
    public init(
        ledger: any AccessLedger, routerAccess: @escaping (Int64) throws(StoreFailure) -> PaymentService.RouterAccess?,
        clock: any WallClock, settings: Settings, owner: String
    ) {
        self.ledger = ledger
        self.routerAccess = routerAccess
        self.clock = clock
        self.settings = settings
        self.owner = owner
    }

    // MARK: Sweeping

    /// Claims up to `limit` routers whose sweep is due and runs one pass over each.
    public func sweepDue(limit: Int = 1) throws(StoreFailure) -> [Pass] {
        var passes: [Pass] = []
        for _ in 0..<limit {
            guard let claim = try ledger.claimDueSweep(owner: owner, leaseSeconds: settings.leaseSeconds) else { break }
            passes.append(sweep(claim))
        }
        return passes
    }

    /// One pass over a claimed router, finished in the ledger (figures, next due time, backoff).
    public func sweep(_ claim: SweepClaim) -> Pass {
        let started = clock.nowMicroseconds()
        var pass = Pass(routerID: claim.routerID)
        var listed = false
        do throws(PassStop) {
            try run(&pass, listed: &listed, started: started)
        } catch {
            pass.failure = error.description
        }
        let more = pass.pastEnd > 0 && pass.refused.count < pass.pastEnd
        pass.nextInSeconds =
            pass.failure != nil ? backoff(afterFailures: claim.failures + 1) : more ? settings.soonSeconds : settings.intervalSeconds
        pass.durationMilliseconds = Int(max(0, clock.nowMicroseconds() - started) / 1_000)
        let outcome = SweepOutcome(
            durationMilliseconds: pass.durationMilliseconds, users: listed ? pass.users : nil, pastEnd: listed ? pass.pastEnd : nil,
            error: pass.failure, nextInSeconds: pass.nextInSeconds)
        do {
            try ledger.finishSweep(claim, owner: owner, outcome: outcome)
        } catch {
            // The lease runs out and another pass takes the router up; what this one did stands.
            if pass.failure == nil { pass.failure = "could not record the pass: \(error)" }
        }
        return pass
    }

    /// The delay before a router's next pass after `failures` failed passes in a row.
    public func backoff(afterFailures failures: Int) -> Int {
        let doubled = settings.intervalSeconds << min(max(failures, 0), 16)
        return max(1, min(doubled, settings.backoffCeilingSeconds))
    }

    /// Why a pass stopped short.
    private enum PassStop: Error, CustomStringConvertible {
        case unknownRouter
        case router(RouterFailure)
        case store(StoreFailure)

        var description: String {
            switch self {
            case .unknownRouter: "no such router"
            case .router(let failure): "router: \(AccessSweeper.words(failure))"
            case .store(let failure): "database: \(failure)"
            }
        }
    }

    private func run(_ pass: inout Pass, listed: inout Bool, started: Int64) throws(PassStop) {
        let found: PaymentService.RouterAccess?
        do {
            found = try routerAccess(pass.routerID)
        } catch {
            throw .store(error)
        }
        guard let access = found else { throw .unknownRouter }
        let directory = access.directory
        let reading: Reading
        do {
            reading = try read(directory, server: access.hotspotServer)
        } catch {
            throw .router(error)
        }
        let now = clock.nowSeconds
        let accesses: [String: SoldAccess]
        do {
            accesses = Dictionary(
                try ledger.soldAccesses(attemptIDs: reading.attemptIDs, routerID: pass.routerID).map { ($0.attemptID, $0) },
                uniquingKeysWith: { first, _ in first })
        } catch {
            throw .store(error)
        }

        var due: [(SoldAccess, HotspotUserUsage, AccessEndReason)] = []
        var firstLogins: [FirstLogin] = []
        for (attemptID, user) in reading.ours {
            guard let sold = accesses[attemptID], sold.username == user.name else {
                pass.unmatched += 1
                continue
            }
            pass.users += 1
            let sessions = reading.sessions[user.name] ?? []
            let decision = AccessEnd.decide(
                attempt: sold, usage: user, hasSession: !sessions.isEmpty, sessionUptime: sessions.compactMap(\.uptimeSeconds).max(),
                now: now)
            if let at = decision.firstLoginAt { firstLogins.append(FirstLogin(attemptID: sold.attemptID, at: at)) }
            if let reason = decision.end { due.append((sold, user, reason)) }
        }
        listed = true
        pass.pastEnd = due.count
        do {
            if !firstLogins.isEmpty { pass.firstLogins = try ledger.recordFirstLogins(firstLogins) }
            // Over by their own record, and their user gone already: recorded, nothing to remove.
            for lapsed in try ledger.lapsedAccesses(
                routerID: pass.routerID, listed: reading.attemptIDs, now: now, limit: settings.batch)
            {
                if try ledger.recordAccessEnd(attemptID: lapsed.attemptID, reason: .missing, at: now) {
                    pass.ended.append(Ended(attemptID: lapsed.attemptID, username: lapsed.username, reason: .missing))
                }
            }
        } catch {
            throw .store(error)
        }

        let budget = Int64(settings.passBudgetSeconds) * 1_000_000
        for (index, (sold, user, reason)) in due.prefix(max(settings.batch, 0)).enumerated() {
            if index > 0 {
                if settings.pauseMilliseconds > 0 { clock.sleep(milliseconds: settings.pauseMilliseconds) }
                guard clock.nowMicroseconds() - started < budget else { break }
            }
            do {
                try remove(user, sessions: reading.sessions[user.name] ?? [], from: directory)
            } catch {
                if Self.stopsThePass(error) { throw .router(error) }
                pass.refused.append(Refused(attemptID: sold.attemptID, username: user.name, failure: error))
                continue
            }
            pass.pastEnd -= 1
            do {
                if try ledger.recordAccessEnd(attemptID: sold.attemptID, reason: reason, at: clock.nowSeconds) {
                    pass.ended.append(Ended(attemptID: sold.attemptID, username: user.name, reason: reason))
                }
            } catch {
                throw .store(error)
            }
        }
    }

    /// The router's users and sessions, once each.
    private struct Reading {
        /// The users whose comment names an attempt, with that attempt's id.
        var ours: [(attemptID: String, user: HotspotUserUsage)]
        /// Every attempt id a user's comment names.
        var attemptIDs: [String]
        /// Active sessions on the router's hotspot server, by user name.
        var sessions: [String: [ActiveSession]]
    }

    private func read(_ directory: any HotspotUserDirectory, server: String) throws(RouterFailure) -> Reading {
        let users = try directory.listUsage()
        // Only the product's own users are looked at any further.
        let ours = users.compactMap { user in PaymentAttempt.attemptID(inComment: user.comment).map { (attemptID: $0, user: user) } }
        var sessions: [String: [ActiveSession]] = [:]
        if !ours.isEmpty {
            for session in try directory.listActiveSessions() where Self.onServer(session, server) {
                sessions[session.user, default: []].append(session)
            }
        }
        var seen: Set<String> = []
        return Reading(ours: ours, attemptIDs: ours.map(\.attemptID).filter { seen.insert($0).inserted }, sessions: sessions)
    }

    /// Ends a user's sessions, then removes it (a user already gone counts as removed).
    private func remove(_ user: HotspotUserUsage, sessions: [ActiveSession], from directory: any HotspotUserDirectory) throws(RouterFailure)
    {
        for session in sessions { try directory.removeSession(id: session.id) }
        try directory.deleteUser(id: user.id)
    }

    /// Failures that say the router cannot be worked with now: the pass stops and backs off.
    /// Others concern one user (the router refused it) and the pass goes on.
    static func stopsThePass(_ failure: RouterFailure) -> Bool {
        switch failure {
        case .unreachable, .timedOut, .busy, .authenticationFailed: true
        default: false
        }
    }

    /// A session of the router's hotspot server (`all`: any), as the payment saga ends them.
    static func onServer(_ session: ActiveSession, _ server: String) -> Bool {
        server == "all" || session.server == nil || session.server == server
    }

    /// A router failure in a few log-safe words.
    public static func words(_ failure: RouterFailure) -> String {
        switch failure {
        case .unreachable(let why): "unreachable (\(why))"
        case .timedOut: "timed out"
        case .busy: "busy (its concurrent calls are all in use)"
        case .authenticationFailed: "refused the API credentials"
        case .notFound: "no such item"
        case .rejected(let why): "rejected (\(why))"
        case .duplicateName: "duplicate name"
        case .profileNotFound: "profile not found"
        case .profileAmbiguous: "profile ambiguous"
        case .unknownHost: "unknown host"
        case .loginRejected(let why): "login rejected (\(why))"
        }
    }

    // MARK: The operator's view

    /// The router's users made by the product, read live, each with its attempt and state.
    public func users(routerID: Int64) throws(Failure) -> [SoldUser] {
        let access = try self.access(routerID)
        let reading: Reading
        do {
            reading = try read(access.directory, server: access.hotspotServer)
        } catch {
            throw .router(error)
        }
        let accesses: [String: SoldAccess]
        do {
            accesses = Dictionary(
                try ledger.soldAccesses(attemptIDs: reading.attemptIDs, routerID: routerID).map { ($0.attemptID, $0) },
                uniquingKeysWith: { first, _ in first })
        } catch {
            throw .store(error)
        }
        let now = clock.nowSeconds
        return reading.ours.map { attemptID, user in
            let sold = accesses[attemptID]
            let sessions = reading.sessions[user.name] ?? []
            let sessionUptime = sessions.compactMap(\.uptimeSeconds).max()
            let (state, reason) = AccessEnd.state(
                attempt: sold, usage: user, hasSession: !sessions.isEmpty, sessionUptime: sessionUptime, now: now)
            var firstLogin = sold?.firstLoginAt
            var endsAt = sold?.validityEndsAt
            if let sold, state != .unmatched, firstLogin == nil {
                firstLogin =
                    AccessEnd.decide(
                        attempt: sold, usage: user, hasSession: !sessions.isEmpty, sessionUptime: sessionUptime, now: now
                    ).firstLoginAt
                endsAt = sold.validity?.endsAt(deliveredAt: sold.deliveredAt, firstLoginAt: firstLogin)
            }
            return SoldUser(
                usage: user, attemptID: attemptID, access: state == .unmatched ? nil : sold, state: state, reason: reason,
                sessions: sessions.count, firstLoginAt: state == .unmatched ? nil : firstLogin, endsAt: state == .unmatched ? nil : endsAt)
        }
    }

    /// Ends one of the product's users now (`hotspotctl users end`): its sessions, the user, and
    /// the end recorded with reason `operator`. A user the product did not make, or whose attempt
    /// is still in the payment saga, is left as it is.
    public func endUser(named name: String, routerID: Int64) throws(Failure) -> OperatorEnd {
        let access = try self.access(routerID)
        let directory = access.directory
        let user: HotspotUser
        do {
            guard let found = try directory.findUser(named: name) else { return .noSuchUser }
            user = found
        } catch {
            throw .router(error)
        }
        guard let attemptID = PaymentAttempt.attemptID(inComment: user.comment) else {
            return .notMadeByProduct(comment: user.comment)
        }
        let sold: SoldAccess
        do {
            guard let found = try ledger.soldAccesses(attemptIDs: [attemptID], routerID: routerID).first, found.username == name else {
                return .noAttemptHere(attemptID: attemptID)
            }
            sold = found
        } catch {
            throw .store(error)
        }
        guard sold.state == .delivered || sold.state == .revoked else { return .unfinished(sold) }
        let sessions: [ActiveSession]
        do {
            sessions = try directory.activeSessions(user: name).filter { Self.onServer($0, access.hotspotServer) }
            for session in sessions { try directory.removeSession(id: session.id) }
            try directory.deleteUser(id: user.id)
        } catch {
            throw .router(error)
        }
        do {
            let recorded = try ledger.recordAccessEnd(attemptID: attemptID, reason: .byOperator, at: clock.nowSeconds)
            return .ended(sold, sessions: sessions.count, recorded: recorded)
        } catch {
            throw .store(error)
        }
    }

    private func access(_ routerID: Int64) throws(Failure) -> PaymentService.RouterAccess {
        let found: PaymentService.RouterAccess?
        do {
            found = try routerAccess(routerID)
        } catch {
            throw .store(error)
        }
        guard let found else { throw .unknownRouter }
        return found
    }
}

@available(*, unavailable, message: "a sweeper and its adapters belong to one thread")
extension AccessSweeper: Sendable {}
