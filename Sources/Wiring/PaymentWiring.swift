import API
import Configuration
import Domain
import Foundation
import Gateway
import HTTPTransport
import Logging
import Persistence
import RouterOS
import Secrets
import Synchronization

/// The one wiring of the payment graph, used by both executables (`hotspot-pay`'s worker and
/// reconciler threads, `hotspotctl reconcile`) so they cannot drift: every setting comes from the
/// configuration, every adapter is named here. One per process; it holds what the process's
/// threads share (the database pool, the per-router limiter, the read caches); each thread
/// builds its own graph with `paymentGraph`, with its own curl handle.
public final class PaymentWiring: Sendable {
    public let configuration: Configuration
    /// This host's name, for freeing the leases of this host's dead processes.
    public let hostName: String
    /// This process's name in attempt leases: `host:pid`.
    public let instanceName: String
    /// The process's PostgreSQL connections.
    public let database: PostgresPool
    /// Keys, catalogues, router endpoints and gateway keys, read once per period for all threads.
    let caches: SharedCaches
    /// Attempts whose lease a thread could not release (database down); the reconciler frees them.
    public let pendingReleases = PendingReleases()
    /// Caps concurrent calls per router across all threads, so one stuck router cannot hold them all.
    let routerLimiter: RouterConcurrencyLimiter
    /// Profile checks the payment threads trust (HOTSPOT_PROFILE_CHECK_SECONDS).
    let verifiedProfiles = VerifiedProfiles()
    /// What this process has learnt of Conekta's order search, for every thread's client.
    let searchEvidence = OrderSearchEvidence()
    /// Routers whose unverified TLS this process has warned about (once each, not every reload).
    let warnedInsecureRouters = OncePerRouter()
    let sealer: SecretBox
    let logger: Logger

    /// - Parameters:
    ///   - applicationName: the PostgreSQL `application_name` of the process's connections.
    ///   - poolSize: its connections; the configured pool size when nil.
    /// - Throws: `WiringError` when the secrets key cannot be read.
    public init(configuration: Configuration, applicationName: String, poolSize: Int? = nil, logger: Logger) throws(WiringError) {
        self.configuration = configuration
        self.logger = logger
        sealer = try Self.sealer(configuration)
        database = PostgresPool(
            url: configuration.databaseURL, size: poolSize ?? configuration.databasePoolSize, applicationName: applicationName,
            waitMilliseconds: configuration.databasePoolWaitMilliseconds)
        caches = SharedCaches(keySeconds: configuration.authCacheSeconds, catalogueSeconds: configuration.catalogueCacheSeconds)
        routerLimiter = RouterConcurrencyLimiter(
            maxConcurrentCallsPerRouter: configuration.routerMaxConcurrency,
            maxWait: .milliseconds(configuration.routerQueueWaitMilliseconds))
        hostName = ProcessInfo.processInfo.hostName
        instanceName = "\(hostName):\(getpid())"
    }

    /// Applies pending schema migrations (safe with several instances starting at once), on one
    /// of the pool's connections: it stays open for the first request, which then does not wait
    /// for a new PostgreSQL backend. Returns the versions applied.
    public func migrate() throws(PostgresError) -> [Int] {
        try database.withConnection { connection throws(PostgresError) in try Migrations.migrate(connection) }
    }

    /// Opens the pool's connections (run it in the background: the first answer does not wait).
    public func warmUp() { _ = PostgresStore.warmUp(database) }

    /// A store over the process's pool.
    public func store() -> PostgresStore { PostgresStore(pool: database, sealer: sealer) }

    /// How a graph's adapters are observed (the server measures them into its metrics).
    public struct Instruments {
        public var gateway: (any PaymentGateway) -> any PaymentGateway
        public var directory: (any HotspotUserDirectory) -> any HotspotUserDirectory
        /// Every committed state change of the graph's payments.
        public var stateChanges: (PaymentService.StateChange) -> Void

        public init(
            gateway: @escaping (any PaymentGateway) -> any PaymentGateway,
            directory: @escaping (any HotspotUserDirectory) -> any HotspotUserDirectory,
            stateChanges: @escaping (PaymentService.StateChange) -> Void = { _ in }
        ) {
            self.gateway = gateway
            self.directory = directory
            self.stateChanges = stateChanges
        }

        public static var none: Instruments { Instruments(gateway: { $0 }, directory: { $0 }) }
    }

    /// One thread's store and payment service: its own curl handle and clients, the shared pool,
    /// limiter and caches.
    /// - Parameter name: the thread's part of the lease owner (`host:pid/name`).
    /// - Parameter briefRouterCalls: every router call gets the short timeouts auto-connect's
    ///   do, for a graph whose runs someone waits for (a webhook: a router that does not answer
    ///   leaves the run to the reconciler instead of holding Conekta's delivery).
    public func paymentGraph(
        name: String, instruments: Instruments = .none, briefRouterCalls: Bool = false
    ) -> (store: PostgresStore, payments: PaymentService) {
        let store = store()
        let transport = CurlTransport()
        let conekta = ConektaClient(
            transport: transport, configuration: ConektaClient.Configuration(configuration.conekta), searchEvidence: searchEvidence)
        // Auto-connect has 5 s in all (CONTRACT §5): its calls get short timeouts.
        let quickTimeouts = Timeouts(
            connectMilliseconds: min(configuration.routerTimeouts.connectMilliseconds, 1_000), totalMilliseconds: 2_000)
        let timeouts = briefRouterCalls ? quickTimeouts : Timeouts(configuration.routerTimeouts)
        let caches = self.caches
        let pendingReleases = self.pendingReleases
        return (
            store,
            PaymentService(
                ledger: store, gateway: instruments.gateway(conekta), rendering: PaymentPresenter(), clock: SystemWallClock(),
                settings: PaymentService.Settings(configuration), owner: "\(instanceName)/\(name)",
                fingerprint: KeyedHasher(secret: configuration.keySecret).hash,
                routerAccess: routerAccess(
                    store: store, transport: transport, timeouts: timeouts, quickTimeouts: quickTimeouts, instruments: instruments),
                gatewayKey: { (companyID: Int64) throws(StoreFailure) -> GatewayKey? in
                    try caches.gatewayKeys.value(for: companyID) { () throws(StoreFailure) in
                        try store.conektaPrivateKey(companyID: companyID)
                    }
                },
                releaseLater: { id in pendingReleases.insert(id) }, verifiedProfiles: verifiedProfiles,
                observe: instruments.stateChanges)
        )
    }

    /// How a thread's graph reaches a router: its endpoint through the process's cache, a
    /// RouterOS client on the thread's transport under the process's per-router limiter.
    private func routerAccess(
        store: PostgresStore, transport: CurlTransport, timeouts: Timeouts, quickTimeouts: Timeouts, instruments: Instruments
    ) -> (Int64) throws(StoreFailure) -> PaymentService.RouterAccess? {
        let (caches, limiter, logger, warned) = (self.caches, routerLimiter, self.logger, warnedInsecureRouters)
        return { (routerID: Int64) throws(StoreFailure) -> PaymentService.RouterAccess? in
            let endpoint = try caches.routers.value(for: routerID) { () throws(StoreFailure) in
                let endpoint = try store.routerEndpoint(routerID: routerID)
                // Once per router per process: the endpoint is read again every few seconds.
                if let endpoint, RouterOSClient.Configuration(endpoint: endpoint, timeouts: timeouts).isInsecure,
                    warned.first(routerID)
                {
                    logger.warning("router TLS is not verified (insecure)", metadata: ["router": "\(routerID)"])
                }
                return endpoint
            }
            guard let endpoint else { return nil }
            func client(_ timeouts: Timeouts) -> any HotspotUserDirectory {
                instruments.directory(
                    RouterOSClient(
                        configuration: RouterOSClient.Configuration(endpoint: endpoint, timeouts: timeouts),
                        transport: transport, limiter: limiter))
            }
            return PaymentService.RouterAccess(
                directory: client(timeouts), quick: client(quickTimeouts), hotspotServer: endpoint.hotspotServer)
        }
    }

    /// One thread's sweeper of sold users (CONTRACT §11) over its store, with a curl handle of its
    /// own; nil when sweeping is off (`HOTSPOT_SWEEP_INTERVAL=0`). Its router calls share the
    /// process's per-router limiter with the payments, one call at a time.
    /// - Parameter name: the thread's part of the sweep lease owner (`host:pid/name`).
    public func accessSweeper(name: String, store: PostgresStore, instruments: Instruments = .none) -> AccessSweeper? {
        guard configuration.sweep.intervalSeconds > 0 else { return nil }
        return operatorSweeper(name: name, store: store, instruments: instruments)
    }

    /// A sweeper whatever the interval, for the operator's look at one router (`hotspotctl users`).
    public func operatorSweeper(name: String, store: PostgresStore, instruments: Instruments = .none) -> AccessSweeper {
        let timeouts = Timeouts(configuration.routerTimeouts)
        return AccessSweeper(
            ledger: store,
            routerAccess: routerAccess(
                store: store, transport: CurlTransport(), timeouts: timeouts, quickTimeouts: timeouts, instruments: instruments),
            clock: SystemWallClock(), settings: AccessSweeper.Settings(configuration), owner: "\(instanceName)/\(name)")
    }

    /// One thread's periodic check of routers (CONTRACT §13) over its store, with a curl handle of
    /// its own; nil when checks are off (`HOTSPOT_ROUTER_CHECK_INTERVAL=0`). Its calls share the
    /// process's per-router limiter with the payments, one call at a time.
    /// - Parameter name: the thread's part of the check lease owner (`host:pid/name`).
    public func routerHealthMonitor(name: String, store: PostgresStore) -> RouterHealthMonitor? {
        guard configuration.routerCheckIntervalSeconds > 0 else { return nil }
        let transport = CurlTransport()
        let (limiter, timeouts) = (routerLimiter, Timeouts(configuration.routerTimeouts))
        return RouterHealthMonitor(
            ledger: store,
            inspection: { endpoint in
                RouterOSClient(
                    configuration: RouterOSClient.Configuration(endpoint: endpoint, timeouts: timeouts), transport: transport,
                    limiter: limiter)
            },
            clock: SystemWallClock(), settings: RouterHealthMonitor.Settings(configuration), owner: "\(instanceName)/\(name)")
    }

    /// One thread's webhook receiver (CONTRACT §10) over its store and a payment service (build
    /// that with `briefRouterCalls`): the order an event names is fetched again with a timeout
    /// of at most 3 s, so Conekta gets its answer well within its own.
    public func webhookService(store: PostgresStore, payments: PaymentService, instruments: Instruments = .none) -> WebhookService {
        var settings = ConektaClient.Configuration(configuration.conekta)
        settings.timeouts = Timeouts(
            connectMilliseconds: min(settings.timeouts.connectMilliseconds, 1_000),
            totalMilliseconds: min(settings.timeouts.totalMilliseconds, 3_000))
        let conekta = ConektaClient(transport: CurlTransport(), configuration: settings, searchEvidence: searchEvidence)
        return WebhookService(
            inbox: store, verifier: ConektaWebhookSignature(), decoder: ConektaEventDecoder(), gateway: instruments.gateway(conekta),
            applyReport: { (order, attemptID) throws(StoreFailure) in try payments.applyOrderReport(order, attemptID: attemptID) })
    }

    /// A fresh `whe_` + 32 lowercase hex webhook endpoint id from the system's CSPRNG.
    public static func newWebhookEndpoint() -> String {
        var generator = SystemRandomNumberGenerator()
        return "whe_" + (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Process-wide set-up of the C libraries behind the adapters (libcurl's global state), once
    /// before any thread builds a graph.
    public static func initializeLibraries() { CurlTransport.globalInit() }

    /// The portal's reads (keys, catalogues) of one thread, through the process's caches.
    public func portalDirectory(_ store: PostgresStore) -> any PortalDirectory { CachedPortalDirectory(store, caches: caches) }

    /// A store on one connection of its own, for a command that needs nothing else.
    public static func store(_ configuration: Configuration, applicationName: String) throws(WiringError) -> PostgresStore {
        PostgresStore(
            connection: PostgresConnection(url: configuration.databaseURL, applicationName: applicationName),
            sealer: try sealer(configuration))
    }

    /// A RouterOS client for one router as the configuration and its stored endpoint describe it,
    /// for a command that talks to a router outside a payment (`hotspotctl product add`).
    public static func routerClient(_ endpoint: RouterEndpoint, configuration: Configuration) -> any HotspotUserDirectory {
        standaloneRouterClient(endpoint, configuration: configuration)
    }

    /// A router's checks as `hotspotctl router check` runs them: the same reads as the server's,
    /// on a client of their own.
    public static func routerInspection(_ endpoint: RouterEndpoint, configuration: Configuration) -> any RouterInspection {
        standaloneRouterClient(endpoint, configuration: configuration)
    }

    /// A client of its own for one router (its own transport and concurrency limit).
    private static func standaloneRouterClient(_ endpoint: RouterEndpoint, configuration: Configuration) -> RouterOSClient {
        RouterOSClient(
            configuration: RouterOSClient.Configuration(endpoint: endpoint, timeouts: Timeouts(configuration.routerTimeouts)),
            transport: CurlTransport(),
            limiter: RouterConcurrencyLimiter(
                maxConcurrentCallsPerRouter: configuration.routerMaxConcurrency,
                maxWait: .milliseconds(configuration.routerQueueWaitMilliseconds)))
    }

    /// Runs a router's checks now, as the server's periodic check does.
    public static func checkRouter(_ target: RouterChecker.Target, configuration: Configuration) -> RouterHealth {
        RouterChecker(clock: SystemWallClock()).check(target, on: routerInspection(target.endpoint, configuration: configuration))
    }

    /// A router's setup as a RouterOS script, and the hub's `[Peer]` with WireGuard.
    public static func setupScript(_ plan: RouterSetupPlan) -> (script: String, hubPeer: String?) {
        (RouterSetupScript.script(plan), RouterSetupScript.hubPeer(plan))
    }

    /// What the script's password reads when the operator did not ask for the stored one.
    public static let setupPasswordPlaceholder = RouterSetupScript.passwordPlaceholder

    private static func sealer(_ configuration: Configuration) throws(WiringError) -> SecretBox {
        do {
            return try SecretBox(base64Key: configuration.secretsKey)
        } catch {
            throw WiringError(description: "\(Configuration.Key.secretsKey): \(error)")
        }
    }
}

/// Why the wiring could not be built, in one log-safe line.
public struct WiringError: Error, CustomStringConvertible {
    public let description: String
}

/// Router ids seen so far by this process, for what is said once per router.
final class OncePerRouter: Sendable {
    private let seen = Mutex<Set<Int64>>([])

    /// True the first time `routerID` is given.
    func first(_ routerID: Int64) -> Bool { seen.withLock { $0.insert(routerID).inserted } }
}
