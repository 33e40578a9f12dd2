/// The hotspot users, profiles, hosts and sessions of one router.
///
/// Implemented by `RouterOSClient` (RouterOS v7 REST); tests use `InMemoryHotspotUserDirectory`.
/// Every method throws only `RouterFailure`.
public protocol HotspotUserDirectory {
    /// The user with exactly this name on the configured hotspot server, or nil.
    func findUser(named name: String) throws(RouterFailure) -> HotspotUser?

    /// Creates one user and returns it as the router stored it (with its `.id`).
    /// - Throws: `.duplicateName` when the name exists for this server; `.profileNotFound` /
    ///   `.profileAmbiguous` for the profile; `.timedOut(maybeApplied: true)` when the request
    ///   left but no reply came (look the name up before trying again).
    func createUser(_ user: NewHotspotUser) throws(RouterFailure) -> HotspotUser

    /// Enables or disables a user by `.id`. `.notFound` when it does not exist.
    func setUserDisabled(id: String, disabled: Bool) throws(RouterFailure)

    /// Deletes a user by `.id`. Succeeds when the user does not exist (already deleted).
    func deleteUser(id: String) throws(RouterFailure)

    /// The user profile with exactly this name, or nil. (RouterOS resolves `profile=` by unique
    /// prefix when creating users, so callers check the exact name first.)
    func findProfile(named name: String) throws(RouterFailure) -> HotspotProfile?

    func listProfiles() throws(RouterFailure) -> [HotspotProfile]

    /// The hotspot host entry for a device, looked up by MAC and/or address; nil when unknown.
    func findHost(mac: MACAddress?, address: IPv4Address?) throws(RouterFailure) -> HotspotHost?

    /// Logs a device in server-side (`/ip/hotspot/active/login`).
    /// - Throws: `.unknownHost` when the router has not seen the device; `.loginRejected` with
    ///   the router's reason otherwise.
    func login(user: String, password: String, address: IPv4Address, mac: MACAddress?) throws(RouterFailure)

    /// The active sessions of a user (usually zero or one).
    func activeSessions(user: String) throws(RouterFailure) -> [ActiveSession]

    /// Ends an active session by `.id` (`/ip/hotspot/active` remove): its device must log in
    /// again. Succeeds when the session has ended already. Disabling or deleting a user is not
    /// relied on to end its sessions.
    func removeSession(id: String) throws(RouterFailure)

    /// Every hotspot user of the router with what it has used, in one call (whatever its server
    /// and its comment: the caller picks its own users). Never asks for passwords.
    func listUsage() throws(RouterFailure) -> [HotspotUserUsage]

    /// Every active session of the router, in one call.
    func listActiveSessions() throws(RouterFailure) -> [ActiveSession]
}

/// A hotspot user as the router counts its use (CONTRACT §11): RouterOS keeps a user whose
/// `limit-uptime` or `limit-bytes-total` is spent, so what it used is read, not inferred.
public struct HotspotUserUsage: Sendable, Equatable {
    /// RouterOS's `.id`, such as `*1A`.
    public var id: String
    public var name: String
    public var comment: String
    public var disabled: Bool
    /// Time logged in over all its sessions so far; nil when the router printed none it can read.
    public var uptimeSeconds: Int64?
    public var bytesIn: Int64?
    public var bytesOut: Int64?
    /// The user's own limits as the router holds them; nil when it has none (RouterOS prints 0).
    public var limitUptimeSeconds: Int64?
    public var limitBytesTotal: Int64?

    public init(
        id: String, name: String, comment: String, disabled: Bool = false, uptimeSeconds: Int64? = 0, bytesIn: Int64? = 0,
        bytesOut: Int64? = 0, limitUptimeSeconds: Int64? = nil, limitBytesTotal: Int64? = nil
    ) {
        self.id = id
        self.name = name
        self.comment = comment
        self.disabled = disabled
        self.uptimeSeconds = uptimeSeconds
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.limitUptimeSeconds = limitUptimeSeconds
        self.limitBytesTotal = limitBytesTotal
    }

    /// Bytes in and out together (what `limit-bytes-total` counts); nil when neither was readable.
    public var bytesTotal: Int64? {
        guard bytesIn != nil || bytesOut != nil else { return nil }
        let (sum, overflow) = (bytesIn ?? 0).addingReportingOverflow(bytesOut ?? 0)
        return overflow ? .max : sum
    }
}

public struct NewHotspotUser: Sendable, Equatable {
    public var name: String
    public var password: String
    public var profile: String
    /// The hotspot server name (`all` for every server).
    public var server: String
    public var disabled: Bool
    public var comment: String
    public var macAddress: MACAddress?
    /// RouterOS time interval text such as `1h` or `1d2h`; nil for no limit.
    public var limitUptime: String?
    public var limitBytesTotal: Int64?

    public init(
        name: String, password: String, profile: String, server: String, disabled: Bool, comment: String,
        macAddress: MACAddress? = nil, limitUptime: String? = nil, limitBytesTotal: Int64? = nil
    ) {
        self.name = name
        self.password = password
        self.profile = profile
        self.server = server
        self.disabled = disabled
        self.comment = comment
        self.macAddress = macAddress
        self.limitUptime = limitUptime
        self.limitBytesTotal = limitBytesTotal
    }
}

/// A hotspot user as the router reports it. The password is deliberately not kept.
public struct HotspotUser: Sendable, Equatable {
    /// RouterOS's `.id`, such as `*1A`.
    public var id: String
    public var name: String
    public var profile: String
    public var server: String
    public var disabled: Bool
    public var comment: String
    public var macAddress: String?

    public init(
        id: String, name: String, profile: String, server: String, disabled: Bool, comment: String,
        macAddress: String? = nil
    ) {
        self.id = id
        self.name = name
        self.profile = profile
        self.server = server
        self.disabled = disabled
        self.comment = comment
        self.macAddress = macAddress
    }
}

public struct HotspotProfile: Sendable, Equatable {
    public var id: String
    public var name: String
    public var rateLimit: String?
    public var sessionTimeout: String?
    public var sharedUsers: String?

    public init(id: String, name: String, rateLimit: String? = nil, sessionTimeout: String? = nil, sharedUsers: String? = nil) {
        self.id = id
        self.name = name
        self.rateLimit = rateLimit
        self.sessionTimeout = sessionTimeout
        self.sharedUsers = sharedUsers
    }
}

public struct HotspotHost: Sendable, Equatable {
    public var id: String
    public var macAddress: String
    public var address: String
    /// The translated address when the hotspot uses an address pool; log in with this one.
    public var toAddress: String?
    public var server: String?
    public var authorized: Bool

    public init(id: String, macAddress: String, address: String, toAddress: String? = nil, server: String? = nil, authorized: Bool = false)
    {
        self.id = id
        self.macAddress = macAddress
        self.address = address
        self.toAddress = toAddress
        self.server = server
        self.authorized = authorized
    }
}

public struct ActiveSession: Sendable, Equatable {
    public var id: String
    public var user: String
    public var address: String
    public var macAddress: String
    public var server: String?
    /// How long this session has run; nil when not asked for or not readable.
    public var uptimeSeconds: Int64?

    public init(
        id: String, user: String, address: String, macAddress: String, server: String? = nil, uptimeSeconds: Int64? = nil
    ) {
        self.id = id
        self.user = user
        self.address = address
        self.macAddress = macAddress
        self.server = server
        self.uptimeSeconds = uptimeSeconds
    }
}

/// Why a router call failed, as the payment saga needs to tell the cases apart.
public enum RouterFailure: Error, Sendable, Equatable {
    /// `failure: already have user with this name for this server`.
    case duplicateName
    /// `input does not match any value of profile`.
    case profileNotFound
    /// `ambiguous value of profile, more than one possible value matches input`.
    case profileAmbiguous
    /// No such item (`.id` unknown).
    case notFound
    /// The device is not in `/ip/hotspot/host` (`unknown host IP …`).
    case unknownHost
    /// `active/login` refused for another reason (disabled user, wrong MAC, bad password…).
    case loginRejected(String)
    /// The router refused our API credentials (401).
    case authenticationFailed
    /// Nothing was sent: refused, unresolvable, TLS failure, pin mismatch, connect timeout.
    case unreachable(String)
    /// The request left but no complete reply came. `maybeApplied` is true for mutations.
    case timedOut(maybeApplied: Bool)
    /// The per-router concurrency cap was full for longer than the wait allowed.
    case busy
    /// Any other RouterOS error (400 with another detail, 406, HTML instead of JSON…).
    case rejected(String)

    /// The router did not answer the call (a refusal is an answer): it cannot be reached, the
    /// reply did not come (or something in front of it failed), or its slots stayed full.
    public var isUnanswered: Bool {
        switch self {
        case .unreachable, .timedOut, .busy: true
        default: false
        }
    }
}
