/// The result of logging the customer's device in server-side (CONTRACT §5: `auto_conexion`).
public struct AutoConnectReport: Sendable, Equatable {
    public enum State: String, Sendable {
        case connected = "conectado"
        case notConnected = "no_conectado"
        case notRequested = "no_solicitado"
    }

    public var state: State
    public var mac: String?
    public var ip: String?
    public var message: String
    public var verified: Bool
    /// The router's `.id` of the active session.
    public var sessionID: String?

    public init(state: State, mac: String?, ip: String?, message: String, verified: Bool, sessionID: String?) {
        self.state = state
        self.mac = mac
        self.ip = ip
        self.message = message
        self.verified = verified
        self.sessionID = sessionID
    }

    public static func notRequested(mac: MACAddress?, ip: IPv4Address?) -> AutoConnectReport {
        AutoConnectReport(
            state: .notRequested, mac: mac?.value, ip: ip?.value,
            message: "Favor de ingresar sus credenciales en la página del hotspot.", verified: false, sessionID: nil)
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
        func failed(_ message: String, address: String?) -> AutoConnectReport {
            AutoConnectReport(
                state: .notConnected, mac: mac.value, ip: address ?? ip?.value, message: message, verified: false, sessionID: nil)
        }
        // Trust the router's host table, not the client's claim, for which address to log in.
        let host: HotspotHost?
        do {
            host = try directory.findHost(mac: mac, address: nil)
        } catch {
            return failed("No se pudo contactar al router para conectar su dispositivo. Use sus credenciales.", address: nil)
        }
        guard let host, let address = IPv4Address(host.toAddress ?? host.address) ?? ip else {
            return failed(
                "Su dispositivo no aparece conectado al hotspot. Ingrese sus credenciales en la página del hotspot.", address: nil)
        }
        do {
            try directory.login(user: credentials.username, password: credentials.password, address: address, mac: mac)
        } catch {
            return failed("No se pudo conectar automáticamente. Use las credenciales para ingresar.", address: address.value)
        }
        // A successful reply is not proof (docs/sources.md A6.1): confirm through the active sessions.
        while clock.nowMicroseconds() < deadline {
            if let sessions = try? directory.activeSessions(user: credentials.username),
                let session = sessions.first(where: {
                    $0.macAddress.uppercased() == mac.value && ($0.address == address.value || $0.address == host.address)
                })
            {
                return AutoConnectReport(
                    state: .connected, mac: mac.value, ip: address.value,
                    message: "¡Conexión establecida con éxito! Disfrute de Internet sin límites", verified: true, sessionID: session.id)
            }
            clock.sleep(milliseconds: 250)
        }
        return failed(
            "El router aceptó el inicio de sesión pero no se pudo confirmar. Use sus credenciales si no tiene Internet.",
            address: address.value)
    }
}
