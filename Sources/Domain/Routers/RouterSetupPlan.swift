/// What a router needs to sell through hotspot-pay (CONTRACT §13): the API user, HTTPS for REST
/// restricted to the server, NTP, the walled garden, the login page and, for a router behind
/// NAT, a WireGuard tunnel to the provider's hub. The RouterOS adapter writes it as a script
/// (`RouterSetupScript`).
public struct RouterSetupPlan: Sendable {
    /// The API user's password: written into the script only when the operator asks for it.
    public enum Password: Sendable, Equatable {
        case placeholder
        case value(String)
    }

    public struct WireGuard: Sendable, Equatable {
        public var interfaceName = "wg-hotspot-pay"
        /// The router's address in the tunnel: the host of its REST URL.
        public var routerAddress: String
        public var prefixLength: Int
        /// The hub's address in the tunnel.
        public var hubAddress: String
        /// Where the router dials the hub: a public name or address, and its UDP port.
        public var hubEndpointHost: String
        public var hubEndpointPort: Int
        public var hubPublicKey: String
        /// The router's key pair (base64); nil to let the router make its own, whose public key
        /// the operator then copies into the hub's peer.
        public var routerPrivateKey: String?
        public var routerPublicKey: String?
        /// The router is behind NAT: it keeps the tunnel open every this many seconds.
        public var keepaliveSeconds = 25

        public init(
            routerAddress: String, prefixLength: Int, hubAddress: String, hubEndpointHost: String, hubEndpointPort: Int,
            hubPublicKey: String, routerPrivateKey: String?, routerPublicKey: String?
        ) {
            self.routerAddress = routerAddress
            self.prefixLength = prefixLength
            self.hubAddress = hubAddress
            self.hubEndpointHost = hubEndpointHost
            self.hubEndpointPort = hubEndpointPort
            self.hubPublicKey = hubPublicKey
            self.routerPrivateKey = routerPrivateKey
            self.routerPublicKey = routerPublicKey
        }

        /// The tunnel's network, `10.99.0.0/24`.
        public var network: String {
            guard let address = IPv4Address(routerAddress), (0...32).contains(prefixLength) else {
                return "\(routerAddress)/\(prefixLength)"
            }
            let value = IPv4Network.value(address.value)
            let network = value & IPv4Network.mask(prefixLength)
            return IPv4Network.text(network) + "/\(prefixLength)"
        }
    }

    public var routerID: Int64
    public var routerName: String
    /// The REST URL's host (an address, or a name) and port.
    public var restHost: String
    public var restPort: Int
    public var apiUser: String
    public var password: Password
    /// The record's hotspot server (`all` for every one).
    public var hotspotServer: String
    /// The address hotspot-pay's requests come from, as the router sees them (`203.0.113.10`,
    /// or a network `203.0.113.0/28`).
    public var serverAddress: String
    /// The payment page's host, let through the walled garden.
    public var portalHost: String
    /// Conekta's hosts the page needs before login.
    public var conektaHosts: [String]
    /// The hotspot's login page, ready to be served (nil: leave the router's page).
    public var loginPage: String?
    public var ntpServers: [String]
    /// A tz database name (`America/Mexico_City`); nil to leave the router's.
    public var timeZone: String?
    public var wireGuard: WireGuard?
    /// Written in the script's first line.
    public var printedAt: String

    public init(
        routerID: Int64, routerName: String, restHost: String, restPort: Int, apiUser: String, password: Password,
        hotspotServer: String, serverAddress: String, portalHost: String,
        conektaHosts: [String] = RouterSetupPlan.conektaHosts, loginPage: String?, ntpServers: [String] = ["pool.ntp.org"],
        timeZone: String?, wireGuard: WireGuard?, printedAt: String
    ) {
        self.routerID = routerID
        self.routerName = routerName
        self.restHost = restHost
        self.restPort = restPort
        self.apiUser = apiUser
        self.password = password
        self.hotspotServer = hotspotServer
        self.serverAddress = serverAddress
        self.portalHost = portalHost
        self.conektaHosts = conektaHosts
        self.loginPage = loginPage
        self.ntpServers = ntpServers
        self.timeZone = timeZone
        self.wireGuard = wireGuard
        self.printedAt = printedAt
    }

    /// Conekta.js's CDN, the API it tokenizes cards with, and the host of an OXXO reference's
    /// barcode image (pay later: the customer has no access until paid): the Conekta hosts of the
    /// payment page's Content-Security-Policy (deploy/nginx.conf, docs/portal.md; docs/sources.md A9).
    public static let conektaHosts = ["cdn.conekta.io", "api.conekta.io", "barcodes.conekta.com"]
}

/// IPv4 arithmetic for networks written `a.b.c.d/n`.
public enum IPv4Network {
    public static func value(_ address: String) -> UInt32 {
        address.split(separator: ".").compactMap { UInt32($0) }.reduce(0) { $0 << 8 | $1 }
    }

    public static func mask(_ length: Int) -> UInt32 {
        length <= 0 ? 0 : length >= 32 ? ~0 : ~UInt32(0) << UInt32(32 - length)
    }

    public static func text(_ value: UInt32) -> String {
        [24, 16, 8, 0].map { String((value >> UInt32($0)) & 0xFF) }.joined(separator: ".")
    }

    /// Whether `address` is in `network` (`10.99.0.0/24`); false when either does not read.
    public static func contains(_ network: String, _ address: String) -> Bool {
        let parts = network.split(separator: "/")
        guard parts.count == 2, let length = Int(parts[1]), (0...32).contains(length),
            IPv4Address(String(parts[0])) != nil, IPv4Address(address) != nil
        else { return false }
        return value(address) & mask(length) == value(String(parts[0])) & mask(length)
    }
}
