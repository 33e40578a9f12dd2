import Domain
import Foundation
import HTTPTransport
import RouterOS
import TestSupport
import Testing

/// The reads of a router's check (CONTRACT §13) over real HTTPS against `sandbox/router.py`, and
/// how each way of failing reaches the Domain: which step of the connection, which refusal.
@Suite(.timeLimit(.minutes(5)))
struct RouterInspectionContractTests {
    private func startRouter() throws -> SandboxProcess {
        try SandboxProcess(.router, arguments: ["--profile", "1hora", "--profile", "1dia", "--server", "hotspot1"])
    }

    private func client(
        _ sandbox: SandboxProcess, url: String? = nil, tls: TLSTrust? = nil, password: String = "api-secret"
    ) -> any RouterInspection {
        RouterOSClient(
            configuration: RouterOSClient.Configuration(
                routerID: "sandbox", baseURL: url ?? sandbox.url, credentials: BasicAuth(user: "api", password: password),
                tls: tls ?? .pinnedPublicKey(sandbox.pin ?? ""), hotspotServer: "hotspot1"),
            transport: CurlTransport(), limiter: RouterConcurrencyLimiter())
    }

    private func probe<T>(_ body: () throws(RouterProbeFailure) -> T) -> RouterProbeFailure? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    @Test func readsWhatACheckNeeds() throws {
        let sandbox = try startRouter()
        let router = client(sandbox)
        let resource = try router.systemResource()
        #expect(resource.version == "7.16.2 (stable)" && resource.boardName == "hAP ac^2" && resource.uptime != nil)
        let group = try #require(try router.groupOfUser(named: "api"))
        #expect(group.group == "hotspot-pay")
        #expect(RouterPolicies(group.policy).missing == [] && RouterPolicies(group.policy).extra == [])
        #expect(try router.groupOfUser(named: "nobody") == nil)
        let services = try router.services()
        let secure = try #require(services.first { $0.name == "www-ssl" })
        #expect(!secure.disabled && secure.address == "127.0.0.1/32" && secure.port == String(sandbox.port))
        #expect(services.first { $0.name == "www" }?.disabled == true)
        #expect(try router.hotspotServers() == [HotspotServer(name: "hotspot1", interface: "bridge", profile: "hsprof1")])
        #expect(Set(try router.profileNames()) == ["default", "1hora", "1dia"])
        let clock = try router.clock()
        let unix = try #require(RouterClockReading.unixSeconds(clock))
        #expect(abs(unix - Int64(Date().timeIntervalSince1970)) <= 2)
        #expect(clock.gmtOffset == "-06:00" && clock.timeZoneName == "America/Mexico_City")

        // The clock before 7.10 prints mmm/DD/YYYY, and an offset set on the router shows.
        try sandbox.control(.post, "system", json: ["version": "7.9", "clock_offset_seconds": -3600])
        let old = try router.clock()
        #expect(old.date.contains("/"))
        #expect(abs(try #require(RouterClockReading.unixSeconds(old)) - Int64(Date().timeIntervalSince1970) + 3600) <= 2)
    }

    @Test func eachWayOfFailingSaysWhere() throws {
        let sandbox = try startRouter()
        #expect(
            probe { () throws(RouterProbeFailure) in try client(sandbox, url: "https://hotspot-pay-test.invalid").systemResource() }
                .isUnresolvable)
        #expect(probe { () throws(RouterProbeFailure) in try client(sandbox, password: "wrong").systemResource() } == .unauthorized)
        let pin = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        #expect(probe { () throws(RouterProbeFailure) in try client(sandbox, tls: .pinnedPublicKey(pin)).systemResource() }.isPinMismatch)
        // A CA file that is not the router's: its certificate does not verify.
        let other = try SandboxProcess(.router)
        #expect(probe { () throws(RouterProbeFailure) in try client(sandbox, tls: other.caTrust).systemResource() }.isTLSFailure)

        // Read without the read policy: RouterOS logs the user in and refuses the print.
        try sandbox.control(.post, "policies", json: ["policy": "write,api,rest-api"])
        #expect(
            probe { () throws(RouterProbeFailure) in try client(sandbox).systemResource() } == .notPermitted("std failure: not allowed (9)")
        )
        // Without rest-api, no REST login at all.
        try sandbox.control(.post, "policies", json: ["policy": "read,write,api"])
        #expect(probe { () throws(RouterProbeFailure) in try client(sandbox).systemResource() } == .unauthorized)
        try sandbox.reset()

        // RouterOS 6: WebFig's page, not REST.
        try sandbox.control(.post, "system", json: ["version": "6.49.17 (long-term)"])
        #expect(
            probe { () throws(RouterProbeFailure) in try client(sandbox).systemResource() } == .notREST(status: 404, mediaType: "text/html")
        )
        try sandbox.reset()

        // REST off: the port refuses connections.
        try sandbox.control(.post, "service", json: ["name": "www-ssl", "disabled": true])
        #expect(probe { () throws(RouterProbeFailure) in try client(sandbox).systemResource() }.isRefused)
        try sandbox.control(.post, "service", json: ["name": "www-ssl", "disabled": false])
        #expect(try client(sandbox).systemResource().version == "7.16.2 (stable)")
    }
}

extension Optional where Wrapped == RouterProbeFailure {
    var isUnresolvable: Bool { if case .unresolvable? = self { true } else { false } }
    var isPinMismatch: Bool { if case .pinMismatch? = self { true } else { false } }
    var isTLSFailure: Bool { if case .tlsFailed? = self { true } else { false } }
    var isRefused: Bool { if case .refused? = self { true } else { false } }
}
