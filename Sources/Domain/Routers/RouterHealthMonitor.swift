/// Where routers' checks are scheduled and kept. Implemented by `PostgresStore` (`router_checks`,
/// leased like sweeps, so several instances check each router once per interval).
public protocol RouterHealthLedger {
    /// One active router whose check is due and nobody holds, now held by `owner`; nil when none is.
    func claimDueRouterCheck(owner: String, leaseSeconds: Int) throws(StoreFailure) -> Int64?
    /// The router's endpoint (password opened) and its products; nil for an unknown router.
    func routerCheckTarget(routerID: Int64) throws(StoreFailure) -> RouterChecker.Target?
    /// Keeps the outcome, releases `owner`'s hold and sets the next check `nextInSeconds` away.
    func recordRouterHealth(_ health: RouterHealth, checkedBy: String, nextInSeconds: Int?) throws(StoreFailure)
}

/// The server's periodic check of every active router (CONTRACT §13): each reconciler thread
/// takes at most one due router per pass, runs `RouterChecker` on it (seven reads, one call at a
/// time) and keeps the outcome, which `GET /metrics` exports and `hotspotctl router list` shows.
public final class RouterHealthMonitor {
    public struct Settings: Sendable {
        /// Seconds between two checks of one router.
        public var intervalSeconds = 300
        /// How long a claimed check is held: longer than seven calls at their timeout.
        public var leaseSeconds = 120
        public var checker = RouterChecker.Settings()

        public init() {}
    }

    private let ledger: any RouterHealthLedger
    private let inspection: (RouterEndpoint) -> any RouterInspection
    private let checker: RouterChecker
    private let settings: Settings
    private let owner: String

    /// - Parameter inspection: a client for one router, built per check.
    public init(
        ledger: any RouterHealthLedger, inspection: @escaping (RouterEndpoint) -> any RouterInspection, clock: any WallClock,
        settings: Settings, owner: String
    ) {
        self.ledger = ledger
        self.inspection = inspection
        self.checker = RouterChecker(clock: clock, settings: settings.checker)
        self.settings = settings
        self.owner = owner
    }

    /// Checks up to `limit` due routers; their outcomes.
    public func checkDue(limit: Int) throws(StoreFailure) -> [RouterHealth] {
        var done: [RouterHealth] = []
        while done.count < limit, let routerID = try ledger.claimDueRouterCheck(owner: owner, leaseSeconds: settings.leaseSeconds) {
            guard let target = try ledger.routerCheckTarget(routerID: routerID) else { continue }
            let health = checker.check(target, on: inspection(target.endpoint))
            try ledger.recordRouterHealth(health, checkedBy: owner, nextInSeconds: settings.intervalSeconds)
            done.append(health)
        }
        return done
    }
}
