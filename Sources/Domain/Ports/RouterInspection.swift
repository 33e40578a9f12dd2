/// What a router says about itself, for the checks of CONTRACT §13: its system, the API user's
/// group, its services, hotspot servers, user profiles and clock.
///
/// Implemented by `RouterOSClient` (RouterOS v7 REST); tests use scripted fakes. Every method
/// throws only `RouterProbeFailure`, which keeps what a diagnosis needs (which step of the
/// connection failed, and how) rather than what the payment saga needs.
public protocol RouterInspection {
    /// `/system/resource`: the first call of a check, so its failure says how far the
    /// connection got (name, TCP, TLS, credentials, a REST API at all).
    func systemResource() throws(RouterProbeFailure) -> RouterResource

    /// The group of the API user `name` and that group's policy text, or nil when the router
    /// lists no such user (a RADIUS user, say).
    func groupOfUser(named name: String) throws(RouterProbeFailure) -> (group: String, policy: String)?

    /// `/ip/service`: every service with its port, allowed addresses and state.
    func services() throws(RouterProbeFailure) -> [RouterService]

    /// `/ip/hotspot`: the hotspot servers.
    func hotspotServers() throws(RouterProbeFailure) -> [HotspotServer]

    /// The names of the hotspot user profiles.
    func profileNames() throws(RouterProbeFailure) -> [String]

    /// `/system/clock` as the router prints it.
    func clock() throws(RouterProbeFailure) -> RouterClock
}

/// Why a look at a router failed, as precisely as the transport and the reply tell.
public enum RouterProbeFailure: Error, Sendable, Equatable {
    /// The host name does not resolve.
    case unresolvable(String)
    /// Nothing accepts connections on that address and port (refused).
    case refused(String)
    /// The connection did not open in time (a firewall dropping, a wrong address, NAT).
    case connectTimedOut(String)
    /// The TLS handshake failed or the certificate is not trusted by the CA file.
    case tlsFailed(String)
    /// The router's public key is not the pinned one.
    case pinMismatch(String)
    /// 401: wrong user or password (or a group without the `rest-api` policy).
    case unauthorized
    /// The router took the credentials and refused the command (403, or RouterOS's `not allowed`
    /// / `not enough permissions`): a policy is missing.
    case notPermitted(String)
    /// Whatever answered is not RouterOS's REST API: HTML, or a 404 that is not RouterOS's JSON
    /// (RouterOS 6 has no REST; WebFig or another web server answers).
    case notREST(status: Int, mediaType: String?)
    /// Connected, sent, and no complete answer in time.
    case timedOut(String)
    /// Anything else (an unexpected status, unreadable JSON, a missing field).
    case other(String)
}

/// `/system/resource`, the fields a check reads.
public struct RouterResource: Sendable, Equatable {
    /// `7.16.2 (stable)`, `7.1beta4 (development)`.
    public var version: String
    public var boardName: String?
    public var architecture: String?
    /// RouterOS interval text, `2d20h12m20s`.
    public var uptime: String?

    public init(version: String, boardName: String? = nil, architecture: String? = nil, uptime: String? = nil) {
        self.version = version
        self.boardName = boardName
        self.architecture = architecture
        self.uptime = uptime
    }
}

/// One `/ip/service` entry.
public struct RouterService: Sendable, Equatable {
    /// `www`, `www-ssl`, `api`, `ssh`…
    public var name: String
    public var port: String?
    /// The networks allowed to connect, comma-separated; empty for anyone.
    public var address: String
    public var certificate: String?
    public var disabled: Bool

    public init(name: String, port: String? = nil, address: String = "", certificate: String? = nil, disabled: Bool = false) {
        self.name = name
        self.port = port
        self.address = address
        self.certificate = certificate
        self.disabled = disabled
    }
}

/// One `/ip/hotspot` server.
public struct HotspotServer: Sendable, Equatable {
    public var name: String
    public var interface: String?
    public var profile: String?
    public var disabled: Bool

    public init(name: String, interface: String? = nil, profile: String? = nil, disabled: Bool = false) {
        self.name = name
        self.interface = interface
        self.profile = profile
        self.disabled = disabled
    }
}

/// `/system/clock` as printed: local date and time, and the time zone.
public struct RouterClock: Sendable, Equatable {
    /// `2026-11-25` (7.10 and later) or `nov/25/2026` (before).
    public var date: String
    /// `15:42:04`.
    public var time: String
    /// `+02:00`, `-06:00`; nil when not printed (taken as UTC).
    public var gmtOffset: String?
    public var timeZoneName: String?

    public init(date: String, time: String, gmtOffset: String? = nil, timeZoneName: String? = nil) {
        self.date = date
        self.time = time
        self.gmtOffset = gmtOffset
        self.timeZoneName = timeZoneName
    }
}
