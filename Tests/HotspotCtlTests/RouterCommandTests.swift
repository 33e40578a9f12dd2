import Domain
import Foundation
import Testing

@testable import HotspotCtl

/// How `hotspotctl` words a router's checks, renders the login page for setup-script, and shows
/// a stored check in `router list`.
@Suite struct RouterCommandTests {
    let router = RouterEndpoint(
        routerID: 4, baseURL: "https://10.0.0.1", user: "hotspot-pay", password: "x", trust: .pinnedPublicKey("sha256//pin"),
        hotspotServer: "hotspot1")

    func line(_ check: RouterCheck, _ status: RouterCheckStatus, _ finding: RouterFinding) -> RouterCheckWording.Line {
        RouterCheckWording.line(RouterCheckResult(check: check, status: status, finding: finding), router: router)
    }

    @Test func everyFailureSaysWhatToDo() {
        let failures: [(RouterCheck, RouterFinding)] = [
            (.address, .unresolvable(host: "r.example", detail: "x")), (.address, .refused(host: "10.0.0.1", port: 443)),
            (.address, .connectTimedOut(host: "10.0.0.1", port: 443)), (.address, .noAnswer(host: "10.0.0.1", port: 443, detail: "x")),
            (.tls, .pinMismatch(pin: "sha256//pin")), (.tls, .certificateRejected(caFile: "/ca.pem", detail: "x")),
            (.tls, .handshakeFailed(detail: "x")), (.credentials, .credentialsRefused(user: "hotspot-pay")),
            (.version, .versionTooOld("7.0.5")), (.version, .noREST(status: 404, mediaType: "text/html")),
            (.policies, .policies(group: "g", RouterPolicies("read,api,rest-api,!write"))), (.policies, .notPermitted(detail: "x")),
            (.hotspotServer, .hotspotServerMissing(name: "hotspot1", available: ["lobby"])),
            (.hotspotServer, .hotspotServerDisabled(name: "hotspot1")), (.hotspotServer, .noHotspotServer),
            (
                .profiles,
                .profilesMissing(
                    [RouterFinding.ProfileMiss(productID: 2, productName: "1 Día", profile: "1dia")], routerProfiles: ["1hora"])
            ),
        ]
        for (check, finding) in failures {
            let words = line(check, .fail, finding)
            #expect(words.fix?.isEmpty == false, "\(finding.code) has no fix")
            #expect(!words.message.isEmpty)
        }
    }

    @Test func aRouterOS6IsToldToUpgradeAndWhatThatMeans() {
        let words = line(.version, .fail, .noREST(status: 404, mediaType: "text/html"))
        #expect(words.message.contains("RouterOS 6"))
        #expect(words.fix?.contains("upgrade to RouterOS 7") == true)
        #expect(words.fix?.contains("/system package update set channel=upgrade") == true)
        #expect(words.fix?.contains("backup") == true)
    }

    @Test func theTrustNamesThePinOrTheCAFile() {
        #expect(line(.tls, .ok, .trusted(.pinnedPublicKey("sha256//pin"))).message.contains("sha256//pin"))
        #expect(line(.tls, .ok, .trusted(.caFile("/etc/ca.pem"))).message.contains("/etc/ca.pem"))
        #expect(line(.tls, .fail, .pinMismatch(pin: "sha256//pin")).fix?.contains("router set 4 --pin") == true)
    }

    @Test func policiesNameWhatIsMissingAndWhatIsTooMuch() {
        let missing = line(.policies, .fail, .policies(group: "api users", RouterPolicies("read,api,!write,!rest-api")))
        #expect(missing.message == "group api users lacks write, rest-api (it grants read,api)")
        #expect(missing.fix == "/user group set \"api users\" policy=read,write,api,rest-api")
        let extra = line(.policies, .warn, .policies(group: "full", RouterPolicies("read,write,policy,api,rest-api,sensitive")))
        #expect(extra.message == "group full also grants policy, sensitive: more than hotspot-pay needs")
    }

    @Test func theClockSaysHowFarAndHowToSetNTP() {
        let reading = RouterClock(date: "jan/02/1970", time: "00:05:00", gmtOffset: "+00:00")
        let words = line(.clock, .warn, .clock(skewSeconds: -1_700_000_000, reading))
        #expect(words.message.hasPrefix("the router's clock is 19675 days behind ours"))
        #expect(words.fix?.contains("/system ntp client set enabled=yes") == true)
        #expect(line(.clock, .ok, .clock(skewSeconds: 2, reading)).message.hasPrefix("2 s ahead of ours"))
    }

    @Test func theLinesOfACheckEndWithItsOutcome() {
        let health = RouterHealth(
            routerID: 4, checkedAt: 0,
            results: [
                RouterCheckResult(check: .address, status: .ok, finding: .reached(host: "10.0.0.1", port: 443)),
                RouterCheckResult(check: .tls, status: .fail, finding: .pinMismatch(pin: "sha256//pin")),
                RouterCheckResult(check: .credentials, status: .skip, finding: .notChecked(after: .tls)),
            ])
        let lines = RouterCommand.lines(health, endpoint: router)
        #expect(lines.first == "router 4 at https://10.0.0.1 (user hotspot-pay)")
        #expect(lines[1] == "ok   address         10.0.0.1:443 accepts connections")
        #expect(lines[2].hasPrefix("FAIL tls             the router's key is not the pinned sha256//pin"))
        #expect(lines[2].contains(" — fix: "))
        #expect(lines[3] == "skip credentials     not checked: tls failed")
        #expect(lines.last == "router 4 is not ready: tls failed")
    }

    @Test func routerListSummarisesTheLastCheck() {
        #expect(RouterCommand.summary(nil) == "unchecked")
        let record = RouterHealthRecord(
            routerID: 4, checkedAt: 0,
            checks: [.init(check: .address, status: .ok, code: "reached"), .init(check: .clock, status: .warn, code: "skew")])
        #expect(RouterCommand.summary(record) == "warn (clock)")
        let failed = RouterHealthRecord(
            routerID: 4, checkedAt: 0,
            checks: [.init(check: .credentials, status: .fail, code: "x"), .init(check: .version, status: .skip, code: "y")])
        #expect(RouterCommand.summary(failed) == "FAIL (credentials)")
    }

    @Test func theLoginPageGetsThePaymentPageAndTheKeyAndNothingElse() throws {
        let template = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("deploy/portal/mikrotik/login.html"), encoding: .utf8)
        let page = try LoginPage.render(template, paymentPage: "https://pay.example.com/portal/", apiKey: "jwt_a.b.c")
        #expect(page.contains(#"var PAYMENT_PAGE = "https://pay.example.com/portal/";"#))
        #expect(page.contains(#"var API_KEY = "jwt_a.b.c";"#))
        #expect(page.count == template.count + ("jwt_a.b.c".count - "jwt_REPLACE_WITH_THIS_ROUTERS_KEY".count))
        let placeholder = try LoginPage.render(template, paymentPage: "https://pay.example.com/portal/", apiKey: nil)
        #expect(placeholder.contains("jwt_REPLACE_WITH_THIS_ROUTERS_KEY"))
        // A value cannot close the string or the script.
        let hostile = try LoginPage.render(template, paymentPage: #"https://x/"</script>"#, apiKey: nil)
        #expect(hostile.contains(#"var PAYMENT_PAGE = "https://x/\"\u003c/script>";"#))
        #expect(throws: LoginPage.Mismatch.self) { try LoginPage.render("<html></html>", paymentPage: "https://x/", apiKey: nil) }
    }

    @Test func setupScriptReadsTheHubsEndpointAndTheServersAddress() {
        #expect(RouterCommand.SetupScript.endpoint("hub.example.net:51820")! == ("hub.example.net", 51820))
        #expect(RouterCommand.SetupScript.endpoint("hub.example.net") == nil)
        #expect(RouterCommand.SetupScript.endpoint(":51820") == nil)
        #expect(RouterCommand.SetupScript.endpoint("hub:70000") == nil)
        #expect(RouterCommand.SetupScript.isAddressOrNetwork("203.0.113.10"))
        #expect(RouterCommand.SetupScript.isAddressOrNetwork("203.0.113.0/28"))
        #expect(!RouterCommand.SetupScript.isAddressOrNetwork("203.0.113.0/33"))
        #expect(!RouterCommand.SetupScript.isAddressOrNetwork("pay.example.com"))
    }
}
