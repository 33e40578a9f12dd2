import Domain

/// `HotspotUserDirectory` that times every call of the one it wraps into
/// `hotspot_router_call_duration_seconds`, so neither the saga nor RouterOS knows about metrics.
struct MeasuredHotspotUserDirectory: HotspotUserDirectory {
    let base: any HotspotUserDirectory
    let recorder: MetricsRecorder

    func findUser(named name: String) throws(RouterFailure) -> HotspotUser? {
        try measure("find_user") { () throws(RouterFailure) in try base.findUser(named: name) }
    }

    func createUser(_ user: NewHotspotUser) throws(RouterFailure) -> HotspotUser {
        try measure("add_user") { () throws(RouterFailure) in try base.createUser(user) }
    }

    func setUserDisabled(id: String, disabled: Bool) throws(RouterFailure) {
        try measure(disabled ? "disable_user" : "enable_user") { () throws(RouterFailure) in
            try base.setUserDisabled(id: id, disabled: disabled)
        }
    }

    func deleteUser(id: String) throws(RouterFailure) {
        try measure("delete_user") { () throws(RouterFailure) in try base.deleteUser(id: id) }
    }

    func findProfile(named name: String) throws(RouterFailure) -> HotspotProfile? {
        try measure("find_profile") { () throws(RouterFailure) in try base.findProfile(named: name) }
    }

    func listProfiles() throws(RouterFailure) -> [HotspotProfile] {
        try measure("list_profiles") { () throws(RouterFailure) in try base.listProfiles() }
    }

    func findHost(mac: MACAddress?, address: IPv4Address?) throws(RouterFailure) -> HotspotHost? {
        try measure("find_host") { () throws(RouterFailure) in try base.findHost(mac: mac, address: address) }
    }

    func login(user: String, password: String, address: IPv4Address, mac: MACAddress?) throws(RouterFailure) {
        try measure("login") { () throws(RouterFailure) in try base.login(user: user, password: password, address: address, mac: mac) }
    }

    func activeSessions(user: String) throws(RouterFailure) -> [ActiveSession] {
        try measure("active_sessions") { () throws(RouterFailure) in try base.activeSessions(user: user) }
    }

    func removeSession(id: String) throws(RouterFailure) {
        try measure("remove_session") { () throws(RouterFailure) in try base.removeSession(id: id) }
    }

    func listUsage() throws(RouterFailure) -> [HotspotUserUsage] {
        try measure("list_users") { () throws(RouterFailure) in try base.listUsage() }
    }

    func listActiveSessions() throws(RouterFailure) -> [ActiveSession] {
        try measure("list_sessions") { () throws(RouterFailure) in try base.listActiveSessions() }
    }

    private func measure<T>(_ operation: String, _ call: () throws(RouterFailure) -> T) throws(RouterFailure) -> T {
        let start = ContinuousClock.now
        do {
            let result = try call()
            recorder.routerCall(operation, ok: true, since: start)
            return result
        } catch {
            recorder.routerCall(operation, ok: false, since: start)
            throw error
        }
    }
}
