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

/// The composition root: the only place that names concrete adapters. Each worker thread gets
/// its own object graph (its own curl handle); the PostgreSQL connection pool, the per-router
/// limiter and the read caches are the only shared parts, each built for it.
extension Application {
    func makeWorker(index: Int) -> Worker {
        let recorder = metrics.recorder(shard: index)
        let graph = makeGraph(name: "fcgi-\(index)", recorder: recorder)
        let verifier = MemoizingKeyVerifier(HS256KeyCodec(secret: configuration.keySecret))
        let directory = CachedPortalDirectory(store: graph.store, caches: caches)
        let portal = PortalService(directory: directory, verifier: verifier)
        let metrics = self.metrics
        let handler = PortalHandler(
            portal: portal, payments: graph.payments, maxBodyBytes: configuration.maxBodyBytes,
            now: { Int64(Date().timeIntervalSince1970) }, metrics: { metrics.exposition(now: Date().timeIntervalSince1970) })
        var logger = self.logger
        logger[metadataKey: "thread"] = "\(index)"
        return Worker(
            handler: handler, store: graph.store, logger: logger, maxBodyBytes: configuration.maxBodyBytes, recorder: recorder)
    }

    /// One thread's adapters, measured into its metrics recorder, and the payment service over them.
    func makeGraph(name: String, recorder: MetricsRecorder) -> (store: PostgresStore, payments: PaymentService) {
        // Configuration.load already validated the key, so this cannot fail here.
        let sealer = try! SecretBox(base64Key: configuration.secretsKey)
        let store = PostgresStore(pool: databasePool, sealer: sealer)
        let transport = CurlTransport()
        let conekta = ConektaClient(
            transport: transport,
            configuration: ConektaClient.Configuration(
                baseURL: configuration.conekta.baseURL, apiVersion: configuration.conekta.apiVersion,
                caFile: configuration.conekta.caFile,
                connectTimeoutMilliseconds: configuration.conekta.connectTimeoutMilliseconds,
                totalTimeoutMilliseconds: configuration.conekta.totalTimeoutMilliseconds),
            searchEvidence: searchEvidence)
        let limiter = routerLimiter
        let timeouts = configuration.routerTimeouts
        let routerTimeouts = Timeouts(connectMilliseconds: timeouts.connectMilliseconds, totalMilliseconds: timeouts.totalMilliseconds)
        let caches = self.caches
        let logger = self.logger
        let hasher = KeyedHasher(secret: configuration.keySecret)
        var settings = PaymentService.Settings()
        settings.activationDeadlineSeconds = Int64(configuration.payments.activationDeadlineSeconds)
        settings.lookupGraceSeconds = Int64(configuration.payments.orderLookupGraceSeconds)
        settings.autoConnectBudgetMilliseconds = configuration.payments.autoConnectBudgetMilliseconds
        settings.declineWindowSeconds = configuration.payments.declineWindowSeconds
        settings.declinesPerMAC = configuration.payments.declinesPerMAC
        settings.declinesPerAddress = configuration.payments.declinesPerAddress
        settings.declinesPerRouter = configuration.payments.declinesPerRouter
        settings.profileCheckSeconds = configuration.payments.profileCheckSeconds
        settings.retry = RetrySchedule(
            baseSeconds: configuration.retryAfterSeconds, ceilingSeconds: configuration.payments.retryMaxSeconds)
        settings.chargeTimeoutSeconds = Int64(configuration.chargeTimeoutSeconds)
        settings.leaseSeconds = configuration.paymentLeaseSeconds
        let pendingReleases = self.pendingReleases
        let verifiedProfiles = self.verifiedProfiles
        let warnedInsecureRouters = self.warnedInsecureRouters

        let payments = PaymentService(
            ledger: store, gateway: MeasuredPaymentGateway(base: conekta, recorder: recorder), rendering: PaymentPresenter(),
            clock: SystemWallClock(), settings: settings,
            owner: "\(instanceName)/\(name)", fingerprint: hasher.hash,
            routerAccess: { (routerID: Int64) throws(StoreFailure) -> PaymentService.RouterAccess? in
                let endpoint = try caches.routers.value(for: routerID) { () throws(StoreFailure) in
                    let endpoint = try store.routerEndpoint(routerID: routerID)
                    // Once per router per process: the endpoint is read again every few seconds.
                    if let endpoint, RouterOSClient.Configuration(endpoint: endpoint, timeouts: routerTimeouts).isInsecure,
                        warnedInsecureRouters.first(routerID)
                    {
                        logger.warning("router TLS is not verified (insecure)", metadata: ["router": "\(routerID)"])
                    }
                    return endpoint
                }
                guard let endpoint else { return nil }
                let main = RouterOSClient.Configuration(endpoint: endpoint, timeouts: routerTimeouts)
                // Auto-connect has 5 s in all (CONTRACT §5): its calls get short timeouts.
                let quick = RouterOSClient.Configuration(
                    endpoint: endpoint,
                    timeouts: Timeouts(
                        connectMilliseconds: min(timeouts.connectMilliseconds, 1_000), totalMilliseconds: 2_000))
                return PaymentService.RouterAccess(
                    directory: MeasuredHotspotUserDirectory(
                        base: RouterOSClient(configuration: main, transport: transport, limiter: limiter), recorder: recorder),
                    quick: MeasuredHotspotUserDirectory(
                        base: RouterOSClient(configuration: quick, transport: transport, limiter: limiter), recorder: recorder),
                    hotspotServer: endpoint.hotspotServer)
            },
            gatewayKey: { (companyID: Int64) throws(StoreFailure) -> GatewayKey? in
                try caches.gatewayKeys.value(for: companyID) { () throws(StoreFailure) in try store.conektaPrivateKey(companyID: companyID)
                }
            },
            releaseLater: { id in pendingReleases.insert(id) }, verifiedProfiles: verifiedProfiles)
        return (store, payments)
    }
}

extension RouterOSClient.Configuration {
    init(endpoint: RouterEndpoint, timeouts: Timeouts) {
        let trust: TLSTrust
        switch endpoint.trust {
        case .caFile(let path): trust = .caFile(path)
        case .pinnedPublicKey(let pin): trust = .pinnedPublicKey(pin)
        case .insecure: trust = .insecure
        }
        self.init(
            routerID: String(endpoint.routerID), baseURL: endpoint.baseURL,
            credentials: BasicAuth(user: endpoint.user, password: endpoint.password), tls: trust, timeouts: timeouts,
            hotspotServer: endpoint.hotspotServer)
    }
}

/// The system clock.
struct SystemWallClock: WallClock {
    func nowMicroseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1_000
    }

    func sleep(milliseconds: Int) {
        usleep(useconds_t(milliseconds * 1_000))
    }
}
