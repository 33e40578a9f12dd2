import Domain

/// A router's setup as a RouterOS 7 script to paste into its terminal (CONTRACT §13,
/// `hotspotctl router setup-script`), from a `RouterSetupPlan`.
///
/// Every command and argument it writes exists in RouterOS 7.9 and 7.22 (the trimmed argument
/// trees `sandbox/routeros-inspect-*-setup.json`; `SetupScriptSchemaTests` parses the script
/// against them). Strings are written as RouterOS reads them (docs/sources.md A9): `\"`, `\\`,
/// `\$`, `\n`, and `\XX` for `?` (which the console would take as a request for help) and for
/// every byte that is not printable ASCII, so that no terminal's encoding can change the page.
public enum RouterSetupScript {
    /// What the placeholder password reads on the router until the operator replaces it.
    public static let passwordPlaceholder = "REPLACE-WITH-THE-PASSWORD-GIVEN-TO-ROUTER-ADD"

    /// The name of the group, the certificate and the comments the script leaves on the router.
    public static let tag = "hotspot-pay"

    /// The script, one command per line (the login page's a block of its own).
    public static func script(_ plan: RouterSetupPlan) -> String {
        var out: [String] = []
        let comment = "comment=" + quoted(tag)
        let allowed = cidr(plan.serverAddress)
        let server = plan.hotspotServer == "all" ? "" : " server=" + word(plan.hotspotServer)
        out.append("# hotspot-pay: router \(plan.routerID) \(quoted(plan.routerName)), printed \(plan.printedAt)")
        out.append("# Paste into the router's terminal (RouterOS 7.1 or later, as an admin). Each command stands alone:")
        out.append("# one whose object is already there fails (\"already have ...\") and the next goes on.")
        if let wireGuard = plan.wireGuard {
            out.append("")
            out.append("# WireGuard to the hub: the router dials out and keeps the tunnel open across NAT;")
            out.append("# REST is reached through the tunnel only.")
            var interface = "/interface wireguard add name=\(word(wireGuard.interfaceName))"
            if let key = wireGuard.routerPrivateKey { interface += " private-key=" + quoted(key) }
            out.append(interface + " " + comment)
            out.append(
                "/interface wireguard peers add interface=\(word(wireGuard.interfaceName)) public-key="
                    + quoted(wireGuard.hubPublicKey) + " endpoint-address=\(word(wireGuard.hubEndpointHost))"
                    + " endpoint-port=\(wireGuard.hubEndpointPort) allowed-address=\(wireGuardAllowed(wireGuard, allowed))"
                    + " persistent-keepalive=\(wireGuard.keepaliveSeconds)s " + comment)
            out.append(
                "/ip address add address=\(wireGuard.routerAddress)/\(wireGuard.prefixLength)"
                    + " interface=\(word(wireGuard.interfaceName)) " + comment)
            if wireGuard.routerPrivateKey == nil {
                out.append("# The router made its key: copy its public-key into the hub's [Peer] (hotspotctl printed it).")
                out.append("/interface wireguard print where name=\(quoted(wireGuard.interfaceName))")
            }
        }

        out.append("")
        out.append("# The API user: a group with only the policies hotspot-pay needs, the user allowed from its address only.")
        out.append("/user group add name=\(tag) policy=\(RouterPolicies.required.joined(separator: ",")) \(comment)")
        let password: String =
            switch plan.password {
            case .placeholder: passwordPlaceholder
            case .value(let value): value
            }
        if plan.password == .placeholder {
            out.append("# Replace the password below with the one given to `hotspotctl router add` before pasting.")
        }
        out.append(
            "/user add name=\(word(plan.apiUser)) group=\(tag) address=\(allowed) password=\(quoted(password)) \(comment)")

        out.append("")
        out.append("# The clock: NTP, so that the certificate below and the router's logs carry the right time.")
        out.append("/system ntp client set enabled=yes servers=\(plan.ntpServers.map(word).joined(separator: ","))")
        if let zone = plan.timeZone { out.append("/system clock set time-zone-name=\(word(zone))") }

        out.append("")
        out.append("# HTTPS for REST: a certificate for \(plan.restHost), www-ssl on it for hotspot-pay only, plain www off")
        out.append("# (it would serve REST in clear; WebFig goes with it: manage the router with WinBox or SSH).")
        let subject = IPv4Address(plan.restHost) != nil ? "IP:" + plan.restHost : "DNS:" + plan.restHost
        out.append(
            "/certificate add name=\(tag)-rest common-name=\(word(plan.restHost)) subject-alt-name=\(word(subject))"
                + " key-size=prime256v1 key-usage=digital-signature,key-encipherment,tls-server days-valid=3650")
        out.append("/certificate sign \(tag)-rest")
        out.append("/ip service set www-ssl certificate=\(tag)-rest port=\(plan.restPort) address=\(allowed) disabled=no")
        out.append("/ip service set www disabled=yes")
        // The default firewall drops input from outside the LAN: accept REST from the server (over
        // the tunnel with WireGuard) before its first static rule (docs/sources.md A9).
        var accept =
            "chain=input action=accept protocol=tcp dst-port=\(plan.restPort) src-address=\(allowed)"
        if let wireGuard = plan.wireGuard { accept += " in-interface=\(word(wireGuard.interfaceName))" }
        accept += " comment=" + quoted("\(tag): REST")
        out.append(
            ":if ([:len [/ip firewall filter find where dynamic=no]] > 0) do={ /ip firewall filter add \(accept)"
                + " place-before=[:pick [/ip firewall filter find where dynamic=no] 0] } else={ /ip firewall filter add \(accept) }")
        out.append("# Its fingerprint, to compare with the one the server sees before pinning it (README, \"Adding a router\"):")
        out.append("/certificate print detail where name=\(quoted(tag + "-rest"))")

        out.append("")
        out.append("# The walled garden: what a phone may reach before paying (the payment page and Conekta).")
        out.append("/ip hotspot walled-garden add dst-host=\(word(plan.portalHost))\(server) " + comment)
        for host in [plan.portalHost] + plan.conektaHosts {
            out.append(
                "/ip hotspot walled-garden ip add action=accept dst-host=\(word(host))\(server) " + comment)
        }

        if let page = plan.loginPage {
            out.append("")
            out.append("# The hotspot's login page (the portal kit's mikrotik/login.html with this router's settings),")
            out.append("# written into the html directory of the hotspot server's profile.")
            let servers =
                plan.hotspotServer == "all" ? "[/ip hotspot find]" : "[/ip hotspot find name=\(quoted(plan.hotspotServer))]"
            out.append("{")
            out.append(":local page " + multiline(page) + ";")
            out.append(":foreach s in=\(servers) do={")
            out.append(
                "  :local file ([/ip hotspot profile get [find name=[/ip hotspot get $s profile]] html-directory] . \"/login.html\");")
            out.append(
                "  :if ([:len [/file find name=$file]] > 0) do={ /file set [find name=$file] contents=$page }"
                    + " else={ /file add name=$file contents=$page };")
            out.append("  :put (\"hotspot-pay: wrote \" . $file);")
            out.append("}")
            out.append("}")
        }

        out.append("")
        out.append(":put \"hotspot-pay: done; now run hotspotctl router check \(plan.routerID) on the server\"")
        return out.joined(separator: "\n") + "\n"
    }

    /// The hub's side of the tunnel, for its `wg` configuration (`/etc/wireguard/wg0.conf`);
    /// nil without WireGuard.
    public static func hubPeer(_ plan: RouterSetupPlan) -> String? {
        guard let wireGuard = plan.wireGuard else { return nil }
        let key = wireGuard.routerPublicKey ?? "<the public-key /interface wireguard print shows on the router>"
        return """
            # Router \(plan.routerID) "\(plan.routerName.filter { $0 != "\n" })": behind NAT, it dials this hub and keeps the tunnel open.
            [Peer]
            PublicKey = \(key)
            AllowedIPs = \(wireGuard.routerAddress)/32

            """
    }

    /// The tunnel's network, and the server's address when it is outside it.
    private static func wireGuardAllowed(_ wireGuard: RouterSetupPlan.WireGuard, _ server: String) -> String {
        let network = wireGuard.network
        let address = server.split(separator: "/").first.map(String.init) ?? server
        return IPv4Network.contains(network, address) ? network : network + "," + server
    }

    /// `203.0.113.10` → `203.0.113.10/32`; a network stays as given.
    static func cidr(_ address: String) -> String { address.contains("/") ? address : address + "/32" }

    /// A value that needs no quotes (names, addresses) as it is; anything else quoted.
    static func word(_ text: String) -> String {
        let plain = !text.isEmpty && text.utf8.allSatisfy(isPlain)
        return plain ? text : quoted(text)
    }

    private static func isPlain(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: ","):
            true
        default: false
        }
    }

    /// A RouterOS string literal on one line.
    public static func quoted(_ text: String) -> String {
        "\"" + escaped(text) + "\""
    }

    /// A long text as a string literal over several lines, as RouterOS's own `/export` writes
    /// one: each line ends in `\` (the literal goes on) and the next starts with indentation,
    /// which the console drops, then `\n` (docs/sources.md A9).
    static func multiline(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var out = "\""
        for (index, line) in lines.enumerated() {
            if index > 0 { out += "\\\n    \\n" }
            out += escaped(String(line))
        }
        return out + "\""
    }

    static func escaped(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += "\\\""
            case UInt8(ascii: "\\"): out += "\\\\"
            case UInt8(ascii: "$"): out += "\\$"
            case UInt8(ascii: "\n"): out += "\\n"
            case UInt8(ascii: "\r"): out += "\\r"
            case UInt8(ascii: "\t"): out += "\\t"
            case UInt8(ascii: "?"), ..<0x20, 0x7F...:
                out += "\\"
                out.unicodeScalars.append(Unicode.Scalar(Hex.digit(byte >> 4, uppercase: true)))
                out.unicodeScalars.append(Unicode.Scalar(Hex.digit(byte & 0x0F, uppercase: true)))
            default: out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out
    }
}
