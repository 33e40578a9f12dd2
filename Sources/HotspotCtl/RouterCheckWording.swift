import Domain

/// How `hotspotctl` words a router's checks (CONTRACT §13): one line each, what was found and,
/// when something is wrong, what to do about it, in the router's terms (its console commands).
enum RouterCheckWording {
    struct Line: Equatable {
        var message: String
        var fix: String?
    }

    /// The fix for a RouterOS 6 router, which has no REST API (docs/sources.md A9).
    static let upgradeToSeven =
        "upgrade to RouterOS 7 (REST came with 7.1): back it up first (/system backup save; /export file=before-v7), check "
        + "that the board has a RouterOS 7 build (mikrotik.com/download), then /system package update set channel=upgrade; "
        + "/system package update install. The router reboots into 7 and converts its configuration; check its interfaces, "
        + "wireless and hotspot afterwards, then run hotspotctl router setup-script"

    static func line(_ result: RouterCheckResult, router: RouterEndpoint) -> Line {
        let id = router.routerID
        switch result.finding {
        case .reached(let host, let port):
            return Line(message: "\(host):\(port) accepts connections")
        case .unresolvable(let host, let detail):
            return Line(
                message: "\(host) does not resolve (\(detail))",
                fix: "give the router's address or a name this server resolves: hotspotctl router set \(id) --url https://…")
        case .refused(let host, let port):
            return Line(
                message: "\(host):\(port) refused the connection: REST (the www-ssl service) is off there, or on another port",
                fix: "on the router: /ip service set www-ssl disabled=no port=\(port) certificate=… "
                    + "(hotspotctl router setup-script \(id) prints it all)")
        case .connectTimedOut(let host, let port):
            return Line(
                message: "\(host):\(port) did not answer the connection: a firewall drops it, the address is wrong, "
                    + "or the router is behind NAT",
                fix: "behind NAT, reach it through a tunnel (hotspotctl router setup-script \(id) --wireguard …); else let the "
                    + "server in: /ip firewall filter add chain=input action=accept protocol=tcp dst-port=\(port) "
                    + "src-address=<this server> place-before=0")
        case .noAnswer(let host, let port, let detail):
            return Line(
                message: "\(host):\(port) took the request and gave no answer (\(detail))",
                fix: "try again; if it persists, look at the router's load (/system resource print) and at what is in between")
        case .trusted(.pinnedPublicKey(let pin)):
            return Line(message: "the router's key matches the pin \(pin)")
        case .trusted(.caFile(let path)):
            return Line(message: "the router's certificate verifies against \(path)")
        case .trusted(.insecure), .notVerified:
            return Line(
                message: "the router's certificate is not checked (--insecure): anyone on the way can pose as the router",
                fix: "pin its key: hotspotctl router set \(id) --pin sha256//… (README, \"Adding a router\")")
        case .plainHTTP:
            return Line(
                message: "REST over plain http: the password crosses the network in clear",
                fix: "serve REST over www-ssl (hotspotctl router setup-script \(id)), then hotspotctl router set \(id) "
                    + "--url https://… --pin sha256//…")
        case .pinMismatch(let pin):
            return Line(
                message: "the router's key is not the pinned \(pin): a new certificate on the router, or another device "
                    + "at that address",
                fix: "compare the certificate's fingerprint on the router (/certificate print detail) with what this server "
                    + "sees (README, \"Adding a router\"); if they match, hotspotctl router set \(id) --pin <its pin>")
        case .certificateRejected(let path, let detail):
            return Line(
                message: "the router's certificate does not verify against \(path) (\(detail))",
                fix: "the file must hold the router's certificate (or its CA) naming the URL's host (subject-alt-name=IP:…); "
                    + "or pin its key: hotspotctl router set \(id) --pin sha256//…")
        case .handshakeFailed(let detail):
            return Line(
                message: "the TLS handshake failed (\(detail))",
                fix: "www-ssl needs a certificate: /ip service set www-ssl certificate=… (hotspotctl router setup-script \(id))")
        case .accepted(let user):
            return Line(message: "user \(user) logged in")
        case .credentialsRefused(let user):
            return Line(
                message: "the router refused user \(user) (401): a wrong password, or a group without the rest-api policy",
                fix: "on the router: /user set \(user) password=\"…\" with the password given to router add (or store the "
                    + "router's: hotspotctl router set \(id) --password-stdin); /user group print shows its policies")
        case .version(let resource):
            let board = resource.boardName.map { " on \($0)" } ?? ""
            return Line(message: "RouterOS \(resource.version)\(board)")
        case .versionTooOld(let version):
            return Line(message: "RouterOS \(version): REST needs 7.1 or later", fix: upgradeToSeven)
        case .noREST(let status, let mediaType):
            return Line(
                message: "no REST API at \(router.baseURL)/rest (HTTP \(status), \(mediaType ?? "no content type")): "
                    + "RouterOS 6 serves only WebFig there",
                fix: upgradeToSeven + " (a router already on 7: the URL reaches another web server)")
        case .versionUnreadable(let detail):
            return Line(message: "/system/resource does not say which RouterOS this is (\(detail))")
        case .policies(let group, let policies):
            let needed = RouterPolicies.required.joined(separator: ",")
            if !policies.missing.isEmpty {
                return Line(
                    message: "group \(group) lacks \(policies.missing.joined(separator: ", ")) "
                        + "(it grants \(policies.granted.isEmpty ? "nothing" : policies.granted.joined(separator: ",")))",
                    fix: "/user group set \(RouterSetupWords.word(group)) policy=\(needed)")
            }
            if !policies.extra.isEmpty {
                return Line(
                    message: "group \(group) also grants \(policies.extra.joined(separator: ", ")): more than hotspot-pay needs",
                    fix: "/user group set \(RouterSetupWords.word(group)) policy=\(needed)")
            }
            return Line(message: "group \(group) grants \(policies.granted.joined(separator: ", ")) and nothing more")
        case .userNotListed(let user):
            return Line(message: "the router lists no user \(user) (a RADIUS user?): its policies are not known")
        case .notPermitted(let detail):
            return Line(
                message: "user \(router.user) logged in but may not read the configuration (\(detail)): its group lacks read",
                fix: "/user group set <its group> policy=\(RouterPolicies.required.joined(separator: ","))")
        case .service(let port, let address, let plainWWW):
            var problems: [String] = []
            var fixes: [String] = []
            if address.isEmpty {
                problems.append("www-ssl (port \(port ?? "?")) takes connections from any address")
                fixes.append("/ip service set www-ssl address=<this server's address>/32")
            }
            if plainWWW {
                problems.append("plain www is on: REST answers over http too, passwords in clear")
                fixes.append("/ip service set www disabled=yes")
            }
            if problems.isEmpty { return Line(message: "www-ssl on port \(port ?? "?") for \(address) only; www off") }
            return Line(message: problems.joined(separator: "; "), fix: fixes.joined(separator: "; "))
        case .serviceNotListed:
            return Line(message: "the router lists no www-ssl service")
        case .hotspotServer(let name):
            return Line(message: "hotspot server \(name) runs")
        case .anyHotspotServer(let names):
            return Line(message: "hotspot servers: \(names.joined(separator: ", ")) (users go to all)")
        case .hotspotServerMissing(let name, let available):
            return Line(
                message: "no hotspot server named \(name); the router has \(available.joined(separator: ", "))",
                fix: "hotspotctl router set \(id) --hotspot-server <one of them>, or name the server on the router: "
                    + "/ip hotspot set [find] name=\(RouterSetupWords.word(name))")
        case .hotspotServerDisabled(let name):
            return Line(
                message: "hotspot server \(name) is disabled", fix: "/ip hotspot enable [find name=\(RouterSetupWords.word(name))]")
        case .noHotspotServer:
            return Line(
                message: "the router runs no hotspot server",
                fix: "set one up on the interface customers join: /ip hotspot setup (or IP > Hotspot > Hotspot Setup)")
        case .profiles(let names):
            return Line(message: "every product's profile exists: \(names.joined(separator: ", "))")
        case .noProducts:
            return Line(message: "no product is sold on this router yet")
        case .profilesMissing(let misses, let routerProfiles):
            let named = misses.map { "\"\($0.profile)\" (product \($0.productID))" }.joined(separator: ", ")
            let shown = routerProfiles.sorted().prefix(20).joined(separator: ", ")
            return Line(
                message: "no user profile named exactly \(named); the router has \(shown.isEmpty ? "none" : shown)",
                fix: "create it on the router: /ip hotspot user profile add name=\(RouterSetupWords.word(misses[0].profile)) … "
                    + "(by that exact name: RouterOS would bind a prefix to another profile)")
        case .clock(let skew, let reading):
            let when = "\(reading.date) \(reading.time)" + (reading.timeZoneName.map { " \($0)" } ?? "")
            let side = skew > 0 ? "ahead of" : "behind"
            if result.status == .ok {
                return Line(message: skew == 0 ? "in step with ours (\(when))" : "\(abs(skew)) s \(side) ours (\(when))")
            }
            return Line(
                message: "the router's clock is \(duration(abs(skew))) \(side) ours (\(when))",
                fix: "/system ntp client set enabled=yes servers=pool.ntp.org (a router without a battery restarts at 1970 "
                    + "after every power cut)")
        case .clockUnreadable(let reading):
            return Line(message: "the router's clock reads \"\(reading.date) \(reading.time)\", which hotspot-pay cannot read")
        case .notChecked(let cause):
            return Line(message: "not checked: \(cause.rawValue) failed")
        case .probeFailed(let failure):
            return Line(message: "the router did not answer this read: \(words(failure))")
        }
    }

    static func words(_ failure: RouterProbeFailure) -> String {
        switch failure {
        case .unresolvable(let detail): "the name does not resolve (\(detail))"
        case .refused(let detail): "connection refused (\(detail))"
        case .connectTimedOut(let detail): "no connection (\(detail))"
        case .tlsFailed(let detail): "TLS failed (\(detail))"
        case .pinMismatch(let detail): "the pinned key does not match (\(detail))"
        case .unauthorized: "credentials refused (401)"
        case .notPermitted(let detail): "not permitted (\(detail))"
        case .notREST(let status, let mediaType): "not RouterOS's REST (HTTP \(status), \(mediaType ?? "no content type"))"
        case .timedOut(let detail): "no answer in time (\(detail))"
        case .other(let detail): detail
        }
    }

    /// `75 s`, `12 min`, `3 h`, `400 days`.
    static func duration(_ seconds: Int64) -> String {
        if seconds < 120 { return "\(seconds) s" }
        if seconds < 7_200 { return "\(seconds / 60) min" }
        if seconds < 172_800 { return "\(seconds / 3_600) h" }
        return "\(seconds / 86_400) days"
    }
}

/// A value as the RouterOS console takes it: bare when it is a plain word, quoted otherwise.
enum RouterSetupWords {
    static func word(_ text: String) -> String {
        let plain =
            !text.isEmpty
            && text.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F
                    || $0 == 0x2E
            }
        if plain { return text }
        var out = "\""
        for character in text {
            switch character {
            case "\"", "\\", "$": out += "\\" + String(character)
            default: out.append(character)
            }
        }
        return out + "\""
    }
}
