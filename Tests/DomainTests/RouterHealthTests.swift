import Domain
import TestSupport
import Testing

/// The pure parts of a router's check (CONTRACT §13): reading RouterOS's versions, policies and
/// clock, and the order and dependencies of the checks over a scripted router.
@Suite struct RouterReadingsTests {
    @Test(arguments: [
        ("7.16.2 (stable)", 7, 16, 2, "", true),
        ("7.1beta4 (development)", 7, 1, 0, "beta4", true),
        ("7.22rc4 (testing)", 7, 22, 0, "rc4", true),
        ("7.1", 7, 1, 0, "", true),
        ("7.0.5", 7, 0, 5, "", false),
        ("6.49.17 (long-term)", 6, 49, 17, "", false),
        ("8.0", 8, 0, 0, "", true),
    ])
    func readsVersions(text: String, major: Int, minor: Int, patch: Int, prerelease: String, rest: Bool) throws {
        let version = try #require(RouterOSVersion(text))
        #expect((version.major, version.minor, version.patch, version.prerelease) == (major, minor, patch, prerelease))
        #expect(version.servesREST == rest)
        #expect(version.number == text.split(separator: " ").first.map(String.init))
    }

    @Test(arguments: ["", "stable", "7", "v7.16", "(7.16)"])
    func refusesWhatIsNoVersion(text: String) {
        #expect(RouterOSVersion(text) == nil)
    }

    @Test func ordersVersionsWithPreReleasesFirst() throws {
        let texts = ["7.1beta4", "7.1rc1", "7.1", "7.9", "7.10", "7.16.2"]
        let versions = try texts.map { try #require(RouterOSVersion($0)) }
        #expect(versions.sorted().map(\.text) == texts)
    }

    @Test func readsAGroupsPolicyWithItsDeniedOnes() {
        let exact = RouterPolicies("read,write,api,rest-api,!local,!telnet,!ssh,!ftp,!policy,!sensitive")
        #expect(exact.granted == ["read", "write", "api", "rest-api"])
        #expect(exact.missing == [] && exact.extra == [])

        let broad = RouterPolicies(
            "local,telnet,ssh,ftp,reboot,read,write,policy,test,winbox,password,web,sniff,sensitive,api,romon,rest-api")
        #expect(broad.missing == [])
        #expect(
            broad.extra == [
                "local", "telnet", "ssh", "ftp", "reboot", "policy", "test", "winbox", "password", "web", "sniff", "sensitive", "romon",
            ])

        let narrow = RouterPolicies("read,api,!write,!rest-api,!ftp")
        #expect(narrow.missing == ["write", "rest-api"])
    }

    @Test func requiresRestAPIOnlyFromARouterThatKnowsIt() {
        // A router that prints denied policies and names no rest-api at all predates that policy.
        #expect(RouterPolicies("read,write,api,!local,!ftp,!policy").missing == [])
        // A policy text without any denied one says nothing about the version: rest-api is required.
        #expect(RouterPolicies("read,write,api").missing == ["rest-api"])
        #expect(RouterPolicies("read , write, api ,rest-api").missing == [])
    }

    @Test(arguments: [
        // 7.10 and later, and before (docs/sources.md A2, A9); the offset is taken off.
        ("2026-11-25", "15:42:04", "+00:00", Int64(1_795_621_324)),
        ("nov/25/2026", "15:42:04", "+00:00", 1_795_621_324),
        ("2026-11-25", "09:42:04", "-06:00", 1_795_621_324),
        ("2026-11-25", "17:42:04", "+02:00", 1_795_621_324),
        ("2026-11-25", "15:42:04", "0", 1_795_621_324),
        ("jan/02/1970", "00:00:00", "+00:00", 86_400),
    ])
    func readsTheClock(date: String, time: String, offset: String, unix: Int64) {
        #expect(RouterClockReading.unixSeconds(RouterClock(date: date, time: time, gmtOffset: offset)) == unix)
    }

    @Test(arguments: [("25/11/2026", "15:42:04"), ("2026-13-01", "00:00:00"), ("2026-11-25", "25:61:00"), ("", "")])
    func refusesAClockItCannotRead(date: String, time: String) {
        #expect(RouterClockReading.unixSeconds(RouterClock(date: date, time: time)) == nil)
    }

    @Test func splitsARESTURLIntoHostAndPort() {
        #expect(RouterAddress.hostAndPort("https://10.0.0.1") == ("10.0.0.1", 443))
        #expect(RouterAddress.hostAndPort("https://10.0.0.1:8443/") == ("10.0.0.1", 8443))
        #expect(RouterAddress.hostAndPort("http://router.example") == ("router.example", 80))
        #expect(RouterAddress.hostAndPort("https://[fd00::1]:444") == ("fd00::1", 444))
    }

    @Test func computesATunnelsNetwork() {
        let wireGuard = RouterSetupPlan.WireGuard(
            routerAddress: "10.99.0.27", prefixLength: 24, hubAddress: "10.99.0.1", hubEndpointHost: "hub.example.net",
            hubEndpointPort: 51820, hubPublicKey: "", routerPrivateKey: nil, routerPublicKey: nil)
        #expect(wireGuard.network == "10.99.0.0/24")
        #expect(IPv4Network.contains("10.99.0.0/24", "10.99.0.1"))
        #expect(!IPv4Network.contains("10.99.0.0/24", "10.99.1.1"))
        #expect(IPv4Network.contains("0.0.0.0/0", "203.0.113.10"))
    }
}

/// A router that answers each read as the test scripts it.
final class ScriptedRouter: RouterInspection {
    var resource: Result<RouterResource, RouterProbeFailure> = .success(RouterResource(version: "7.16.2 (stable)", boardName: "hAP ac^2"))
    var group: Result<(group: String, policy: String)?, RouterProbeFailure> = .success(("hotspot-pay", "read,write,api,rest-api,!ftp"))
    var serviceList: Result<[RouterService], RouterProbeFailure> = .success([
        RouterService(name: "www", port: "80", disabled: true),
        RouterService(name: "www-ssl", port: "443", address: "203.0.113.10/32"),
    ])
    var servers: Result<[HotspotServer], RouterProbeFailure> = .success([HotspotServer(name: "hotspot1")])
    var profiles: Result<[String], RouterProbeFailure> = .success(["default", "1hora", "1dia"])
    var clockReading: Result<RouterClock, RouterProbeFailure> = .success(
        RouterClock(date: "2023-11-14", time: "22:13:20", gmtOffset: "+00:00"))
    var reads: [String] = []

    func systemResource() throws(RouterProbeFailure) -> RouterResource {
        reads.append("resource")
        return try resource.get()
    }

    func groupOfUser(named name: String) throws(RouterProbeFailure) -> (group: String, policy: String)? {
        reads.append("group")
        return try group.get()
    }

    func services() throws(RouterProbeFailure) -> [RouterService] {
        reads.append("services")
        return try serviceList.get()
    }

    func hotspotServers() throws(RouterProbeFailure) -> [HotspotServer] {
        reads.append("servers")
        return try servers.get()
    }

    func profileNames() throws(RouterProbeFailure) -> [String] {
        reads.append("profiles")
        return try profiles.get()
    }

    func clock() throws(RouterProbeFailure) -> RouterClock {
        reads.append("clock")
        return try clockReading.get()
    }
}

@Suite struct RouterCheckerTests {
    let router = ScriptedRouter()
    let clock = FixedClock()  // 2023-11-14T22:13:20Z

    func target(
        trust: RouterEndpoint.Trust = .pinnedPublicKey("sha256//pin"), server: String = "hotspot1", url: String = "https://10.0.0.1"
    )
        -> RouterChecker.Target
    {
        RouterChecker.Target(
            endpoint: RouterEndpoint(routerID: 3, baseURL: url, user: "hotspot-pay", password: "x", trust: trust, hotspotServer: server),
            products: [
                Product(id: 1, companyID: 1, routerID: 3, name: "1 Hora", price: Money(cents: 1500, currency: "MXN"), profileName: "1hora"),
                Product(id: 2, companyID: 1, routerID: 3, name: "1 Día", price: Money(cents: 4990, currency: "MXN"), profileName: "1dia"),
                Product(
                    id: 3, companyID: 1, routerID: 3, name: "Retirado", price: Money(cents: 100, currency: "MXN"), profileName: "gone",
                    active: false),
            ])
    }

    func check(_ target: RouterChecker.Target? = nil) -> RouterHealth {
        RouterChecker(clock: clock).check(target ?? self.target(), on: router)
    }

    func statuses(_ health: RouterHealth) -> [String] { health.results.map { "\($0.check.rawValue)=\($0.status.rawValue)" } }

    @Test func aHealthyRouterPassesEveryCheckInOrder() {
        let health = check()
        #expect(health.results.map(\.check) == RouterCheck.allCases)
        #expect(health.results.allSatisfy { $0.status == .ok }, "\(statuses(health))")
        #expect(health.status == .ok && health.checkedAt == 1_700_000_000)
        #expect(router.reads == ["resource", "group", "services", "servers", "profiles", "clock"])
        #expect(health.result(.tls)?.finding == .trusted(.pinnedPublicKey("sha256//pin")))
        // Inactive products are not sold, so their profile is not needed.
        #expect(health.result(.profiles)?.finding == .profiles(["1hora", "1dia"]))
    }

    @Test(arguments: [
        (RouterProbeFailure.unresolvable("x"), RouterCheck.address, "unresolvable"),
        (.refused("x"), .address, "refused"),
        (.connectTimedOut("x"), .address, "connect_timed_out"),
        (.timedOut("x"), .address, "no_answer"),
        (.pinMismatch("x"), .tls, "pin_mismatch"),
        (.tlsFailed("x"), .tls, "handshake_failed"),
        (.unauthorized, .credentials, "credentials_refused"),
        (.notREST(status: 404, mediaType: "text/html"), .version, "no_rest"),
        (.notPermitted("std failure: not allowed (9)"), .policies, "not_permitted"),
        (.other("x"), .version, "unreadable"),
    ])
    func theFirstReadSaysHowFarTheConnectionGot(failure: RouterProbeFailure, failed: RouterCheck, code: String) throws {
        router.resource = .failure(failure)
        let health = check()
        let result = try #require(health.result(failed))
        #expect(result.status == .fail && result.finding.code == code)
        #expect(health.status == .fail)
        #expect(router.reads == ["resource"], "nothing more is read once the connection failed")
        #expect(health.results.map(\.check) == RouterCheck.allCases)
        // Every check before the failed one held (or, for v6 and a missing read, could not run); every one after is skipped.
        let index = try #require(RouterCheck.allCases.firstIndex(of: failed))
        #expect(health.results[(index + 1)...].allSatisfy { $0.status == .skip })
        #expect(health.results[..<index].allSatisfy { $0.status != .fail })
    }

    @Test func aCAFileThatRejectsTheCertificateIsNamed() {
        router.resource = .failure(.tlsFailed("SSL certificate problem: self-signed certificate"))
        let health = check(target(trust: .caFile("/etc/hotspot-pay/routers/terraza.pem")))
        #expect(
            health.result(.tls)?.finding
                == .certificateRejected(
                    caFile: "/etc/hotspot-pay/routers/terraza.pem", detail: "SSL certificate problem: self-signed certificate"))
    }

    @Test func anUnverifiedOrPlainRouterIsAWarning() {
        let unverified = check(target(trust: .insecure)).result(.tls)
        #expect(unverified?.status == .warn && unverified?.finding == .notVerified)
        #expect(check(target(trust: .insecure, url: "http://10.0.0.1")).result(.tls)?.finding == .plainHTTP)
    }

    @Test func aVersionWithoutRESTFails() {
        router.resource = .success(RouterResource(version: "7.0.5 (stable)"))
        let result = check().result(.version)
        #expect(result?.status == .fail && result?.finding == .versionTooOld("7.0.5 (stable)"))
    }

    @Test func missingPoliciesFailAndExtraOnesWarn() {
        router.group = .success(("hotspot-pay", "read,api,rest-api,!write"))
        #expect(check().result(.policies)?.status == .fail)
        router.group = .success(("full", "local,read,write,policy,sensitive,api,rest-api,ftp"))
        let result = check().result(.policies)
        #expect(result?.status == .warn && result?.finding.code == "extra_policies")
    }

    @Test func theServiceWarnsWhenOpenToAllOrServedInClear() {
        router.serviceList = .success([RouterService(name: "www", port: "80"), RouterService(name: "www-ssl", port: "443")])
        let result = check().result(.service)
        #expect(result?.status == .warn && result?.finding == .service(port: "443", address: "", plainWWW: true))
    }

    @Test func theRecordsHotspotServerMustExistAndRun() {
        #expect(
            check(target(server: "lobby")).result(.hotspotServer)?.finding == .hotspotServerMissing(name: "lobby", available: ["hotspot1"]))
        router.servers = .success([HotspotServer(name: "hotspot1", disabled: true)])
        #expect(check().result(.hotspotServer)?.finding == .hotspotServerDisabled(name: "hotspot1"))
        #expect(check(target(server: "all")).result(.hotspotServer)?.finding == .noHotspotServer)
        router.servers = .success([HotspotServer(name: "a"), HotspotServer(name: "b")])
        #expect(check(target(server: "all")).result(.hotspotServer)?.finding == .anyHotspotServer(["a", "b"]))
    }

    @Test func aProfileCountsOnlyByItsExactName() {
        router.profiles = .success(["default", "1hora", "1diario"])
        let result = check().result(.profiles)
        #expect(result?.status == .fail)
        #expect(
            result?.finding
                == .profilesMissing(
                    [RouterFinding.ProfileMiss(productID: 2, productName: "1 Día", profile: "1dia")],
                    routerProfiles: ["default", "1hora", "1diario"]))
    }

    @Test func theClockWarnsBeyondAMinuteEitherWay() {
        router.clockReading = .success(RouterClock(date: "2023-11-14", time: "22:14:20", gmtOffset: "+00:00"))
        let close = check().result(.clock)
        #expect(close?.status == .ok && close?.finding.code == "skew")
        router.clockReading = .success(RouterClock(date: "2023-11-14", time: "16:11:00", gmtOffset: "-06:00"))
        let behind = check().result(.clock)
        #expect(behind?.status == .warn)
        #expect(behind?.finding == .clock(skewSeconds: -140, RouterClock(date: "2023-11-14", time: "16:11:00", gmtOffset: "-06:00")))
        // A router without a battery after a power cut, no NTP.
        router.clockReading = .success(RouterClock(date: "jan/02/1970", time: "00:05:00", gmtOffset: "+00:00"))
        #expect(check().result(.clock)?.status == .warn)
        #expect(check().status == .warn, "a clock alone does not make a router fail")
    }

    @Test func aReadThatFailsLaterFailsItsOwnCheckOnly() {
        router.servers = .failure(.timedOut("Operation timed out"))
        router.clockReading = .failure(.other("boom"))
        let health = check()
        #expect(health.result(.hotspotServer)?.status == .fail)
        #expect(health.result(.profiles)?.status == .ok)
        #expect(health.result(.clock)?.status == .warn)
    }

    @Test func theRecordKeepsStatusesAndCodes() {
        router.group = .success(("hotspot-pay", "read,write,api,rest-api,policy"))
        let record = check().record
        #expect(record.status == .warn && record.warnings == [.policies] && record.failing == [])
        #expect(record.checks.first == RouterHealthRecord.Entry(check: .address, status: .ok, code: "reached"))
    }
}
