import Foundation

/// Everything the server and `hotspotctl` read from the environment (CONTRACT §9).
///
/// Values come from an optional env file (`KEY=value` lines) and the process environment; the
/// process environment wins. Per-router and per-company settings live in the database instead.
public struct Configuration: Sendable {
    /// libpq connection string or URL (`postgresql://user@/db?host=/run/postgresql`).
    public var databaseURL: String
    /// HMAC key for the portal API keys (HS256). At least 32 bytes.
    public var keySecret: [UInt8]
    /// 32-byte AES-256-GCM key, base64, for secrets at rest.
    public var secretsKey: String
    /// A unix socket path, or `host:port` (IPv4 literal host).
    public var listen: String
    public var socketMode: UInt16
    /// A group name for the socket (nginx's worker group), or nil to leave the process's group.
    public var socketGroup: String?
    public var threads: Int
    /// PostgreSQL connections per process, shared by the threads (threads × instances need not
    /// fit under `max_connections`, pools do).
    public var databasePoolSize: Int
    /// How long a thread waits for a pooled connection before answering 503.
    public var databasePoolWaitMilliseconds: Int
    public var maxBodyBytes: Int
    public var logLevel: String
    /// How long a verified API key row may be reused before it is read again (≤ 5 s).
    public var authCacheSeconds: Double
    /// How long a router's catalogue may be reused (a disabled product disappears within this).
    public var catalogueCacheSeconds: Double
    public var conekta: Conekta
    public var routerTimeouts: (connectMilliseconds: Int, totalMilliseconds: Int)
    /// Concurrent calls per router from one process.
    public var routerMaxConcurrency: Int
    /// How long a call waits for a router slot before answering busy.
    public var routerQueueWaitMilliseconds: Int
    /// The payment saga's clocks (CONTRACT §6).
    public var payments: Payments
    /// The removal of sold users once their access is over (CONTRACT §11).
    public var sweep: Sweep
    /// Seconds between two checks of one router by the server (CONTRACT §13); 0 turns them off.
    public var routerCheckIntervalSeconds: Int

    public struct Sweep: Sendable {
        /// Seconds between passes over one router; 0 turns sweeping off.
        public var intervalSeconds: Int
        /// At most this many users ended per pass over a router.
        public var batch: Int
        /// Pause between two ends on one router.
        public var pauseMilliseconds: Int
    }

    public struct Payments: Sendable {
        /// How often the reconciler looks for unfinished attempts; 0 disables the background thread.
        public var reconcileIntervalMilliseconds: Int
        /// A paid attempt whose user cannot be enabled within this is refunded.
        public var activationDeadlineSeconds: Int
        /// An unknown charge whose order is still not found after this was not made.
        public var orderLookupGraceSeconds: Int
        /// Budget for logging the paying device in.
        public var autoConnectBudgetMilliseconds: Int
        /// Card-testing limits: declines allowed per window by device, client address, router.
        public var declineWindowSeconds: Int
        public var declinesPerMAC: Int
        public var declinesPerAddress: Int
        public var declinesPerRouter: Int
        /// How long a product's profile, once found on the router by exact name, is trusted.
        public var profileCheckSeconds: Int
        /// Reconciler threads: how many unfinished attempts this process works on at once, across
        /// routers (each router within `reconcilePerRouter`).
        public var reconcileThreads: Int
        /// The longest wait before an unfinished attempt is tried again (the delay doubles per try
        /// up to this), which bounds how long a recovered router or Conekta waits for the reconciler.
        public var retryMaxSeconds: Int
        /// Pay later (CONTRACT §12): an order waiting for its cash or SPEI money is read this
        /// often at first, the delay doubling up to the maximum (and at the reference's expiry).
        public var payLaterPollSeconds: Int
        public var payLaterPollMaxSeconds: Int
        /// An order still payable this long after its reference expired is cancelled at Conekta.
        public var payLaterCancelGraceSeconds: Int
        /// Failed claim-code guesses allowed per window by device, client address, router.
        public var claimGuessWindowSeconds: Int
        public var claimGuessesPerMAC: Int
        public var claimGuessesPerAddress: Int
        public var claimGuessesPerRouter: Int
    }

    /// How long a worker holds an attempt it runs: longer than the slowest request can run (four
    /// router calls, a charge and a look-up, auto-connect, and a margin), so a live request's
    /// attempt is never taken over. The server and `hotspotctl reconcile` hold the same lease.
    public var paymentLeaseSeconds: Int {
        (4 * routerTimeouts.totalMilliseconds + 2 * conekta.totalTimeoutMilliseconds + payments.autoConnectBudgetMilliseconds)
            / 1000 + 5
    }

    /// Attempts of one router the reconciler works on at once (one router call each): half the
    /// router's concurrency cap, at least one, so that payments keep the other half.
    public var reconcilePerRouter: Int { max(1, routerMaxConcurrency / 2) }

    /// The base delay before an unfinished attempt is tried again (doubled per try, up to
    /// `payments.retryMaxSeconds`).
    public var retryAfterSeconds: Int { min(max(1, payments.reconcileIntervalMilliseconds / 1000), payments.retryMaxSeconds) }

    /// The gateway's timeout for a charge, in whole seconds (rounded up).
    public var chargeTimeoutSeconds: Int { (conekta.totalTimeoutMilliseconds + 999) / 1000 }

    public struct Conekta: Sendable {
        public var baseURL: String
        public var apiVersion: String
        public var caFile: String?
        public var connectTimeoutMilliseconds: Int
        public var totalTimeoutMilliseconds: Int
    }

    /// The variable names, for `--help` texts and the README.
    public enum Key {
        public static let databaseURL = "HOTSPOT_DATABASE_URL"
        public static let keySecret = "HOTSPOT_KEY_SECRET"
        public static let secretsKey = "HOTSPOT_SECRETS_KEY"
        public static let listen = "HOTSPOT_LISTEN"
        public static let socketMode = "HOTSPOT_SOCKET_MODE"
        public static let socketGroup = "HOTSPOT_SOCKET_GROUP"
        public static let threads = "HOTSPOT_THREADS"
        public static let databasePoolSize = "HOTSPOT_DB_POOL_SIZE"
        public static let databasePoolWait = "HOTSPOT_DB_POOL_WAIT_MS"
        public static let maxBodyBytes = "HOTSPOT_MAX_BODY_BYTES"
        public static let logLevel = "HOTSPOT_LOG_LEVEL"
        public static let authCacheSeconds = "HOTSPOT_AUTH_CACHE_SECONDS"
        public static let catalogueCacheSeconds = "HOTSPOT_CATALOGUE_CACHE_SECONDS"
        public static let conektaBaseURL = "HOTSPOT_CONEKTA_BASE_URL"
        public static let conektaAPIVersion = "HOTSPOT_CONEKTA_API_VERSION"
        public static let conektaCAFile = "HOTSPOT_CONEKTA_CA_FILE"
        public static let conektaConnectTimeout = "HOTSPOT_CONEKTA_CONNECT_TIMEOUT_MS"
        public static let conektaTimeout = "HOTSPOT_CONEKTA_TIMEOUT_MS"
        public static let routerConnectTimeout = "HOTSPOT_ROUTER_CONNECT_TIMEOUT_MS"
        public static let routerTimeout = "HOTSPOT_ROUTER_TIMEOUT_MS"
        public static let routerMaxConcurrency = "HOTSPOT_ROUTER_MAX_CONCURRENCY"
        public static let routerQueueWait = "HOTSPOT_ROUTER_QUEUE_WAIT_MS"
        public static let reconcileInterval = "HOTSPOT_RECONCILE_INTERVAL_MS"
        public static let activationDeadline = "HOTSPOT_ACTIVATION_DEADLINE_SECONDS"
        public static let orderLookupGrace = "HOTSPOT_ORDER_LOOKUP_GRACE_SECONDS"
        public static let autoConnectBudget = "HOTSPOT_AUTO_CONNECT_BUDGET_MS"
        public static let declineWindow = "HOTSPOT_DECLINE_WINDOW_SECONDS"
        public static let declinesPerMAC = "HOTSPOT_DECLINES_PER_MAC"
        public static let declinesPerAddress = "HOTSPOT_DECLINES_PER_ADDRESS"
        public static let declinesPerRouter = "HOTSPOT_DECLINES_PER_ROUTER"
        public static let profileCheck = "HOTSPOT_PROFILE_CHECK_SECONDS"
        public static let reconcileThreads = "HOTSPOT_RECONCILE_THREADS"
        public static let retryMax = "HOTSPOT_RETRY_MAX_SECONDS"
        public static let sweepInterval = "HOTSPOT_SWEEP_INTERVAL"
        public static let sweepBatch = "HOTSPOT_SWEEP_BATCH"
        public static let sweepPause = "HOTSPOT_SWEEP_PAUSE_MS"
        public static let payLaterPoll = "HOTSPOT_PAY_LATER_POLL_SECONDS"
        public static let payLaterPollMax = "HOTSPOT_PAY_LATER_POLL_MAX_SECONDS"
        public static let payLaterCancelGrace = "HOTSPOT_PAY_LATER_CANCEL_GRACE_SECONDS"
        public static let claimGuessWindow = "HOTSPOT_CLAIM_GUESS_WINDOW_SECONDS"
        public static let claimGuessesPerMAC = "HOTSPOT_CLAIM_GUESSES_PER_MAC"
        public static let claimGuessesPerAddress = "HOTSPOT_CLAIM_GUESSES_PER_ADDRESS"
        public static let claimGuessesPerRouter = "HOTSPOT_CLAIM_GUESSES_PER_ROUTER"
        public static let routerCheckInterval = "HOTSPOT_ROUTER_CHECK_INTERVAL"

        /// Every variable the configuration reads.
        public static let all = [
            databaseURL, keySecret, secretsKey, listen, socketMode, socketGroup, threads, databasePoolSize, databasePoolWait,
            maxBodyBytes, logLevel, authCacheSeconds, catalogueCacheSeconds, conektaBaseURL, conektaAPIVersion, conektaCAFile,
            conektaConnectTimeout, conektaTimeout, routerConnectTimeout, routerTimeout, routerMaxConcurrency, routerQueueWait,
            reconcileInterval, activationDeadline, orderLookupGrace, autoConnectBudget, declineWindow, declinesPerMAC,
            declinesPerAddress, declinesPerRouter, profileCheck, reconcileThreads, retryMax, sweepInterval, sweepBatch, sweepPause,
            payLaterPoll, payLaterPollMax, payLaterCancelGrace, claimGuessWindow, claimGuessesPerMAC, claimGuessesPerAddress,
            claimGuessesPerRouter,
            routerCheckInterval,
        ]
    }

    /// Reads the configuration from `environment`, after the optional env file's values.
    /// - Parameter require: which secrets this command needs; the others may be absent.
    public static func load(
        envFile: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        require: Set<Requirement> = [.database, .keySecret, .secretsKey]
    ) throws(ConfigurationError) -> Configuration {
        var values: [String: String] = [:]
        if let envFile {
            guard let data = FileManager.default.contents(atPath: envFile),
                let text = String(data: data, encoding: .utf8)
            else { throw ConfigurationError(key: "--env-file", problem: "cannot read \(envFile)") }
            values = try parseEnvFile(text)
        }
        for (key, value) in environment where key.hasPrefix("HOTSPOT_") { values[key] = value }
        return try Configuration(values: values, require: require)
    }

    public enum Requirement: Sendable, Hashable { case database, keySecret, secretsKey }

    init(values: [String: String], require: Set<Requirement>) throws(ConfigurationError) {
        func string(_ key: String, default fallback: String? = nil) throws(ConfigurationError) -> String {
            if let value = values[key], !value.isEmpty { return value }
            if let fallback { return fallback }
            throw ConfigurationError(key: key, problem: "is required")
        }
        func integer(_ key: String, default fallback: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            guard let text = values[key], !text.isEmpty else { return fallback }
            guard let number = Int(text), range.contains(number) else {
                throw ConfigurationError(key: key, problem: "must be a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }

        databaseURL = try string(Key.databaseURL, default: require.contains(.database) ? nil : "")
        let secret = try string(Key.keySecret, default: require.contains(.keySecret) ? nil : "")
        if require.contains(.keySecret), secret.utf8.count < 32 {
            throw ConfigurationError(key: Key.keySecret, problem: "must be at least 32 characters")
        }
        keySecret = Array(secret.utf8)
        secretsKey = try string(Key.secretsKey, default: require.contains(.secretsKey) ? nil : "")
        if require.contains(.secretsKey), Data(base64Encoded: secretsKey)?.count != 32 {
            throw ConfigurationError(key: Key.secretsKey, problem: "must be 32 bytes in base64 (openssl rand -base64 32)")
        }
        listen = try string(Key.listen, default: "/run/hotspot-pay/hotspot-pay.sock")
        let modeText = try string(Key.socketMode, default: "0660")
        guard let mode = UInt16(modeText, radix: 8), mode <= 0o777 else {
            throw ConfigurationError(key: Key.socketMode, problem: "must be an octal mode such as 0660")
        }
        socketMode = mode
        socketGroup = values[Key.socketGroup].flatMap { $0.isEmpty ? nil : $0 }
        threads = try integer(Key.threads, default: 16, range: 1...1024)
        databasePoolSize = try integer(Key.databasePoolSize, default: min(threads, 16), range: 1...256)
        databasePoolWaitMilliseconds = try integer(Key.databasePoolWait, default: 3_000, range: 10...30_000)
        maxBodyBytes = try integer(Key.maxBodyBytes, default: 16_384, range: 256...(1 << 20))
        logLevel = try string(Key.logLevel, default: "info")
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) else {
            throw ConfigurationError(key: Key.logLevel, problem: "must be one of trace, debug, info, notice, warning, error")
        }
        let cacheText = try string(Key.authCacheSeconds, default: "2")
        guard let cache = Double(cacheText), (0...5).contains(cache) else {
            throw ConfigurationError(key: Key.authCacheSeconds, problem: "must be a number of seconds from 0 to 5")
        }
        authCacheSeconds = cache
        let catalogueText = try string(Key.catalogueCacheSeconds, default: "2")
        guard let catalogue = Double(catalogueText), (0...60).contains(catalogue) else {
            throw ConfigurationError(key: Key.catalogueCacheSeconds, problem: "must be a number of seconds from 0 to 60")
        }
        catalogueCacheSeconds = catalogue
        conekta = Conekta(
            baseURL: try string(Key.conektaBaseURL, default: "https://api.conekta.io"),
            apiVersion: try string(Key.conektaAPIVersion, default: "2.2.0"),
            caFile: values[Key.conektaCAFile].flatMap { $0.isEmpty ? nil : $0 },
            connectTimeoutMilliseconds: try integer(Key.conektaConnectTimeout, default: 3_000, range: 100...30_000),
            totalTimeoutMilliseconds: try integer(Key.conektaTimeout, default: 15_000, range: 500...25_000)
        )
        routerTimeouts = (
            try integer(Key.routerConnectTimeout, default: 2_000, range: 100...30_000),
            try integer(Key.routerTimeout, default: 4_000, range: 200...10_000)
        )
        routerMaxConcurrency = try integer(Key.routerMaxConcurrency, default: 8, range: 1...64)
        routerQueueWaitMilliseconds = try integer(Key.routerQueueWait, default: 2_000, range: 0...30_000)
        payments = Payments(
            reconcileIntervalMilliseconds: try integer(Key.reconcileInterval, default: 2_000, range: 0...600_000),
            activationDeadlineSeconds: try integer(Key.activationDeadline, default: 600, range: 5...86_400),
            orderLookupGraceSeconds: try integer(Key.orderLookupGrace, default: 120, range: 1...86_400),
            autoConnectBudgetMilliseconds: try integer(Key.autoConnectBudget, default: 5_000, range: 500...5_000),
            declineWindowSeconds: try integer(Key.declineWindow, default: 600, range: 10...86_400),
            declinesPerMAC: try integer(Key.declinesPerMAC, default: 3, range: 0...10_000),
            declinesPerAddress: try integer(Key.declinesPerAddress, default: 10, range: 0...100_000),
            declinesPerRouter: try integer(Key.declinesPerRouter, default: 50, range: 0...1_000_000),
            profileCheckSeconds: try integer(Key.profileCheck, default: 60, range: 0...3_600),
            reconcileThreads: try integer(Key.reconcileThreads, default: 32, range: 1...256),
            retryMaxSeconds: try integer(Key.retryMax, default: 15, range: 1...600),
            payLaterPollSeconds: try integer(Key.payLaterPoll, default: 60, range: 1...3_600),
            payLaterPollMaxSeconds: try integer(Key.payLaterPollMax, default: 600, range: 1...3_600),
            payLaterCancelGraceSeconds: try integer(Key.payLaterCancelGrace, default: 3_600, range: 0...86_400),
            claimGuessWindowSeconds: try integer(Key.claimGuessWindow, default: 600, range: 10...86_400),
            claimGuessesPerMAC: try integer(Key.claimGuessesPerMAC, default: 10, range: 0...10_000),
            claimGuessesPerAddress: try integer(Key.claimGuessesPerAddress, default: 10, range: 0...100_000),
            claimGuessesPerRouter: try integer(Key.claimGuessesPerRouter, default: 100, range: 0...1_000_000)
        )
        sweep = Sweep(
            intervalSeconds: try integer(Key.sweepInterval, default: 60, range: 0...86_400),
            batch: try integer(Key.sweepBatch, default: 200, range: 1...100_000),
            pauseMilliseconds: try integer(Key.sweepPause, default: 20, range: 0...10_000)
        )
        routerCheckIntervalSeconds = try integer(Key.routerCheckInterval, default: 300, range: 0...86_400)
    }

    /// Parses `KEY=value` lines: `#` comments, blank lines, an optional `export ` prefix, and
    /// values optionally wrapped in single or double quotes.
    static func parseEnvFile(_ text: String) throws(ConfigurationError) -> [String: String] {
        var values: [String: String] = [:]
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError(key: "--env-file", problem: "line \(number + 1) is not KEY=value")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            values[key] = value
        }
        return values
    }
}

/// A configuration problem, naming the variable and never its value.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var key: String
    public var problem: String

    public var description: String { "\(key) \(problem)" }
}
