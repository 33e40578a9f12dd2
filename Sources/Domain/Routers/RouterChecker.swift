/// Runs the checks of CONTRACT §13 on one router: what it answers to seven reads, in order,
/// against what hotspot-pay needs of it. `hotspotctl router check` (and `router add`) and the
/// server's periodic check (`RouterHealthMonitor`) run the same.
public struct RouterChecker {
    public struct Settings: Sendable {
        /// A clock further than this from ours is a warning.
        public var clockSkewWarningSeconds: Int64 = 60

        public init() {}
    }

    /// The router as its record describes it, and what is sold on it.
    public struct Target: Sendable {
        public var endpoint: RouterEndpoint
        /// The router's products; only active ones are checked.
        public var products: [Product]

        public init(endpoint: RouterEndpoint, products: [Product]) {
            self.endpoint = endpoint
            self.products = products
        }
    }

    public var settings: Settings
    private let clock: any WallClock

    public init(clock: any WallClock, settings: Settings = Settings()) {
        self.clock = clock
        self.settings = settings
    }

    public func check(_ target: Target, on router: any RouterInspection) -> RouterHealth {
        var run = Run(endpoint: target.endpoint)
        if connect(&run, router) != nil {
            readPolicies(&run, router)
            readService(&run, router)
            readHotspotServer(&run, router)
            readProfiles(&run, router, products: target.products.filter(\.active))
            readClock(&run, router)
        }
        return RouterHealth(routerID: target.endpoint.routerID, checkedAt: clock.nowSeconds, results: run.results)
    }

    /// The results so far; every check missing at the end is skipped after the first failure.
    struct Run {
        let endpoint: RouterEndpoint
        let host: String
        let port: Int
        var results: [RouterCheckResult] = []

        init(endpoint: RouterEndpoint) {
            self.endpoint = endpoint
            (host, port) = RouterAddress.hostAndPort(endpoint.baseURL)
        }

        mutating func add(_ check: RouterCheck, _ status: RouterCheckStatus, _ finding: RouterFinding) {
            results.append(RouterCheckResult(check: check, status: status, finding: finding))
        }

        /// Every check after the last one recorded is skipped because of `cause`.
        mutating func skipRest(after cause: RouterCheck) {
            let done = Set(results.map(\.check))
            for check in RouterCheck.allCases where !done.contains(check) {
                add(check, .skip, .notChecked(after: cause))
            }
        }

        var trustFinding: (RouterCheckStatus, RouterFinding) {
            if !endpoint.baseURL.lowercased().hasPrefix("https://") { return (.warn, .plainHTTP) }
            if endpoint.trust == .insecure { return (.warn, .notVerified) }
            return (.ok, .trusted(endpoint.trust))
        }
    }

    /// address, tls, credentials and version from `/system/resource`; nil (and the rest
    /// skipped) when one of them failed.
    private func connect(_ run: inout Run, _ router: any RouterInspection) -> RouterResource? {
        let (host, port) = (run.host, run.port)
        let resource: RouterResource
        do {
            resource = try router.systemResource()
        } catch {
            switch error {
            case .unresolvable(let detail):
                run.add(.address, .fail, .unresolvable(host: host, detail: detail))
                run.skipRest(after: .address)
            case .refused:
                run.add(.address, .fail, .refused(host: host, port: port))
                run.skipRest(after: .address)
            case .connectTimedOut:
                run.add(.address, .fail, .connectTimedOut(host: host, port: port))
                run.skipRest(after: .address)
            case .timedOut(let detail):
                run.add(.address, .fail, .noAnswer(host: host, port: port, detail: detail))
                run.skipRest(after: .address)
            case .pinMismatch:
                run.add(.address, .ok, .reached(host: host, port: port))
                if case .pinnedPublicKey(let pin) = run.endpoint.trust {
                    run.add(.tls, .fail, .pinMismatch(pin: pin))
                } else {
                    run.add(.tls, .fail, .handshakeFailed(detail: "the pinned key does not match"))
                }
                run.skipRest(after: .tls)
            case .tlsFailed(let detail):
                run.add(.address, .ok, .reached(host: host, port: port))
                if case .caFile(let path) = run.endpoint.trust {
                    run.add(.tls, .fail, .certificateRejected(caFile: path, detail: detail))
                } else {
                    run.add(.tls, .fail, .handshakeFailed(detail: detail))
                }
                run.skipRest(after: .tls)
            case .unauthorized:
                addReached(&run)
                run.add(.credentials, .fail, .credentialsRefused(user: run.endpoint.user))
                run.skipRest(after: .credentials)
            case .notREST(let status, let mediaType):
                // No REST here: the credentials cannot be tried (WebFig and RouterOS 6 answer
                // without asking for them).
                addReached(&run)
                run.add(.credentials, .skip, .notChecked(after: .version))
                run.add(.version, .fail, .noREST(status: status, mediaType: mediaType))
                run.skipRest(after: .version)
            case .notPermitted(let detail):
                // Logged in, and refused a read: the group lacks `read`.
                addReached(&run)
                run.add(.credentials, .ok, .accepted(user: run.endpoint.user))
                run.add(.version, .skip, .notChecked(after: .policies))
                run.add(.policies, .fail, .notPermitted(detail: detail))
                run.skipRest(after: .policies)
            case .other(let detail):
                addReached(&run)
                run.add(.credentials, .ok, .accepted(user: run.endpoint.user))
                run.add(.version, .fail, .versionUnreadable(detail))
                run.skipRest(after: .version)
            }
            return nil
        }
        addReached(&run)
        run.add(.credentials, .ok, .accepted(user: run.endpoint.user))
        guard let version = RouterOSVersion(resource.version) else {
            run.add(.version, .fail, .versionUnreadable(resource.version))
            run.skipRest(after: .version)
            return nil
        }
        guard version.servesREST else {
            run.add(.version, .fail, .versionTooOld(resource.version))
            run.skipRest(after: .version)
            return nil
        }
        run.add(.version, .ok, .version(resource))
        return resource
    }

    private func addReached(_ run: inout Run) {
        run.add(.address, .ok, .reached(host: run.host, port: run.port))
        let (status, finding) = run.trustFinding
        run.add(.tls, status, finding)
    }

    private func readPolicies(_ run: inout Run, _ router: any RouterInspection) {
        do {
            guard let found = try router.groupOfUser(named: run.endpoint.user) else {
                run.add(.policies, .warn, .userNotListed(user: run.endpoint.user))
                return
            }
            let policies = RouterPolicies(found.policy)
            let status: RouterCheckStatus = !policies.missing.isEmpty ? .fail : !policies.extra.isEmpty ? .warn : .ok
            run.add(.policies, status, .policies(group: found.group, policies))
        } catch {
            if case .notPermitted(let detail) = error {
                run.add(.policies, .fail, .notPermitted(detail: detail))
            } else {
                run.add(.policies, .fail, .probeFailed(error))
            }
        }
    }

    private func readService(_ run: inout Run, _ router: any RouterInspection) {
        do {
            let services = try router.services()
            guard let secure = services.first(where: { $0.name == "www-ssl" }) else {
                run.add(.service, .warn, .serviceNotListed)
                return
            }
            let plain = services.contains { $0.name == "www" && !$0.disabled }
            let restricted = !secure.address.isEmpty
            run.add(
                .service, restricted && !plain ? .ok : .warn,
                .service(port: secure.port, address: secure.address, plainWWW: plain))
        } catch {
            run.add(.service, .warn, .probeFailed(error))
        }
    }

    private func readHotspotServer(_ run: inout Run, _ router: any RouterInspection) {
        let wanted = run.endpoint.hotspotServer
        do {
            let servers = try router.hotspotServers()
            let running = servers.filter { !$0.disabled }.map(\.name)
            if wanted == "all" {
                if running.isEmpty {
                    run.add(.hotspotServer, .fail, .noHotspotServer)
                } else {
                    run.add(.hotspotServer, .ok, .anyHotspotServer(running))
                }
            } else if let server = servers.first(where: { $0.name == wanted }) {
                run.add(
                    .hotspotServer, server.disabled ? .fail : .ok,
                    server.disabled ? .hotspotServerDisabled(name: wanted) : .hotspotServer(name: wanted))
            } else if servers.isEmpty {
                run.add(.hotspotServer, .fail, .noHotspotServer)
            } else {
                run.add(.hotspotServer, .fail, .hotspotServerMissing(name: wanted, available: servers.map(\.name)))
            }
        } catch {
            run.add(.hotspotServer, .fail, .probeFailed(error))
        }
    }

    private func readProfiles(_ run: inout Run, _ router: any RouterInspection, products: [Product]) {
        guard !products.isEmpty else {
            run.add(.profiles, .ok, .noProducts)
            return
        }
        do {
            let names = try router.profileNames()
            // By exact name: RouterOS would bind a prefix to another profile (docs/sources.md A4).
            let missing = products.filter { !names.contains($0.profileName) }.map {
                RouterFinding.ProfileMiss(productID: $0.id, productName: $0.name, profile: $0.profileName)
            }
            if missing.isEmpty {
                var seen: Set<String> = []
                run.add(.profiles, .ok, .profiles(products.map(\.profileName).filter { seen.insert($0).inserted }))
            } else {
                run.add(.profiles, .fail, .profilesMissing(missing, routerProfiles: names))
            }
        } catch {
            run.add(.profiles, .fail, .probeFailed(error))
        }
    }

    private func readClock(_ run: inout Run, _ router: any RouterInspection) {
        let before = clock.nowMicroseconds()
        let reading: RouterClock
        do {
            reading = try router.clock()
        } catch {
            run.add(.clock, .warn, .probeFailed(error))
            return
        }
        // The router read its clock while the request was out: compare with the middle.
        let ours = (before + clock.nowMicroseconds()) / 2_000_000
        guard let theirs = RouterClockReading.unixSeconds(reading) else {
            run.add(.clock, .warn, .clockUnreadable(reading))
            return
        }
        let skew = theirs - ours
        run.add(.clock, abs(skew) > settings.clockSkewWarningSeconds ? .warn : .ok, .clock(skewSeconds: skew, reading))
    }
}

/// The host and port of a router's REST base URL.
public enum RouterAddress {
    /// `https://10.0.0.1:8443` → (`10.0.0.1`, 8443); the scheme's port when none is given.
    public static func hostAndPort(_ url: String) -> (host: String, port: Int) {
        var rest = Substring(url)
        var port = 443
        let scheme = rest.prefix { $0 != ":" && $0 != "/" }
        if rest.dropFirst(scheme.count).hasPrefix("://") {
            if scheme.lowercased() == "http" { port = 80 }
            rest = rest.dropFirst(scheme.count + 3)
        }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            let host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":"), let number = Int(after.dropFirst()) { port = number }
            return (host, port)
        }
        if let colon = rest.lastIndex(of: ":"), let number = Int(rest[rest.index(after: colon)...]) {
            return (String(rest[..<colon]), number)
        }
        return (String(rest), port)
    }
}
