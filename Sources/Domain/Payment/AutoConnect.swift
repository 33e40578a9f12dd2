/// The result of logging the customer's device in server-side (CONTRACT §5: `auto_conexion`).
/// What the customer reads about it is the API's wording (`PaymentPresenter`).
public struct AutoConnectReport: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// Logged in, and the router shows the session.
        case connected
        /// Not asked for, or no MAC address to log in.
        case notRequested
        /// The access was activated after the request was gone: nothing was tried.
        case activatedLater
        /// The router could not be reached to look the device up.
        case routerUnreachable
        /// The router's host table does not show the device.
        case deviceNotFound
        /// The router refused or failed the login.
        case loginFailed
        /// The login was accepted but no session showed up within the budget.
        case unconfirmed
    }

    public var outcome: Outcome
    public var mac: String?
    public var ip: String?
    /// The router's `.id` of the active session.
    public var sessionID: String?

    public init(outcome: Outcome, mac: String?, ip: String?, sessionID: String? = nil) {
        self.outcome = outcome
        self.mac = mac
        self.ip = ip
        self.sessionID = sessionID
    }

    /// Whether the router showed the session (only when connected).
    public var verified: Bool { outcome == .connected }

    public static func notRequested(mac: MACAddress?, ip: IPv4Address?) -> AutoConnectReport {
        AutoConnectReport(outcome: .notRequested, mac: mac?.value, ip: ip?.value)
    }
}

/// Logs a paid device in (`/ip/hotspot/active/login`) and confirms the session exists for that
/// user, address and MAC. Bounded in time and never throws: a failure is a report.
public struct AutoConnector {
    let directory: any HotspotUserDirectory
    let clock: any WallClock
    /// Total budget, including the router calls' own timeouts.
    let budgetMilliseconds: Int

    public init(directory: any HotspotUserDirectory, clock: any WallClock, budgetMilliseconds: Int = 5_000) {
        self.directory = directory
        self.clock = clock
        self.budgetMilliseconds = budgetMilliseconds
    }

    public func connect(credentials: HotspotCredentials, mac: MACAddress, ip: IPv4Address?) -> AutoConnectReport {
        let deadline = clock.nowMicroseconds() + Int64(budgetMilliseconds) * 1000
        func failed(_ outcome: AutoConnectReport.Outcome, address: String?) -> AutoConnectReport {
            AutoConnectReport(outcome: outcome, mac: mac.value, ip: address ?? ip?.value)
        }
        // Trust the router's host table, not the client's claim, for which address to log in.
        let host: HotspotHost?
        do {
            host = try directory.findHost(mac: mac, address: nil)
        } catch {
            return failed(.routerUnreachable, address: nil)
        }
        guard let host, let address = IPv4Address(host.toAddress ?? host.address) ?? ip else {
            return failed(.deviceNotFound, address: nil)
        }
        do {
            try directory.login(user: credentials.username, password: credentials.password, address: address, mac: mac)
        } catch {
            return failed(.loginFailed, address: address.value)
        }
        // A successful reply is not proof (docs/sources.md A6.1): confirm through the active sessions.
        while clock.nowMicroseconds() < deadline {
            if let sessions = try? directory.activeSessions(user: credentials.username),
                let session = sessions.first(where: {
                    $0.macAddress.uppercased() == mac.value && ($0.address == address.value || $0.address == host.address)
                })
            {
                return AutoConnectReport(outcome: .connected, mac: mac.value, ip: address.value, sessionID: session.id)
            }
            clock.sleep(milliseconds: 250)
        }
        return failed(.unconfirmed, address: address.value)
    }
}
