import Dispatch
import Domain
import Foundation
import HTTPTransport
import RouterOS
import Synchronization
import TestSupport
import Testing

/// The real client over real HTTPS (libcurl) against `sandbox/router.py`, one sandbox per test.
@Suite(.timeLimit(.minutes(5)))
struct RouterOSClientContractTests {
    private static let profiles = ["1hora", "1dia", "1diaX"]

    private func startRouter() throws -> SandboxProcess {
        try SandboxProcess(.router, arguments: Self.profiles.flatMap { ["--profile", $0] } + ["--server", "hotspot1"])
    }

    private func configuration(
        _ sandbox: SandboxProcess, tls: TLSTrust? = nil, url: String? = nil,
        timeouts: Timeouts = RouterOSClient.Configuration.defaultTimeouts,
        credentials: BasicAuth = BasicAuth(user: "api", password: "api-secret")
    ) -> RouterOSClient.Configuration {
        RouterOSClient.Configuration(
            routerID: "sandbox", baseURL: url ?? sandbox.url, credentials: credentials, tls: tls ?? sandbox.caTrust,
            timeouts: timeouts, hotspotServer: "hotspot1")
    }

    private func client(
        _ configuration: RouterOSClient.Configuration, limiter: RouterConcurrencyLimiter = RouterConcurrencyLimiter()
    ) -> RouterOSClient {
        RouterOSClient(configuration: configuration, transport: CurlTransport(), limiter: limiter)
    }

    private func users(_ sandbox: SandboxProcess) throws -> [[String: String]] {
        try #require(try sandbox.state()["users"] as? [[String: String]])
    }

    private func operations(_ sandbox: SandboxProcess) throws -> [String] {
        let calls = try #require(try sandbox.control(.get, "calls") as? [[String: Any]])
        return calls.compactMap { $0["op"] as? String }
    }

    private func addHost(
        _ sandbox: SandboxProcess, mac: String = "AA:BB:CC:DD:EE:FF", address: String = "10.5.50.23"
    )
        throws
    {
        try sandbox.control(.post, "hosts", json: ["mac-address": mac, "address": address])
    }

    // MARK: Every operation

    @Test func provisionEnableLoginAndDelete() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox))

        #expect(try router.findProfile(named: "1hora")?.name == "1hora")
        #expect(try router.findUser(named: "PAY-8F3K2Q") == nil)
        let created = try router.createUser(Sample.newUser(disabled: true))
        #expect(created.id.hasPrefix("*"))
        #expect(created.name == "PAY-8F3K2Q")
        #expect(created.profile == "1hora")
        #expect(created.disabled)
        #expect(try router.findUser(named: "PAY-8F3K2Q") == created)

        let stored = try #require(try users(sandbox).first)
        #expect(stored["disabled"] == "true")
        #expect(stored["comment"] == "order 42")
        #expect(stored["password"] == Sample.password)
        #expect(stored["limit-uptime"] == "1h")
        #expect(stored["limit-bytes-total"] == "1073741824")
        #expect(stored["server"] == "hotspot1")

        try router.setUserDisabled(id: created.id, disabled: false)
        #expect(try users(sandbox).first?["disabled"] == "false")
        #expect(try router.findUser(named: "PAY-8F3K2Q")?.disabled == false)

        try addHost(sandbox)
        try router.login(user: "PAY-8F3K2Q", password: Sample.password, address: Sample.address, mac: Sample.mac)
        #expect(
            try router.activeSessions(user: "PAY-8F3K2Q") == [
                ActiveSession(
                    id: "*1", user: "PAY-8F3K2Q", address: "10.5.50.23", macAddress: "AA:BB:CC:DD:EE:FF",
                    server: "hotspot1")
            ])
        #expect(try router.activeSessions(user: "someone-else").isEmpty)
        #expect(try router.findHost(mac: Sample.mac, address: nil)?.authorized == true)

        try router.deleteUser(id: created.id)
        #expect(try users(sandbox).isEmpty)
        try router.deleteUser(id: created.id)  // a 404 counts as deleted
        #expect(try operations(sandbox).suffix(2) == ["user.remove", "user.remove"])
    }

    @Test func theWholeRouterIsListedWithItsSessionsInOneCallEach() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox))
        let sold = try router.createUser(Sample.newUser(name: "PAY-8F3K2Q", disabled: false))
        let other = try router.createUser(Sample.newUser(name: "front-desk", disabled: true))
        try addHost(sandbox)
        try router.login(user: "PAY-8F3K2Q", password: Sample.password, address: Sample.address, mac: Sample.mac)

        let users = try router.listUsage()
        #expect(users.map(\.id) == [sold.id, other.id] && users.map(\.name) == ["PAY-8F3K2Q", "front-desk"])
        #expect(users.map(\.comment) == ["order 42", "order 42"] && users.map(\.disabled) == [false, true])
        #expect(users.allSatisfy { ($0.uptimeSeconds ?? 0) >= 0 && $0.limitBytesTotal == 1 << 30 && $0.limitUptimeSeconds == 3_600 })
        let sessions = try router.listActiveSessions()
        #expect(sessions.map(\.user) == ["PAY-8F3K2Q"] && sessions.first?.server == "hotspot1")
        #expect(try operations(sandbox).suffix(2) == ["user.print", "active.print"])
    }

    @Test func aRevokedUsersSessionIsEndedAndStaysEnded() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox))
        let created = try router.createUser(Sample.newUser(disabled: false))
        try addHost(sandbox)
        try router.login(user: "PAY-8F3K2Q", password: Sample.password, address: Sample.address, mac: Sample.mac)
        let session = try #require(try router.activeSessions(user: "PAY-8F3K2Q").first)
        // Disabling the user is not relied on to log its device out (the sandbox keeps it, as
        // RouterOS is assumed to): the session is ended by its own .id.
        try router.setUserDisabled(id: created.id, disabled: true)
        #expect(try router.activeSessions(user: "PAY-8F3K2Q") == [session])
        try router.removeSession(id: session.id)
        #expect(try router.activeSessions(user: "PAY-8F3K2Q").isEmpty)
        #expect(try router.findHost(mac: Sample.mac, address: nil)?.authorized == false)
        // Ended already: a second removal's 404 counts as ended.
        try router.removeSession(id: session.id)
        #expect(try operations(sandbox).suffix(4) == ["active.remove", "active.print", "host.print", "active.remove"])
        // A disabled user cannot log in again.
        #expect(
            failure { try router.login(user: "PAY-8F3K2Q", password: Sample.password, address: Sample.address, mac: Sample.mac) }?.name
                == "loginRejected")
    }

    @Test func createWithMACBindingAndWithoutLimits() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox))
        var user = Sample.newUser(mac: MACAddress("11-22-33-44-55-66"))
        user.limitUptime = nil
        user.limitBytesTotal = nil
        let created = try router.createUser(user)
        #expect(created.macAddress == "11:22:33:44:55:66")
        let stored = try #require(try users(sandbox).first)
        #expect(stored["mac-address"] == "11:22:33:44:55:66")
        #expect(stored["limit-uptime"] == nil)
    }

    @Test func profilesAndTheirPrefixGotcha() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox))
        #expect(try router.listProfiles().map(\.name) == ["default"] + Self.profiles)
        #expect(try router.findProfile(named: "1dia")?.name == "1dia")
        // Exact lookups do not match prefixes…
        #expect(try router.findProfile(named: "1h") == nil)
        // …but RouterOS silently resolves a unique prefix on create (docs/sources.md A4).
        #expect(try router.createUser(Sample.newUser(name: "PAY-A", profile: "1h")).profile == "1hora")
        #expect(try router.createUser(Sample.newUser(name: "PAY-B", profile: "1dia")).profile == "1dia")
        #expect(failure { try router.createUser(Sample.newUser(name: "PAY-C", profile: "1di")) } == .profileAmbiguous)
        #expect(failure { try router.createUser(Sample.newUser(name: "PAY-C", profile: "2horas")) } == .profileNotFound)
        #expect(try users(sandbox).map { $0["name"] } == ["PAY-A", "PAY-B"])
    }

    @Test func hostsByMACByAddressAndByBoth() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox))
        try addHost(sandbox)
        try addHost(sandbox, mac: "02:00:00:00:00:01", address: "10.5.50.24")
        let host = try #require(try router.findHost(mac: Sample.mac, address: nil))
        #expect(host.address == "10.5.50.23")
        #expect(host.server == "hotspot1")
        #expect(!host.authorized)
        #expect(try router.findHost(mac: nil, address: Sample.address) == host)
        #expect(try router.findHost(mac: Sample.mac, address: Sample.address) == host)
        #expect(try router.findHost(mac: Sample.mac, address: IPv4Address("10.5.50.24")) == nil)
        #expect(try router.findHost(mac: MACAddress("02:00:00:00:00:09"), address: nil) == nil)
    }

    @Test func controlCharactersInRepliesDecode() throws {
        let sandbox = try startRouter()
        try sandbox.control(
            .post, "users", json: ["name": "PAY-ESC", "server": "hotspot1", "comment": "caf\u{1B}[0m\nline \"2\""])
        let user = try client(configuration(sandbox)).findUser(named: "PAY-ESC")
        #expect(user?.comment == "caf\u{1B}[0m\nline \"2\"")
    }

    // MARK: Error mappings

    @Test func duplicateNamesPerServer() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox))
        _ = try router.createUser(Sample.newUser())
        #expect(failure { try router.createUser(Sample.newUser()) } == .duplicateName)
        #expect(failure { try router.createUser(Sample.newUser(server: "all")) } == .duplicateName)
        #expect(
            failure { try router.createUser(Sample.newUser(name: "PAY-2", server: "hotspot9")) }?.name == "rejected")
        #expect(try users(sandbox).count == 1)
    }

    @Test func missingIDs() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox))
        #expect(failure { try router.setUserDisabled(id: "*FF", disabled: false) } == .notFound)
        #expect(failure { try router.deleteUser(id: "*FF") } == nil)
    }

    @Test func loginRefusals() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox))
        let user = try router.createUser(Sample.newUser(disabled: true))
        try addHost(sandbox)
        func login(
            _ password: String = Sample.password, address: IPv4Address = Sample.address, mac: MACAddress? = nil
        )
            -> RouterFailure?
        {
            failure { try router.login(user: "PAY-8F3K2Q", password: password, address: address, mac: mac) }
        }

        #expect(login(address: IPv4Address("10.5.50.99")!) == .unknownHost)
        #expect(login()?.name == "loginRejected")  // disabled
        try router.setUserDisabled(id: user.id, disabled: false)
        #expect(login("wrong") == .loginRejected("invalid username or password"))
        #expect(login(mac: MACAddress("02:00:00:00:00:09")) == .loginRejected("wrong MAC provided"))
        #expect(try router.activeSessions(user: "PAY-8F3K2Q").isEmpty)
        #expect(login(mac: Sample.mac) == nil)
        #expect(login(mac: Sample.mac)?.name == "loginRejected")  // already logged in
        #expect(try router.activeSessions(user: "PAY-8F3K2Q").count == 1)
    }

    @Test func loginHonoursTheUsersMACBinding() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox))
        _ = try router.createUser(Sample.newUser(disabled: false, mac: MACAddress("11:22:33:44:55:66")))
        try addHost(sandbox)
        try addHost(sandbox, mac: "11:22:33:44:55:66", address: "10.5.50.30")
        #expect(
            failure {
                try router.login(user: "PAY-8F3K2Q", password: Sample.password, address: Sample.address, mac: nil)
            }?.name == "loginRejected")
        #expect(
            failure {
                try router.login(
                    user: "PAY-8F3K2Q", password: Sample.password, address: IPv4Address("10.5.50.30")!, mac: nil)
            } == nil)
    }

    @Test func wrongAPICredentials() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox, credentials: BasicAuth(user: "api", password: "not-it")))
        let thrown = failure { try router.findUser(named: "PAY-8F3K2Q") }
        #expect(thrown == .authenticationFailed)
        #expect(!"\(String(describing: thrown))".contains("not-it"))
    }

    // MARK: TLS and reachability

    @Test func trustsThePinnedKey() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox, tls: .pinnedPublicKey(try #require(sandbox.pin))))
        #expect(try router.listProfiles().count == 1 + Self.profiles.count)
    }

    @Test func refusesAMismatchedPinWithoutSendingAnything() throws {
        let sandbox = try startRouter()
        let wrongPin = "sha256//" + Data(repeating: 0, count: 32).base64EncodedString()
        let router = client(configuration(sandbox, tls: .pinnedPublicKey(wrongPin)))
        #expect(failure { try router.createUser(Sample.newUser()) }?.name == "unreachable")
        #expect(try operations(sandbox).isEmpty)
        #expect(try users(sandbox).isEmpty)
    }

    @Test func refusesAnUntrustedCertificate() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox, tls: .systemDefault))
        #expect(failure { try router.findUser(named: "PAY-8F3K2Q") }?.name == "unreachable")
        #expect(try operations(sandbox).isEmpty)
    }

    @Test func aClosedPortIsUnreachable() throws {
        let (url, pin) = try { () throws -> (String, String?) in
            let gone = try startRouter()
            return (gone.url, gone.pin)
        }()  // the sandbox is stopped here; nothing listens on its port any more
        let sandbox = try startRouter()
        let router = client(configuration(sandbox, tls: pin.map(TLSTrust.pinnedPublicKey), url: url))
        let clock = ContinuousClock()
        let start = clock.now
        #expect(failure { try router.createUser(Sample.newUser()) }?.name == "unreachable")
        #expect(clock.now - start < .seconds(3))
    }

    // MARK: Faults

    @Test func aHangingRouterIsCutOffByTheTotalTimeout() throws {
        let sandbox = try startRouter()
        try sandbox.arm(["op": "user.print", "kind": "hang", "ms": 20_000])
        try sandbox.arm(["op": "user.add", "kind": "hang", "ms": 20_000])
        let router = client(
            configuration(sandbox, timeouts: Timeouts(connectMilliseconds: 1_000, totalMilliseconds: 600)))
        let clock = ContinuousClock()

        var start = clock.now
        #expect(failure { try router.findUser(named: "PAY-8F3K2Q") } == .timedOut(maybeApplied: false))
        #expect(clock.now - start < .seconds(3))

        start = clock.now
        #expect(failure { try router.createUser(Sample.newUser()) } == .timedOut(maybeApplied: true))
        #expect(clock.now - start < .seconds(3))
        #expect(try users(sandbox).isEmpty)  // a hang applies nothing; the client cannot know that
    }

    @Test func appliedButTheReplyWasLost() throws {
        let sandbox = try startRouter()
        try sandbox.arm(["op": "user.add", "kind": "drop_after", "times": 1])
        let router = client(configuration(sandbox))
        #expect(failure { try router.createUser(Sample.newUser()) } == .timedOut(maybeApplied: true))
        // It was applied: a blind retry collides, a lookup finds it (docs/sources.md A4, the safe sequence).
        #expect(failure { try router.createUser(Sample.newUser()) } == .duplicateName)
        #expect(try router.findUser(named: "PAY-8F3K2Q")?.comment == "order 42")
    }

    @Test func droppedAndResetConnectionsOnMutations() throws {
        let sandbox = try startRouter()
        let user = try client(configuration(sandbox)).createUser(Sample.newUser())
        try sandbox.arm(["op": "user.remove", "kind": "drop", "times": 1])
        try sandbox.arm(["op": "user.set", "kind": "reset", "times": 1])
        // Each call on a client of its own, so on a fresh connection (see the next test for why).
        #expect(failure { try client(configuration(sandbox)).deleteUser(id: user.id) } == .timedOut(maybeApplied: true))
        #expect(
            failure { try client(configuration(sandbox)).setUserDisabled(id: user.id, disabled: false) }
                == .timedOut(maybeApplied: true))
        #expect(try users(sandbox).first?["disabled"] == "true")
        try client(configuration(sandbox)).deleteUser(id: user.id)
        #expect(try users(sandbox).isEmpty)
    }

    /// libcurl sends a request again when a reused keep-alive connection dies before any reply
    /// byte (https://curl.se/libcurl/c/CURLOPT_FRESH_CONNECT.html, docs/sources.md F4.2).
    /// A create may go on a kept-alive connection because the router refuses another copy by
    /// name: the caller learns `.duplicateName` and finds its own user (PaymentFlow), and the
    /// router holds one user.
    @Test func aCreateResentAfterALostReplyIsRefusedByName() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox))
        #expect(try router.findUser(named: "PAY-8F3K2Q") == nil)  // opens a keep-alive connection
        try sandbox.arm(["op": "user.add", "kind": "drop_after", "times": 1])
        #expect(failure { try router.createUser(Sample.newUser()) } == .duplicateName)
        #expect(try operations(sandbox) == ["user.print", "user.add", "user.add"])
        #expect(try users(sandbox).count == 1)
        #expect(try router.findUser(named: "PAY-8F3K2Q")?.comment == Sample.newUser().comment)
    }

    @Test func serverErrorsFromInBetween() throws {
        let sandbox = try startRouter()
        let router = client(configuration(sandbox))
        let user = try router.createUser(Sample.newUser())
        try sandbox.arm([
            "op": "user.set", "kind": "error", "status": 503, "body": "<html>busy</html>", "content_type": "text/html",
            "times": 1,
        ])
        try sandbox.arm(["op": "profile.print", "kind": "error", "status": 500, "times": 1])
        #expect(failure { try router.setUserDisabled(id: user.id, disabled: false) } == .timedOut(maybeApplied: true))
        #expect(failure { try router.listProfiles() }?.name == "rejected")
        #expect(try router.listProfiles().count == 4)
    }

    @Test func anHTMLPageInsteadOfJSONIsAnError() throws {
        let sandbox = try startRouter()
        try sandbox.arm([
            "op": "user.print", "kind": "error", "status": 200, "content_type": "text/html",
            "body": "<!DOCTYPE html><html><title>RouterOS router configuration page</title></html>",
        ])
        #expect(failure { try client(configuration(sandbox)).findUser(named: "PAY-8F3K2Q") }?.name == "rejected")
    }

    @Test func failingTheNthCallOnly() throws {
        let sandbox = try startRouter()
        try sandbox.arm(["op": "user.print", "kind": "error", "status": 500, "nth": 2])
        let router = client(configuration(sandbox))
        #expect(failure { try router.findUser(named: "PAY-8F3K2Q") } == nil)
        #expect(failure { try router.findUser(named: "PAY-8F3K2Q") }?.name == "rejected")
        #expect(failure { try router.findUser(named: "PAY-8F3K2Q") } == nil)
        #expect(try operations(sandbox) == ["user.print", "user.print", "user.print"])
    }

    @Test func latencyWithinTheTimeoutIsFine() throws {
        let sandbox = try startRouter()
        try sandbox.control(.post, "latency", json: ["ms": 300])
        let clock = ContinuousClock()
        let start = clock.now
        #expect(try client(configuration(sandbox)).listProfiles().count == 4)
        #expect(clock.now - start >= .milliseconds(300))
    }

    // MARK: Concurrency cap

    @Test func aStuckRouterMakesFurtherCallsBusy() throws {
        let sandbox = try startRouter()
        try sandbox.arm(["op": "user.print", "kind": "latency", "ms": 1_500, "times": 1])
        let limiter = RouterConcurrencyLimiter(maxConcurrentCallsPerRouter: 1, maxWait: .milliseconds(200))
        let settings = configuration(sandbox)
        let firstOutcome = Outcome()
        let firstDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let router = RouterOSClient(configuration: settings, transport: CurlTransport(), limiter: limiter)
            firstOutcome.set(failure { try router.findUser(named: "PAY-8F3K2Q") })
            firstDone.signal()
        }
        // Wait until the slow call holds the only permit and has reached the router.
        let deadline = Date().addingTimeInterval(10)
        while try operations(sandbox).isEmpty, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(limiter.callsInFlight(router: "sandbox") == 1)

        let clock = ContinuousClock()
        let start = clock.now
        #expect(failure { try client(settings, limiter: limiter).listProfiles() } == .busy)
        #expect(clock.now - start < .seconds(1))

        firstDone.wait()
        #expect(firstOutcome.value == nil)
        #expect(try operations(sandbox) == ["user.print"])  // the busy call never left
        #expect(try client(settings, limiter: limiter).listProfiles().count == 4)
    }
}

/// A result handed from a helper thread to the test.
private final class Outcome: Sendable {
    private let stored = Mutex<RouterFailure?>(nil)
    func set(_ value: RouterFailure?) { stored.withLock { $0 = value } }
    var value: RouterFailure? { stored.withLock { $0 } }
}
