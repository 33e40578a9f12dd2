import Domain

/// A router's hotspot users, profiles and active sessions held in memory. `failNext[operation]`
/// makes the next call of that operation ("find", "create", "set", "delete", "profile",
/// "sessions", "end", "list", "list-sessions") throw the failure given.
public final class InMemoryHotspotUserDirectory: HotspotUserDirectory {
    public var users: [String: (user: HotspotUser, password: String)] = [:]
    /// What each user (by `.id`) has used, as the router counts it; none is 0s and 0 bytes.
    public var usage: [String: Usage] = [:]
    /// Calls made, by operation name as in `failNext` (for tests of what a sweep cost).
    public private(set) var calls: [String: Int] = [:]

    /// A user's counters and its own limits (nil: none).
    public struct Usage: Sendable, Equatable {
        public var uptimeSeconds: Int64
        public var bytesIn: Int64
        public var bytesOut: Int64
        public var limitUptimeSeconds: Int64?
        public var limitBytesTotal: Int64?

        public init(
            uptimeSeconds: Int64 = 0, bytesIn: Int64 = 0, bytesOut: Int64 = 0, limitUptimeSeconds: Int64? = nil,
            limitBytesTotal: Int64? = nil
        ) {
            self.uptimeSeconds = uptimeSeconds
            self.bytesIn = bytesIn
            self.bytesOut = bytesOut
            self.limitUptimeSeconds = limitUptimeSeconds
            self.limitBytesTotal = limitBytesTotal
        }
    }
    public var profiles = ["1hora"]
    /// Profiles the router binds instead of the one asked for (RouterOS's prefix resolution).
    public var bindsInstead: [String: String] = [:]
    public var profileLookups = 0
    public var failNext: [String: RouterFailure] = [:]
    /// Active sessions by `.id`. Disabling or deleting a user leaves them, as the port allows.
    public var sessions: [String: ActiveSession] = [:]
    /// The next create is applied and then sent again, as libcurl resends a request on a kept-alive
    /// connection that died before the reply; the router refuses the copy by name.
    public var resendNextCreate = false
    private var counter = 0

    public init() {}

    private func check(_ operation: String) throws(RouterFailure) {
        calls[operation, default: 0] += 1
        if let failure = failNext.removeValue(forKey: operation) { throw failure }
    }

    public func findUser(named name: String) throws(RouterFailure) -> HotspotUser? {
        try check("find")
        return users.values.first { $0.user.name == name }?.user
    }

    public func createUser(_ user: NewHotspotUser) throws(RouterFailure) -> HotspotUser {
        try check("create")
        guard !users.values.contains(where: { $0.user.name == user.name }) else { throw .duplicateName }
        counter += 1
        let created = HotspotUser(
            id: "*\(counter)", name: user.name, profile: bindsInstead[user.profile] ?? user.profile, server: user.server,
            disabled: user.disabled, comment: user.comment)
        users[created.id] = (created, user.password)
        usage[created.id] = Usage(
            limitUptimeSeconds: user.limitUptime.flatMap(RouterOSInterval.seconds), limitBytesTotal: user.limitBytesTotal)
        if resendNextCreate {
            resendNextCreate = false
            throw .duplicateName
        }
        return created
    }

    public func setUserDisabled(id: String, disabled: Bool) throws(RouterFailure) {
        try check("set")
        guard users[id] != nil else { throw .notFound }
        users[id]!.user.disabled = disabled
    }

    public func deleteUser(id: String) throws(RouterFailure) {
        try check("delete")
        users[id] = nil
        usage[id] = nil
    }

    public func findProfile(named name: String) throws(RouterFailure) -> HotspotProfile? {
        try check("profile")
        profileLookups += 1
        return profiles.contains(name) ? HotspotProfile(id: "*P", name: name) : nil
    }

    public func listProfiles() throws(RouterFailure) -> [HotspotProfile] { profiles.map { HotspotProfile(id: "*P", name: $0) } }
    public func findHost(mac: MACAddress?, address: IPv4Address?) throws(RouterFailure) -> HotspotHost? { nil }
    public func login(user: String, password: String, address: IPv4Address, mac: MACAddress?) throws(RouterFailure) { throw .unknownHost }

    public func activeSessions(user: String) throws(RouterFailure) -> [ActiveSession] {
        try check("sessions")
        return sessions.values.filter { $0.user == user }.sorted { $0.id < $1.id }
    }

    public func removeSession(id: String) throws(RouterFailure) {
        try check("end")
        sessions[id] = nil
    }

    public func listUsage() throws(RouterFailure) -> [HotspotUserUsage] {
        try check("list")
        return users.values.sorted { $0.user.id < $1.user.id }.map { entry in
            let used = usage[entry.user.id] ?? Usage()
            return HotspotUserUsage(
                id: entry.user.id, name: entry.user.name, comment: entry.user.comment, disabled: entry.user.disabled,
                uptimeSeconds: used.uptimeSeconds, bytesIn: used.bytesIn, bytesOut: used.bytesOut,
                limitUptimeSeconds: used.limitUptimeSeconds, limitBytesTotal: used.limitBytesTotal)
        }
    }

    public func listActiveSessions() throws(RouterFailure) -> [ActiveSession] {
        try check("list-sessions")
        return sessions.values.sorted { $0.id < $1.id }
    }

    /// A device logged in as `user` (as the hotspot's login page would), for revocation tests.
    @discardableResult
    public func startSession(user: String, server: String? = "hotspot1", uptimeSeconds: Int64? = nil) -> ActiveSession {
        counter += 1
        let session = ActiveSession(
            id: "*A\(counter)", user: user, address: "10.5.50.\(counter)", macAddress: "02:00:00:00:00:01", server: server,
            uptimeSeconds: uptimeSeconds)
        sessions[session.id] = session
        return session
    }

    /// A user the product did not make, or a hand-made one: `comment` is whatever it is given.
    @discardableResult
    public func addUser(name: String, comment: String, usage used: Usage = Usage(), disabled: Bool = false) -> HotspotUser {
        counter += 1
        let user = HotspotUser(id: "*\(counter)", name: name, profile: "1hora", server: "hotspot1", disabled: disabled, comment: comment)
        users[user.id] = (user, "x")
        usage[user.id] = used
        return user
    }

    /// Adds to what the user named `name` has used, as its devices would.
    public func use(_ name: String, seconds: Int64 = 0, bytesIn: Int64 = 0, bytesOut: Int64 = 0) {
        guard let id = users.values.first(where: { $0.user.name == name })?.user.id else { return }
        var used = usage[id] ?? Usage()
        used.uptimeSeconds += seconds
        used.bytesIn += bytesIn
        used.bytesOut += bytesOut
        usage[id] = used
    }
}
