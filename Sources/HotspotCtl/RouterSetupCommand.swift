import ArgumentParser
import Domain
import Foundation
import JSON
import Persistence
import Secrets
import Wiring

extension RouterCommand {
    struct SetupScript: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "setup-script",
            abstract: "Print the RouterOS script that sets a router up for hotspot-pay (paste it into the router's terminal).",
            discussion: """
                The script makes a user group with just the policies hotspot-pay needs and the API user (allowed \
                from --server-address only), turns NTP on, makes a certificate and serves REST on www-ssl for the \
                server only (plain www off), lets the payment page and Conekta through the hotspot's walled garden, \
                and writes the portal kit's login.html (with --portal-url and --api-key) into the hotspot's \
                directory. The password is a placeholder to replace unless --include-password: the script then holds \
                the stored password, so paste it straight from this terminal and keep no copy.

                --wireguard adds a tunnel to the provider's hub for a router behind NAT: the router's URL must be its \
                address in the tunnel (https://10.99.0.2), REST is served to the tunnel only, and the hub's [Peer] \
                block is printed on standard error (under "hub_peer" with --json). The router's key pair is made \
                here (Curve25519, as `wg genkey` makes it) so the hub's block is complete; its private key is in the \
                script and nowhere else. --router-generates-key leaves the key to the router instead (copy its \
                public key into the hub's block).
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Router id.") var id: Int64
        @Option(
            help: """
                Where hotspot-pay's requests reach the router from, as it sees them: an IPv4 address or network. With \
                --wireguard, the hub's tunnel address by default.
                """)
        var serverAddress: String?
        @Option(help: "The payment page's address, https://pay.example.com/portal/ (walled garden, login page).")
        var portalURL: String
        @Option(help: "The router's API key for its login page (hotspotctl key issue --router N); a placeholder otherwise.")
        var apiKey: String?
        @Option(
            help: """
                The portal kit's login page; by default /usr/share/hotspot-pay/portal/mikrotik/login.html, else \
                deploy/portal/mikrotik/login.html.
                """)
        var loginHTML: String?
        @Flag(help: "Leave the router's login page as it is.") var noLoginHTML = false
        @Flag(help: "Write the stored password into the script instead of a placeholder.") var includePassword = false
        @Option(help: "A time zone for the router's clock, such as America/Mexico_City.") var timeZone: String?
        @Option(help: "NTP servers (repeatable).") var ntpServer: [String] = []
        @Flag(help: "Reach the router through a WireGuard tunnel to the provider's hub (a router behind NAT).") var wireguard = false
        @Option(help: "The hub's public endpoint, host:port.") var hubEndpoint: String?
        @Option(help: "The hub's WireGuard public key.") var hubPublicKey: String?
        @Option(help: "The hub's address in the tunnel (default: the first address of the router's tunnel network).")
        var hubAddress: String?
        @Option(help: "The tunnel network's prefix length.") var tunnelPrefix = 24
        @Flag(help: "Let the router make its own WireGuard key instead of making it here.") var routerGeneratesKey = false

        func validate() throws {
            guard let portal = URLComponents(string: portalURL), portal.scheme == "https" || portal.scheme == "http",
                let host = portal.host, !host.isEmpty
            else { throw ValidationError("--portal-url must be the payment page's address, https://pay.example.com/portal/") }
            if let serverAddress, !Self.isAddressOrNetwork(serverAddress) {
                throw ValidationError("--server-address must be an IPv4 address or network (203.0.113.10, 203.0.113.0/28)")
            }
            if let apiKey, !apiKey.hasPrefix("jwt_") { throw ValidationError("--api-key must be a jwt_… key (hotspotctl key issue)") }
            if wireguard {
                guard let hubEndpoint, Self.endpoint(hubEndpoint) != nil else {
                    throw ValidationError("--wireguard needs --hub-endpoint host:port")
                }
                guard let hubPublicKey, WireGuardKeyPair.isKey(hubPublicKey) else {
                    throw ValidationError("--wireguard needs --hub-public-key (base64 of 32 bytes, as wg pubkey prints it)")
                }
                guard (8...30).contains(tunnelPrefix) else { throw ValidationError("--tunnel-prefix must be between 8 and 30") }
                if let hubAddress, IPv4Address(hubAddress) == nil { throw ValidationError("--hub-address must be an IPv4 address") }
            } else {
                guard serverAddress != nil else {
                    throw ValidationError("--server-address is needed without --wireguard (the address REST is opened to)")
                }
                guard hubEndpoint == nil, hubPublicKey == nil, hubAddress == nil, !routerGeneratesKey else {
                    throw ValidationError("--hub-… and --router-generates-key go with --wireguard")
                }
            }
        }

        func run() throws {
            let (store, _) = try global.store()
            let endpoint = try attempt("router setup-script") { () throws(StoreFailure) in try store.routerEndpoint(routerID: id) }
            guard let endpoint else { throw CommandFailure("router setup-script: no router \(id)") }
            let name = try attempt("router setup-script") { () throws(StoreFailure) in
                try store.routers(companyID: nil).first { $0.router.id == id }?.router.name
            }
            let (host, port) = RouterAddress.hostAndPort(endpoint.baseURL)
            guard endpoint.baseURL.lowercased().hasPrefix("https://") else {
                throw CommandFailure("router setup-script: router \(id)'s URL is not https://; set it first (router set \(id) --url)")
            }
            let portal = URLComponents(string: portalURL)?.host ?? ""

            var tunnel: RouterSetupPlan.WireGuard?
            if wireguard {
                guard let routerAddress = IPv4Address(host) else {
                    throw CommandFailure(
                        "router setup-script: with --wireguard the router's URL must be its tunnel address, such as "
                            + "https://10.99.0.2 (router set \(id) --url …); it is \(endpoint.baseURL)")
                }
                let network = RouterSetupPlan.WireGuard(
                    routerAddress: routerAddress.value, prefixLength: tunnelPrefix, hubAddress: "", hubEndpointHost: "",
                    hubEndpointPort: 0, hubPublicKey: "", routerPrivateKey: nil, routerPublicKey: nil
                ).network
                let hub = hubAddress ?? IPv4Network.text(IPv4Network.value(String(network.split(separator: "/")[0])) + 1)
                guard hub != routerAddress.value, IPv4Network.contains(network, hub) else {
                    throw CommandFailure("router setup-script: the hub's tunnel address \(hub) must be another address of \(network)")
                }
                let (hubHost, hubPort) = Self.endpoint(hubEndpoint ?? "")!
                let keys = routerGeneratesKey ? nil : WireGuardKeyPair.generate()
                tunnel = RouterSetupPlan.WireGuard(
                    routerAddress: routerAddress.value, prefixLength: tunnelPrefix, hubAddress: hub, hubEndpointHost: hubHost,
                    hubEndpointPort: hubPort, hubPublicKey: hubPublicKey ?? "", routerPrivateKey: keys?.privateKey,
                    routerPublicKey: keys?.publicKey)
            }

            var page: String?
            if !noLoginHTML {
                let path = loginHTML ?? Self.defaultLoginPages.first { FileManager.default.isReadableFile(atPath: $0) }
                guard let path, let data = FileManager.default.contents(atPath: path), let template = String(data: data, encoding: .utf8)
                else {
                    throw CommandFailure(
                        "router setup-script: cannot read the portal kit's login page "
                            + "(\(loginHTML ?? Self.defaultLoginPages.joined(separator: " or "))); give --login-html, or --no-login-html")
                }
                do {
                    page = try LoginPage.render(template, paymentPage: portalURL, apiKey: apiKey)
                } catch {
                    throw CommandFailure("router setup-script: \(path): \(error)")
                }
            }

            let plan = RouterSetupPlan(
                routerID: id, routerName: name ?? "", restHost: host, restPort: port, apiUser: endpoint.user,
                password: includePassword ? .value(endpoint.password) : .placeholder, hotspotServer: endpoint.hotspotServer,
                serverAddress: serverAddress ?? tunnel?.hubAddress ?? "", portalHost: portal, loginPage: page,
                ntpServers: ntpServer.isEmpty ? ["pool.ntp.org"] : ntpServer, timeZone: timeZone, wireGuard: tunnel,
                printedAt: RouterCommand.isoTime(Int64(Date().timeIntervalSince1970)))
            let (script, hubPeer) = PaymentWiring.setupScript(plan)
            let (fingerprint, pin) = Self.pinCommands(host: host, port: port)
            if global.json {
                global.emit(
                    .object([
                        ("router", .integer(id)), ("script", .string(script)), ("hub_peer", .optional(hubPeer)),
                        ("router_public_key", .optional(tunnel?.routerPublicKey)),
                        ("password", .string(includePassword ? "included" : "placeholder")),
                        ("fingerprint_command", .string(fingerprint)), ("pin_command", .string(pin)),
                    ]), text: "")
            } else {
                print(script, terminator: "")
                if let hubPeer {
                    FileHandle.standardError.write(Data("# On the hub, in its wg configuration (not on the router):\n\(hubPeer)".utf8))
                }
                // What to do once it is pasted: the pin `router set --pin` takes, from the
                // certificate the router now serves, once its fingerprint matches the router's.
                FileHandle.standardError.write(
                    Data(
                        """
                        # Then, on this server: compare the fingerprint the script printed on the router with
                        \(fingerprint)
                        # and pin the router's key (the pin is sha256// and what this prints), then check it:
                        \(pin)
                        hotspotctl router set \(id) --pin 'sha256//…'; hotspotctl router check \(id)

                        """.utf8))
            }
            if !includePassword {
                printWarning(
                    "the script's password is a placeholder (\(PaymentWiring.setupPasswordPlaceholder)): replace it with "
                        + "router \(id)'s password before pasting, or print it again with --include-password")
            }
            if page != nil, apiKey == nil {
                printWarning("login.html has no API key: give --api-key (hotspotctl key issue --router \(id)) or edit API_KEY in it")
            }
        }

        /// The openssl commands that print, from the certificate the router serves, its SHA-256
        /// fingerprint (as `/certificate print` shows it, with colons) and the public-key pin
        /// `router set --pin` takes without its `sha256//` (docs/sources.md A9).
        static func pinCommands(host: String, port: Int) -> (fingerprint: String, pin: String) {
            let fetch = "openssl s_client -connect \(host.contains(":") ? "[\(host)]" : host):\(port) </dev/null 2>/dev/null"
            return (
                fetch + " | openssl x509 -noout -fingerprint -sha256",
                fetch + " | openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"
            )
        }

        static let defaultLoginPages = ["/usr/share/hotspot-pay/portal/mikrotik/login.html", "deploy/portal/mikrotik/login.html"]

        static func isAddressOrNetwork(_ text: String) -> Bool {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), IPv4Address(String(parts[0])) != nil else { return false }
            return parts.count == 1 || Int(parts[1]).map { (0...32).contains($0) } == true
        }

        /// `hub.example.net:51820` → (host, port).
        static func endpoint(_ text: String) -> (String, Int)? {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port)
            else { return nil }
            let host = String(text[..<colon])
            return host.isEmpty ? nil : (host, port)
        }
    }
}

/// The portal kit's `mikrotik/login.html` with one router's settings, as `render_portal.py`
/// renders `config.js`: exact substitutions of its defaults, each expected exactly once.
enum LoginPage {
    static let paymentPageLine = #"var PAYMENT_PAGE = "https://pay.example.com/portal/";"#
    static let apiKeyLine = #"var API_KEY = "jwt_REPLACE_WITH_THIS_ROUTERS_KEY";"#

    struct Mismatch: Error, CustomStringConvertible {
        var line: String
        var description: String { "the login page does not hold this line exactly once: \(line)" }
    }

    static func render(_ template: String, paymentPage: String, apiKey: String?) throws -> String {
        var page = try replacing(paymentPageLine, with: "var PAYMENT_PAGE = \(javaScriptString(paymentPage));", in: template)
        if let apiKey { page = try replacing(apiKeyLine, with: "var API_KEY = \(javaScriptString(apiKey));", in: page) }
        return page
    }

    private static func replacing(_ line: String, with replacement: String, in text: String) throws -> String {
        let parts = text.components(separatedBy: line)
        guard parts.count == 2 else { throw Mismatch(line: line) }
        return parts[0] + replacement + parts[1]
    }

    /// A JavaScript string literal for a URL or a key (quotes, backslashes and `<` escaped, so
    /// the value can close neither the string nor the script element).
    static func javaScriptString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "<": out += "\\u003c"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
