import Configuration
import Domain
import Gateway
import HTTPTransport
import RouterOS

// Each adapter's and the payment service's settings, read from the configuration in one place.

extension PaymentService.Settings {
    /// Every payment setting the configuration holds.
    public init(_ configuration: Configuration) {
        self.init()
        let payments = configuration.payments
        activationDeadlineSeconds = Int64(payments.activationDeadlineSeconds)
        lookupGraceSeconds = Int64(payments.orderLookupGraceSeconds)
        autoConnectBudgetMilliseconds = payments.autoConnectBudgetMilliseconds
        declineWindowSeconds = payments.declineWindowSeconds
        declinesPerMAC = payments.declinesPerMAC
        declinesPerAddress = payments.declinesPerAddress
        declinesPerRouter = payments.declinesPerRouter
        profileCheckSeconds = payments.profileCheckSeconds
        retry = RetrySchedule(baseSeconds: configuration.retryAfterSeconds, ceilingSeconds: payments.retryMaxSeconds)
        chargeTimeoutSeconds = Int64(configuration.chargeTimeoutSeconds)
        leaseSeconds = configuration.paymentLeaseSeconds
        payLaterPoll = RetrySchedule(
            baseSeconds: payments.payLaterPollSeconds, ceilingSeconds: max(payments.payLaterPollSeconds, payments.payLaterPollMaxSeconds))
        payLaterCancelGraceSeconds = Int64(payments.payLaterCancelGraceSeconds)
        claimGuessWindowSeconds = payments.claimGuessWindowSeconds
        claimGuessesPerMAC = payments.claimGuessesPerMAC
        claimGuessesPerAddress = payments.claimGuessesPerAddress
        claimGuessesPerRouter = payments.claimGuessesPerRouter
    }
}

extension AccessSweeper.Settings {
    /// Every sweep setting the configuration holds. Its lease and budget are derived: a pass
    /// starts no end after 60 s, and its lease outlasts that and the listing's timeout.
    public init(_ configuration: Configuration) {
        self.init()
        intervalSeconds = max(configuration.sweep.intervalSeconds, 1)
        batch = configuration.sweep.batch
        pauseMilliseconds = configuration.sweep.pauseMilliseconds
        passBudgetSeconds = 60
        // The listing (30 s at most), the budget, and the last end's calls and record.
        leaseSeconds = 30 + passBudgetSeconds + 2 * configuration.routerTimeouts.totalMilliseconds / 1000 + 30
    }
}

extension RouterHealthMonitor.Settings {
    /// The configured interval; a check's lease outlasts its seven calls at their timeout.
    public init(_ configuration: Configuration) {
        self.init()
        intervalSeconds = max(configuration.routerCheckIntervalSeconds, 1)
        leaseSeconds = 7 * configuration.routerTimeouts.totalMilliseconds / 1000 + 30
    }
}

extension ConektaClient.Configuration {
    init(_ conekta: Configuration.Conekta) {
        self.init(
            baseURL: conekta.baseURL, apiVersion: conekta.apiVersion, caFile: conekta.caFile,
            connectTimeoutMilliseconds: conekta.connectTimeoutMilliseconds, totalTimeoutMilliseconds: conekta.totalTimeoutMilliseconds)
    }
}

extension Timeouts {
    init(_ router: (connectMilliseconds: Int, totalMilliseconds: Int)) {
        self.init(connectMilliseconds: router.connectMilliseconds, totalMilliseconds: router.totalMilliseconds)
    }
}

extension RouterOSClient.Configuration {
    /// A router as its stored endpoint describes it.
    init(endpoint: RouterEndpoint, timeouts: Timeouts) {
        let trust: TLSTrust =
            switch endpoint.trust {
            case .caFile(let path): .caFile(path)
            case .pinnedPublicKey(let pin): .pinnedPublicKey(pin)
            case .insecure: .insecure
            }
        self.init(
            routerID: String(endpoint.routerID), baseURL: endpoint.baseURL,
            credentials: BasicAuth(user: endpoint.user, password: endpoint.password), tls: trust, timeouts: timeouts,
            hotspotServer: endpoint.hotspotServer)
    }
}
