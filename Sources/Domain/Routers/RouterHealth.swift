/// The checks of a router in the field (CONTRACT §13), in the order they run: each needs the
/// ones before it to have passed. `rawValue` names them in JSON, the database and metrics.
public enum RouterCheck: String, Sendable, CaseIterable {
    /// The host name resolves and the REST port accepts a connection.
    case address
    /// The router is the one trusted: its certificate verifies against the CA file, or its key
    /// matches the pin.
    case tls
    /// The API user and password are accepted.
    case credentials
    /// RouterOS 7.1 or later (REST).
    case version
    /// The API user's group has `read`, `write`, `api`, `rest-api`, and nothing more.
    case policies
    /// `www-ssl` is restricted to the server's address, and plain `www` is off.
    case service
    /// The hotspot server of the router's record exists and runs.
    case hotspotServer = "hotspot_server"
    /// Every active product's profile exists by its exact name.
    case profiles
    /// The router's clock is within a minute of ours.
    case clock
}

/// How one check went. A `skip` follows a failure it depends on.
public enum RouterCheckStatus: String, Sendable, CaseIterable {
    case ok
    case warn
    case fail
    case skip

    /// Whether the check holds (a warning holds; a skipped check is not known to).
    public var holds: Bool { self == .ok || self == .warn }
}

/// What a check found: the facts behind its status, without words (the operator's wording is
/// `hotspotctl`'s). `code` names the case in the database and JSON.
public enum RouterFinding: Sendable, Equatable {
    // address
    case reached(host: String, port: Int)
    case unresolvable(host: String, detail: String)
    case refused(host: String, port: Int)
    case connectTimedOut(host: String, port: Int)
    case noAnswer(host: String, port: Int, detail: String)
    // tls
    case trusted(RouterEndpoint.Trust)
    case notVerified
    case plainHTTP
    case pinMismatch(pin: String)
    case certificateRejected(caFile: String, detail: String)
    case handshakeFailed(detail: String)
    // credentials
    case accepted(user: String)
    case credentialsRefused(user: String)
    // version
    case version(RouterResource)
    case versionTooOld(String)
    case noREST(status: Int, mediaType: String?)
    case versionUnreadable(String)
    // policies
    case policies(group: String, RouterPolicies)
    case userNotListed(user: String)
    case notPermitted(detail: String)
    // service
    case service(port: String?, address: String, plainWWW: Bool)
    case serviceNotListed
    // hotspot server
    case hotspotServer(name: String)
    case anyHotspotServer([String])
    case hotspotServerMissing(name: String, available: [String])
    case hotspotServerDisabled(name: String)
    case noHotspotServer
    // profiles
    case profiles([String])
    case noProducts
    case profilesMissing([ProfileMiss], routerProfiles: [String])
    // clock
    case clock(skewSeconds: Int64, RouterClock)
    case clockUnreadable(RouterClock)
    // any check
    case notChecked(after: RouterCheck)
    case probeFailed(RouterProbeFailure)

    /// A product whose profile the router does not have by that exact name.
    public struct ProfileMiss: Sendable, Equatable {
        public var productID: Int64
        public var productName: String
        public var profile: String

        public init(productID: Int64, productName: String, profile: String) {
            self.productID = productID
            self.productName = productName
            self.profile = profile
        }
    }

    public var code: String {
        switch self {
        case .reached: "reached"
        case .unresolvable: "unresolvable"
        case .refused: "refused"
        case .connectTimedOut: "connect_timed_out"
        case .noAnswer: "no_answer"
        case .trusted(.pinnedPublicKey): "pin_matched"
        case .trusted: "ca_verified"
        case .notVerified: "not_verified"
        case .plainHTTP: "plain_http"
        case .pinMismatch: "pin_mismatch"
        case .certificateRejected: "certificate_rejected"
        case .handshakeFailed: "handshake_failed"
        case .accepted: "accepted"
        case .credentialsRefused: "credentials_refused"
        case .version: "supported"
        case .versionTooOld: "too_old"
        case .noREST: "no_rest"
        case .versionUnreadable: "unreadable"
        case .policies(_, let policies):
            !policies.missing.isEmpty ? "missing_policies" : !policies.extra.isEmpty ? "extra_policies" : "exact"
        case .userNotListed: "user_not_listed"
        case .notPermitted: "not_permitted"
        case .service(_, let address, let plainWWW):
            plainWWW ? "plain_www_enabled" : address.isEmpty ? "unrestricted" : "restricted"
        case .serviceNotListed: "www_ssl_not_listed"
        case .hotspotServer: "found"
        case .anyHotspotServer: "found"
        case .hotspotServerMissing: "missing"
        case .hotspotServerDisabled: "disabled"
        case .noHotspotServer: "none"
        case .profiles: "found"
        case .noProducts: "no_products"
        case .profilesMissing: "missing"
        case .clock: "skew"
        case .clockUnreadable: "unreadable"
        case .notChecked: "not_checked"
        case .probeFailed: "probe_failed"
        }
    }
}

/// One check's outcome.
public struct RouterCheckResult: Sendable, Equatable {
    public var check: RouterCheck
    public var status: RouterCheckStatus
    public var finding: RouterFinding

    public init(check: RouterCheck, status: RouterCheckStatus, finding: RouterFinding) {
        self.check = check
        self.status = status
        self.finding = finding
    }
}

/// Every check of one router at one moment.
public struct RouterHealth: Sendable, Equatable {
    public var routerID: Int64
    /// Unix seconds.
    public var checkedAt: Int64
    /// One per `RouterCheck`, in its order.
    public var results: [RouterCheckResult]

    public init(routerID: Int64, checkedAt: Int64, results: [RouterCheckResult]) {
        self.routerID = routerID
        self.checkedAt = checkedAt
        self.results = results
    }

    /// `fail` when a check failed, else `warn` when one warned, else `ok`.
    public var status: RouterCheckStatus {
        if results.contains(where: { $0.status == .fail || $0.status == .skip }) { return .fail }
        return results.contains { $0.status == .warn } ? .warn : .ok
    }

    public func result(_ check: RouterCheck) -> RouterCheckResult? { results.first { $0.check == check } }

    /// What is kept of it: each check's status and finding code.
    public var record: RouterHealthRecord {
        RouterHealthRecord(
            routerID: routerID, checkedAt: checkedAt,
            checks: results.map { RouterHealthRecord.Entry(check: $0.check, status: $0.status, code: $0.finding.code) })
    }
}

/// A router's last check as stored: for `hotspotctl router list` and the health metric.
public struct RouterHealthRecord: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var check: RouterCheck
        public var status: RouterCheckStatus
        public var code: String

        public init(check: RouterCheck, status: RouterCheckStatus, code: String) {
            self.check = check
            self.status = status
            self.code = code
        }
    }

    public var routerID: Int64
    /// Unix seconds.
    public var checkedAt: Int64
    public var checks: [Entry]
    /// `hotspotctl` or the server instance (`host:pid`) that ran it.
    public var checkedBy: String?

    public init(routerID: Int64, checkedAt: Int64, checks: [Entry], checkedBy: String? = nil) {
        self.routerID = routerID
        self.checkedAt = checkedAt
        self.checks = checks
        self.checkedBy = checkedBy
    }

    public var status: RouterCheckStatus {
        if checks.contains(where: { $0.status == .fail || $0.status == .skip }) { return .fail }
        return checks.contains { $0.status == .warn } ? .warn : .ok
    }

    public var failing: [RouterCheck] { checks.filter { $0.status == .fail }.map(\.check) }
    public var warnings: [RouterCheck] { checks.filter { $0.status == .warn }.map(\.check) }
}
