import Domain
import Foundation
import HTTPTransport
import TestSupport
import Testing

@testable import RouterOS

/// Request building, reply decoding and error mapping, against recorded replies (no network).
@Suite struct RouterOSClientTests {
    private func client(
        _ transport: FakeTransport, _ configuration: RouterOSClient.Configuration = Sample.configuration()
    )
        -> RouterOSClient
    {
        RouterOSClient(configuration: configuration, transport: transport, limiter: RouterConcurrencyLimiter())
    }

    private func body(_ request: HTTPRequest?) throws -> [String: Any] {
        let bytes = try #require(request?.body)
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    // MARK: Requests

    @Test func createSendsEveryValueAsAStringWithConnectionSettings() throws {
        let transport = FakeTransport(fixtures: "user-add-created")
        let configuration = Sample.configuration(
            timeouts: Timeouts(connectMilliseconds: 1_500, totalMilliseconds: 4_000))
        let user = try client(transport, configuration).createUser(Sample.newUser(mac: Sample.mac))

        let request = try #require(transport.requests.first)
        #expect(request.method == .put)
        #expect(request.url == "https://10.0.0.1/rest/ip/hotspot/user")
        #expect(request.basicAuth == BasicAuth(user: "api", password: "api-secret"))
        #expect(request.tls == .pinnedPublicKey("sha256//AAAA"))
        #expect(request.timeouts == Timeouts(connectMilliseconds: 1_500, totalMilliseconds: 4_000))
        #expect(request.headers.contains(Header("Content-Type", "application/json")))
        let sent = try body(request)
        #expect(sent.values.allSatisfy { $0 is String })
        #expect(
            sent as? [String: String] == [
                "name": "PAY-8F3K2Q", "password": Sample.password, "profile": "1hora", "server": "hotspot1",
                "disabled": "true", "comment": "order 42", "mac-address": "AA:BB:CC:DD:EE:FF", "limit-uptime": "1h",
                "limit-bytes-total": "1073741824",
            ])
        #expect(
            user
                == HotspotUser(
                    id: "*1B", name: "PAY-8F3K2Q", profile: "1hora", server: "hotspot1", disabled: true,
                    comment: "order 42"))
    }

    @Test func createLeavesOutUnsetLimits() throws {
        let transport = FakeTransport(fixtures: "user-add-created")
        var user = Sample.newUser(disabled: false)
        user.limitUptime = nil
        user.limitBytesTotal = nil
        _ = try client(transport).createUser(user)
        let sent = try body(transport.requests.first)
        #expect(Set(sent.keys) == ["name", "password", "profile", "server", "disabled", "comment"])
        #expect(sent["disabled"] as? String == "false")
    }

    @Test func findUserPercentEncodesTheQueryAndAsksForNoPassword() throws {
        let transport = FakeTransport(fixtures: "user-print-none")
        #expect(try client(transport).findUser(named: "PAY 8F+3/ü&x=1") == nil)
        let request = try #require(transport.requests.first)
        #expect(request.method == .get)
        #expect(request.body == nil)
        #expect(
            request.url == "https://10.0.0.1/rest/ip/hotspot/user?name=PAY%208F%2B3%2F%C3%BC%26x%3D1&server=hotspot1"
                + "&.proplist=.id,name,profile,server,disabled,comment,mac-address")
    }

    @Test func idsStayLiteralInPaths() throws {
        let transport = FakeTransport(fixtures: "user-set-updated", "deleted")
        try client(transport).setUserDisabled(id: "*1B", disabled: false)
        try client(transport).deleteUser(id: "*1B")
        #expect(
            transport.requests.map(\.url) == [
                "https://10.0.0.1/rest/ip/hotspot/user/*1B", "https://10.0.0.1/rest/ip/hotspot/user/*1B",
            ])
        #expect(transport.requests.map(\.method) == [.patch, .delete])
        #expect(try body(transport.requests.first) as? [String: String] == ["disabled": "false"])
    }

    @Test func aSessionIsEndedByItsLiteralID() throws {
        let transport = FakeTransport(fixtures: "deleted")
        try client(transport).removeSession(id: "*2A")
        #expect(transport.requests.map(\.url) == ["https://10.0.0.1/rest/ip/hotspot/active/*2A"])
        #expect(transport.requests.map(\.method) == [.delete] && transport.requests.first?.body == nil)
    }

    @Test(arguments: ["deleted", "deleted-200", "not-found", "no-such-item"])
    func endingASessionSucceedsWhenItHasEndedAlready(scenario: String) {
        #expect(failure { try client(FakeTransport(fixtures: scenario)).removeSession(id: "*2A") } == nil)
    }

    @Test(arguments: ["1B", "*", "*1B/../../system", "*1B?x=1", "%2A1B", ""])
    func malformedIDsAreRefusedBeforeSending(id: String) {
        let transport = FakeTransport([])
        #expect(failure { try client(transport).removeSession(id: id) }?.name == "rejected")
        #expect(failure { try client(transport).deleteUser(id: id) }?.name == "rejected")
        #expect(failure { try client(transport).setUserDisabled(id: id, disabled: true) }?.name == "rejected")
        #expect(transport.requests.isEmpty)
    }

    @Test func theUsageListingIsOnePrintOfTheWholeTableWithoutPasswords() throws {
        let transport = FakeTransport(fixtures: "user-print-usage")
        let configuration = Sample.configuration(timeouts: Timeouts(connectMilliseconds: 1_500, totalMilliseconds: 4_000))
        _ = try client(transport, configuration).listUsage()
        let request = try #require(transport.requests.first)
        #expect(request.method == .post && request.url == "https://10.0.0.1/rest/ip/hotspot/user/print")
        #expect(request.headers.contains(Header("Content-Type", "application/json")))
        // `.proplist` as a list, as MikroTik's examples send it: no password among the names.
        #expect(
            String(decoding: request.body ?? [], as: UTF8.self)
                == #"{".proplist":[".id","name","comment","disabled","uptime","bytes-in","bytes-out","limit-uptime","limit-bytes-total"]}"#)
        // A print changes nothing: it may go on a kept-alive connection, with the listing's limits.
        #expect(request.resendable)
        #expect(request.timeouts == Timeouts(connectMilliseconds: 1_500, totalMilliseconds: 30_000))
        #expect(request.maxResponseBytes == 64 << 20)
    }

    @Test func usageIsReadAsSecondsAndBytesAndWhatCannotBeReadIsNil() throws {
        let users = try client(FakeTransport(fixtures: "user-print-usage")).listUsage()
        #expect(
            users == [
                HotspotUserUsage(
                    id: "*1", name: "K7RW4P", comment: "hotspot-pay:0b9e6a0e-6a55-4b8e-9d4c-1f0f3c2a7b11", disabled: false,
                    uptimeSeconds: 788_645, bytesIn: 1_048_576, bytesOut: 52_428_800, limitUptimeSeconds: 3_600, limitBytesTotal: nil),
                // 0 is RouterOS's "no limit".
                HotspotUserUsage(
                    id: "*2", name: "admin-guest", comment: "", disabled: true, uptimeSeconds: 0, bytesIn: 0, bytesOut: 0,
                    limitUptimeSeconds: nil, limitBytesTotal: 1_073_741_824),
                HotspotUserUsage(
                    id: "*3", name: "123456", comment: "hotspot-pay:5d1c9a37-0e2b-4f7c-8a60-2b9d8e7f1a04", disabled: false,
                    uptimeSeconds: 300, bytesIn: nil, bytesOut: nil, limitUptimeSeconds: 93_600, limitBytesTotal: nil),
            ])
        #expect(users[0].bytesTotal == 53_477_376 && users[2].bytesTotal == nil)
    }

    @Test func everyActiveSessionIsListedWithItsUptime() throws {
        let transport = FakeTransport(fixtures: "active-print-usage")
        let sessions = try client(transport).listActiveSessions()
        #expect(transport.requests.map(\.url) == ["https://10.0.0.1/rest/ip/hotspot/active/print"])
        #expect(
            String(decoding: transport.requests.first?.body ?? [], as: UTF8.self)
                == #"{".proplist":[".id","user","address","mac-address","server","uptime"]}"#)
        #expect(
            sessions == [
                ActiveSession(
                    id: "*9", user: "K7RW4P", address: "10.5.50.23", macAddress: "AA:BB:CC:DD:EE:FF", server: "hotspot1",
                    uptimeSeconds: 723),
                ActiveSession(
                    id: "*A", user: "123456", address: "10.5.51.2", macAddress: "02:00:00:00:00:01", server: "hotspot2",
                    uptimeSeconds: 1),
            ])
    }

    @Test func aListingWithoutIdsOrNamesOrThatIsNotAListIsMalformed() throws {
        let nameless = HTTPResponse.json(200, #"[{".id":"*1","uptime":"0s"}]"#)
        #expect(failure { try client(FakeTransport([.success(nameless)])).listUsage() }?.name == "rejected")
        let userless = HTTPResponse.json(200, #"[{".id":"*1","uptime":"0s"}]"#)
        #expect(failure { try client(FakeTransport([.success(userless)])).listActiveSessions() }?.name == "rejected")
        let object = HTTPResponse.json(200, #"{".id":"*1","name":"x"}"#)
        #expect(failure { try client(FakeTransport([.success(object)])).listUsage() }?.name == "rejected")
        #expect(try client(FakeTransport(fixtures: "user-print-none")).listUsage() == [])
        // A listing that did not come is not "no users": the sweep must not act on it.
        let lost = FakeTransport([.failure(TransportError(kind: .timedOut, requestSent: true, message: "30 s"))])
        #expect(failure { try client(lost).listUsage() } == .timedOut(maybeApplied: false))
    }

    @Test func loginSendsUserPasswordIPAndMACOnly() throws {
        let transport = FakeTransport(fixtures: "active-login-ok", "active-login-ok")
        try client(transport).login(
            user: "PAY-8F3K2Q", password: Sample.password, address: Sample.address, mac: Sample.mac)
        try client(transport).login(user: "PAY-8F3K2Q", password: Sample.password, address: Sample.address, mac: nil)
        #expect(
            transport.requests.map(\.url) == Array(repeating: "https://10.0.0.1/rest/ip/hotspot/active/login", count: 2)
        )
        #expect(transport.requests.map(\.method) == [.post, .post])
        #expect(
            try body(transport.requests[0]) as? [String: String] == [
                "user": "PAY-8F3K2Q", "password": Sample.password, "ip": "10.5.50.23",
                "mac-address": "AA:BB:CC:DD:EE:FF",
            ])
        #expect(Set(try body(transport.requests[1]).keys) == ["user", "password", "ip"])
    }

    @Test func hostLookupFiltersByWhatIsGiven() throws {
        let transport = FakeTransport(fixtures: "host-print-one", "host-print-one", "host-print-one")
        let host = try client(transport).findHost(mac: Sample.mac, address: nil)
        _ = try client(transport).findHost(mac: nil, address: Sample.address)
        _ = try client(transport).findHost(mac: Sample.mac, address: Sample.address)
        #expect(
            host
                == HotspotHost(
                    id: "*5", macAddress: "AA:BB:CC:DD:EE:FF", address: "10.5.50.23", toAddress: "10.5.50.23",
                    server: "hotspot1"))
        let proplist = "&.proplist=.id,mac-address,address,to-address,server,authorized"
        #expect(
            transport.requests.map(\.url) == [
                "https://10.0.0.1/rest/ip/hotspot/host?mac-address=AA%3ABB%3ACC%3ADD%3AEE%3AFF" + proplist,
                "https://10.0.0.1/rest/ip/hotspot/host?address=10.5.50.23" + proplist,
                "https://10.0.0.1/rest/ip/hotspot/host?mac-address=AA%3ABB%3ACC%3ADD%3AEE%3AFF&address=10.5.50.23"
                    + proplist,
            ])
        #expect(failure { try client(transport).findHost(mac: nil, address: nil) }?.name == "rejected")
        #expect(transport.requests.count == 3)
    }

    // MARK: Replies

    @Test func decodesUsersProfilesHostsAndSessions() throws {
        let transport = FakeTransport(
            fixtures: "user-print-one", "profile-print", "profile-print-one", "active-print-one")
        let router = client(transport)
        #expect(
            try router.findUser(named: "PAY-8F3K2Q")
                == HotspotUser(
                    id: "*1A", name: "PAY-8F3K2Q", profile: "1hora", server: "hotspot1", disabled: true,
                    comment: "order 42",
                    macAddress: "AA:BB:CC:DD:EE:FF"))
        #expect(
            try router.listProfiles() == [
                HotspotProfile(id: "*0", name: "default", sessionTimeout: "0s", sharedUsers: "1"),
                HotspotProfile(id: "*2", name: "1hora", rateLimit: "2M/5M", sessionTimeout: "1h", sharedUsers: "1"),
            ])
        #expect(try router.findProfile(named: "1hora")?.id == "*2")
        #expect(
            try router.activeSessions(user: "PAY-8F3K2Q") == [
                ActiveSession(
                    id: "*9", user: "PAY-8F3K2Q", address: "10.5.50.23", macAddress: "AA:BB:CC:DD:EE:FF",
                    server: "hotspot1")
            ])
    }

    @Test func rawControlCharactersInStringsAreSanitisedBeforeDecoding() throws {
        let transport = FakeTransport(fixtures: "user-print-control-characters")
        let user = try #require(try client(transport).findUser(named: "PAY-8F3K2Q"))
        #expect(user.comment == "caf\u{1B}[0m\n\"ok\"")
    }

    @Test func sanitiserOnlyTouchesBytesInsideStrings() {
        let raw = Array("[\n{\"a\":\"x\u{01}\\\"\u{1F}\"}\t]".utf8)
        #expect(String(decoding: RouterOSJSON.sanitised(raw), as: UTF8.self) == "[\n{\"a\":\"x\\u0001\\\"\\u001f\"}\t]")
        let clean = Array("[{\"a\":\"b\"}]".utf8)
        #expect(RouterOSJSON.sanitised(clean) == clean)
    }

    @Test func findUserIgnoresRowsWithAnotherName() throws {
        let transport = FakeTransport(fixtures: "user-print-two-names")
        #expect(try client(transport).findUser(named: "PAY-8F3K2Q")?.id == "*2")
    }

    @Test func setAcceptsTheUpdatedObjectOrAnEmptyList() throws {
        let transport = FakeTransport(fixtures: "user-set-updated", "user-set-empty-list")
        try client(transport).setUserDisabled(id: "*1B", disabled: false)
        try client(transport).setUserDisabled(id: "*1B", disabled: false)
        #expect(transport.requests.count == 2)
    }

    @Test(arguments: ["deleted", "deleted-200", "not-found", "no-such-item"])
    func deleteSucceedsWhenTheUserIsGone(scenario: String) {
        #expect(failure { try client(FakeTransport(fixtures: scenario)).deleteUser(id: "*1B") } == nil)
    }

    @Test(arguments: [
        ("webfig-login", "findUser"), ("no-content-type", "findUser"), ("malformed-json", "findUser"),
        ("html-not-found", "deleteUser"), ("webfig-login", "createUser"), ("user-set-updated", "findUser"),
    ])
    func repliesThatAreNotRouterOSJSONAreRejected(scenario: String, operation: String) {
        let router = client(FakeTransport(fixtures: scenario))
        let thrown: RouterFailure? =
            switch operation {
            case "findUser": failure { try router.findUser(named: "PAY-8F3K2Q") }
            case "deleteUser": failure { try router.deleteUser(id: "*1B") }
            default: failure { try router.createUser(Sample.newUser()) }
            }
        #expect(thrown?.name == "rejected")
    }

    // MARK: Error mapping

    @Test(arguments: [
        ("user-add-duplicate", "duplicateName"),
        ("user-add-duplicate-reworded", "duplicateName"),
        ("user-add-profile-unknown", "profileNotFound"),
        ("user-add-profile-ambiguous", "profileAmbiguous"),
        ("user-add-unknown-parameter", "rejected"),
        ("user-add-bad-time", "rejected"),
        ("not-acceptable", "rejected"),
        ("unauthorized", "authenticationFailed"),
        ("unauthorized-html", "authenticationFailed"),
        ("session-closed", "timedOut(maybeApplied: true)"),
        ("bad-gateway", "timedOut(maybeApplied: true)"),
        ("malformed-json", "timedOut(maybeApplied: true)"),
        ("webfig-login", "rejected"),
        ("user-set-empty-list", "timedOut(maybeApplied: true)"),
    ])
    func createFailures(scenario: String, expected: String) {
        let thrown = failure { try client(FakeTransport(fixtures: scenario)).createUser(Sample.newUser()) }
        #expect(thrown?.name == expected)
    }

    @Test(arguments: [
        ("not-found", "notFound"), ("no-such-item", "notFound"), ("unauthorized", "authenticationFailed"),
        ("bad-gateway", "timedOut(maybeApplied: true)"), ("html-not-found", "rejected"),
    ])
    func setFailures(scenario: String, expected: String) {
        let thrown = failure {
            try client(FakeTransport(fixtures: scenario)).setUserDisabled(id: "*1B", disabled: false)
        }
        #expect(thrown?.name == expected)
    }

    @Test(arguments: [
        ("bad-gateway", "rejected"), ("unauthorized", "authenticationFailed"), ("session-closed", "rejected"),
        ("not-acceptable", "rejected"),
    ])
    func readFailuresNeverClaimMaybeApplied(scenario: String, expected: String) {
        let thrown = failure { try client(FakeTransport(fixtures: scenario)).findUser(named: "PAY-8F3K2Q") }
        #expect(thrown?.name == expected)
    }

    @Test func loginFailures() {
        let router = { (scenario: String) in self.client(FakeTransport(fixtures: scenario)) }
        let login = { (router: RouterOSClient) in
            failure {
                try router.login(user: "PAY-8F3K2Q", password: Sample.password, address: Sample.address, mac: nil)
            }
        }
        #expect(login(router("active-login-unknown-host")) == .unknownHost)
        #expect(login(router("active-login-bad-password")) == .loginRejected("invalid username or password"))
        #expect(login(router("active-login-wrong-mac")) == .loginRejected("wrong MAC provided"))
        #expect(login(router("unauthorized")) == .authenticationFailed)
    }

    @Test func severalHostsForOneDeviceAreRejected() {
        #expect(
            failure { try client(FakeTransport(fixtures: "host-print-two")).findHost(mac: Sample.mac, address: nil) }?
                .name == "rejected")
    }

    @Test func transportFailuresSayWhetherAMutationMayHaveApplied() {
        func router(_ error: TransportError) -> RouterOSClient { client(FakeTransport([.failure(error)])) }
        let refused = TransportError(kind: .couldNotConnect, requestSent: false, code: 7, message: "Couldn't connect")
        let pin = TransportError(kind: .pinMismatch, requestSent: false, code: 90)
        let timedOut = TransportError(kind: .timedOut, requestSent: true, code: 28)
        let lost = TransportError(kind: .connectionLost, requestSent: true, code: 52)
        let connectTimeout = TransportError(kind: .timedOut, requestSent: false, code: 28)

        #expect(failure { try router(refused).createUser(Sample.newUser()) }?.name == "unreachable")
        #expect(failure { try router(pin).findUser(named: "x") }?.name == "unreachable")
        #expect(failure { try router(connectTimeout).createUser(Sample.newUser()) }?.name == "unreachable")
        #expect(failure { try router(timedOut).findUser(named: "x") } == .timedOut(maybeApplied: false))
        #expect(failure { try router(timedOut).createUser(Sample.newUser()) } == .timedOut(maybeApplied: true))
        #expect(
            failure { try router(lost).setUserDisabled(id: "*1", disabled: false) } == .timedOut(maybeApplied: true))
        #expect(failure { try router(lost).deleteUser(id: "*1") } == .timedOut(maybeApplied: true))
        #expect(failure { try router(lost).removeSession(id: "*1") } == .timedOut(maybeApplied: true))
        #expect(failure { try router(refused).removeSession(id: "*1") }?.name == "unreachable")
        #expect(
            failure { try router(lost).login(user: "u", password: "p", address: Sample.address, mac: nil) }
                == .timedOut(maybeApplied: true))
        #expect(failure { try router(lost).activeSessions(user: "u") } == .timedOut(maybeApplied: false))
    }

    @Test func errorDescriptionsNeverCarryThePasswordOrCredentials() throws {
        let transport = FakeTransport(fixtures: "user-add-echoes-password", "unauthorized", "session-closed")
        let configuration = Sample.configuration(credentials: BasicAuth(user: "api", password: "router-Secret-9"))
        var user = Sample.newUser()
        user.password = "s3cret"
        var descriptions: [String] = []
        for _ in 0..<3 {
            let error = try #require(routerOSError { try client(transport, configuration).addUser(user) })
            descriptions.append(error.description)
            descriptions.append("\(error.routerFailure)")
        }
        #expect(descriptions[0].contains("invalid value <redacted> for argument password"))
        for text in descriptions {
            #expect(!text.contains("s3cret"))
            #expect(!text.contains("router-Secret-9"))
            #expect(!text.lowercased().contains("authorization"))
        }
    }

    @Test func errorsKeepOperationStatusAndDetail() throws {
        let error = try #require(
            routerOSError { try client(FakeTransport(fixtures: "user-add-duplicate")).addUser(Sample.newUser()) })
        #expect(
            error
                == RouterOSError(
                    kind: .duplicateName, operation: "user.add", status: 400,
                    detail: "failure: already have user with this name for this server"))
        #expect(
            error.description
                == "RouterOSError(duplicate_name, op: user.add, status: 400, detail: failure: already have user with this name for this server)"
        )
    }

    @Test func insecureConfigurationsAreFlagged() {
        #expect(!Sample.configuration().isInsecure)
        #expect(!Sample.configuration(tls: .caFile("/etc/router-ca.pem")).isInsecure)
        #expect(Sample.configuration(tls: .insecure).isInsecure)
        #expect(Sample.configuration(baseURL: "http://10.0.0.1").isInsecure)
    }
}
