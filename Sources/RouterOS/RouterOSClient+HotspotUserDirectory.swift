import Domain

extension RouterOSClient: HotspotUserDirectory {
    public func findUser(named name: String) throws(RouterFailure) -> HotspotUser? {
        do { return try printUser(named: name) } catch { throw error.routerFailure }
    }

    public func createUser(_ user: NewHotspotUser) throws(RouterFailure) -> HotspotUser {
        do { return try addUser(user) } catch { throw error.routerFailure }
    }

    public func setUserDisabled(id: String, disabled: Bool) throws(RouterFailure) {
        do { try setUser(id: id, disabled: disabled) } catch { throw error.routerFailure }
    }

    public func deleteUser(id: String) throws(RouterFailure) {
        do { try removeUser(id: id) } catch { throw error.routerFailure }
    }

    public func findProfile(named name: String) throws(RouterFailure) -> HotspotProfile? {
        do { return try printProfile(named: name) } catch { throw error.routerFailure }
    }

    public func listProfiles() throws(RouterFailure) -> [HotspotProfile] {
        do { return try printProfiles() } catch { throw error.routerFailure }
    }

    public func findHost(mac: MACAddress?, address: IPv4Address?) throws(RouterFailure) -> HotspotHost? {
        do { return try printHost(mac: mac, address: address) } catch { throw error.routerFailure }
    }

    public func login(user: String, password: String, address: IPv4Address, mac: MACAddress?) throws(RouterFailure) {
        do { try activeLogin(user: user, password: password, address: address, mac: mac) } catch {
            throw error.routerFailure
        }
    }

    public func activeSessions(user: String) throws(RouterFailure) -> [ActiveSession] {
        do { return try printActive(user: user) } catch { throw error.routerFailure }
    }

    public func removeSession(id: String) throws(RouterFailure) {
        do { try removeActive(id: id) } catch { throw error.routerFailure }
    }

    public func listUsage() throws(RouterFailure) -> [HotspotUserUsage] {
        do { return try printUsage() } catch { throw error.routerFailure }
    }

    public func listActiveSessions() throws(RouterFailure) -> [ActiveSession] {
        do { return try printActiveSessions() } catch { throw error.routerFailure }
    }
}

extension RouterOSError {
    /// What the payment saga needs to know about this failure.
    public var routerFailure: RouterFailure {
        switch kind {
        case .duplicateName: .duplicateName
        case .profileNotFound: .profileNotFound
        case .profileAmbiguous: .profileAmbiguous
        case .noSuchItem: .notFound
        case .unknownHost: .unknownHost
        case .loginRejected: .loginRejected(detail ?? "")
        case .authenticationFailed: .authenticationFailed
        case .unreachable: .unreachable(description)
        case .busy: .busy
        case .timedOut, .connectionLost: .timedOut(maybeApplied: maybeApplied)
        // A reply came, but it does not say whether a mutation took effect.
        case .serverError, .malformedReply, .sessionClosed:
            maybeApplied ? .timedOut(maybeApplied: true) : .rejected(description)
        case .unknownParameter, .badRequest, .unexpectedStatus, .notJSON, .invalidArgument: .rejected(description)
        }
    }
}
