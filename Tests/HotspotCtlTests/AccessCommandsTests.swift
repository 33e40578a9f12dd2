import ArgumentParser
import Domain
import JSON
import Testing

@testable import HotspotCtl
@testable import Persistence

/// What the operator types and reads about the end of accesses (CONTRACT §11): a product's
/// validity, `users list` and `users end`, and the access line of `payments show`.
@Suite struct AccessCommandsTests {
    static func text(_ value: JSONValue) -> String { String(decoding: value.serialized(), as: UTF8.self) }

    @Test func aValidityIsARouterOSIntervalFromTheFirstLoginUnlessSaidOtherwise() throws {
        #expect(try ProductCommand.validity("1d", from: nil) == AccessValidity(seconds: 86_400, from: .firstLogin))
        #expect(try ProductCommand.validity("12h", from: .purchase) == AccessValidity(seconds: 43_200, from: .purchase))
        #expect(try ProductCommand.validity("1w2d", from: .firstLogin) == AccessValidity(seconds: 777_600, from: .firstLogin))
        #expect(try ProductCommand.validity("none", from: nil) == nil)
        for (text, start) in [("0s", nil), ("1 day", nil), ("-1h", nil), ("", nil), ("none", ProductCommand.ValidityStart.purchase)] {
            #expect(throws: ValidationError.self, "\(text)") { try ProductCommand.validity(text, from: start) }
        }
    }

    @Test func theOptionsParseAsTheREADMEWillShowThem() throws {
        let add = try #require(
            try HotspotCtl.parseAsRoot([
                "product", "add", "--company", "1", "--router", "1", "--name", "1 Día", "--price", "49.90", "--profile", "1dia",
                "--validity", "1d", "--validity-from", "purchase",
            ]) as? ProductCommand.Add)
        #expect(add.validity == "1d" && add.validityFrom == .purchase)
        #expect(throws: (any Error).self) {
            try HotspotCtl.parseAsRoot([
                "product", "add", "--company", "1", "--router", "1", "--name", "Plan", "--price", "1", "--profile", "p",
                "--validity-from", "purchase",
            ])
        }
        let set = try #require(try HotspotCtl.parseAsRoot(["product", "set", "3", "--validity", "none"]) as? ProductCommand.Change)
        #expect(set.id == 3 && set.validity == "none")
        #expect(throws: (any Error).self) { try HotspotCtl.parseAsRoot(["product", "set", "3"]) }
        #expect(throws: (any Error).self) { try HotspotCtl.parseAsRoot(["product", "set", "3", "--validity-from", "tomorrow"]) }
        #expect(throws: (any Error).self) { try HotspotCtl.parseAsRoot(["product", "set", "3", "--bytes", "0"]) }

        let list = try #require(try HotspotCtl.parseAsRoot(["users", "list", "--router", "1", "--state", "over"]) as? UsersCommand.List)
        #expect(list.router == 1 && list.state == "over")
        #expect(throws: (any Error).self) { try HotspotCtl.parseAsRoot(["users", "list", "--router", "1", "--state", "expired"]) }
        #expect(throws: (any Error).self) { try HotspotCtl.parseAsRoot(["users", "list"]) }
        let end = try #require(try HotspotCtl.parseAsRoot(["users", "end", "K7RW4P", "--router", "2"]) as? UsersCommand.End)
        #expect(end.user == "K7RW4P" && end.router == 2)
    }

    @Test func theProductListShowsLimitsAndValidity() {
        let product = Product(
            id: 3, companyID: 1, routerID: 1, name: "1 Día", price: Money(cents: 4990, currency: "MXN"), profileName: "1dia",
            limitUptime: "1d", limitBytesTotal: 1_000_000, validity: AccessValidity(seconds: 172_800, from: .purchase))
        #expect(
            ProductCommand.line(product)
                == "3\trouter 1\tactive\t49.90 MXN\t1dia\tuptime 1d bytes 1000000\tvalidity 2d from purchase\t1 Día")
        let plain = Product(id: 4, companyID: 1, routerID: 1, name: "Hora", price: Money(cents: 1500, currency: "MXN"), profileName: "1h")
        #expect(ProductCommand.line(plain) == "4\trouter 1\tactive\t15.00 MXN\t1h\t-\tvalidity -\tHora")
        #expect(
            Self.text(ProductCommand.json(product)).contains(
                #""bytes":1000000,"validity":"2d","validity_seconds":172800,"validity_from":"purchase""#))
        #expect(Self.text(ProductCommand.json(plain)).contains(#""validity":null,"validity_seconds":null,"validity_from":null"#))
    }

    static let over = AccessSweeper.SoldUser(
        usage: HotspotUserUsage(
            id: "*1A", name: "K7RW4P", comment: "hotspot-pay:c5a0cbf7-82e7-4975-92c0-60d6cffd419d", uptimeSeconds: 3_600,
            bytesIn: 1_000, bytesOut: 24, limitUptimeSeconds: 3_600),
        attemptID: "c5a0cbf7-82e7-4975-92c0-60d6cffd419d",
        access: SoldAccess(
            attemptID: "c5a0cbf7-82e7-4975-92c0-60d6cffd419d", routerID: 1, state: .delivered, username: "K7RW4P", productID: 1,
            productName: "1 Hora de Internet", limitUptime: "1h", validity: AccessValidity(seconds: 86_400, from: .firstLogin),
            deliveredAt: 1_764_085_324, firstLoginAt: 1_764_085_400),
        state: .over, reason: .uptime, sessions: 0, firstLoginAt: 1_764_085_400, endsAt: 1_764_171_800)
    static let unmatched = AccessSweeper.SoldUser(
        usage: HotspotUserUsage(id: "*2B", name: "M3PQ8T", comment: "hotspot-pay:0b9e6a0e-6a55-4b8e-9d4c-1f0f3c2a7b11"),
        attemptID: "0b9e6a0e-6a55-4b8e-9d4c-1f0f3c2a7b11", access: nil, state: .unmatched)

    @Test func usersListIsATableWithACountByState() {
        #expect(
            UsersCommand.table([Self.over, Self.unmatched], router: 1, state: nil) == """
                user    attempt                               product  state      uptime  bytes  first login           ends at               reason
                K7RW4P  c5a0cbf7-82e7-4975-92c0-60d6cffd419d  1        over       1h      1024   2025-11-25T15:43:20Z  2025-11-26T15:43:20Z  uptime
                M3PQ8T  0b9e6a0e-6a55-4b8e-9d4c-1f0f3c2a7b11  -        unmatched  0s      0      -                     -                     -
                2 user(s): 1 over, 1 unmatched
                """)
        #expect(UsersCommand.table([], router: 4, state: .over) == "no hotspot-pay users in state over on router 4")
        #expect(UsersCommand.table([], router: 4, state: nil) == "no hotspot-pay users on router 4")
    }

    @Test func usersListJSONHasEveryFieldNamed() {
        let json = Self.text(UsersCommand.json(Self.over))
        #expect(
            json
                == #"{"user":"K7RW4P","router_user_id":"*1A","attempt_id":"c5a0cbf7-82e7-4975-92c0-60d6cffd419d","state":"over","reason":"uptime","attempt_state":"delivered","product_id":1,"product_name":"1 Hora de Internet","disabled":false,"uptime_seconds":3600,"bytes_in":1000,"bytes_out":24,"limit_uptime_seconds":3600,"limit_bytes_total":null,"sessions":0,"first_login_at":"2025-11-25T15:43:20Z","ends_at":"2025-11-26T15:43:20Z","validity":"1d from first login","access_ended_at":null}"#
        )
        #expect(Self.text(UsersCommand.json(Self.unmatched)).contains(#""state":"unmatched","reason":null,"attempt_state":null"#))
    }

    func summary(
        validity: AccessValidity? = nil, firstLogin: String? = nil, ended: String? = nil, reason: AccessEndReason? = nil
    ) -> PostgresStore.AttemptSummary {
        let attempt = PaymentAttempt(
            id: "c5a0cbf7-82e7-4975-92c0-60d6cffd419d", companyID: 1, routerID: 1, productID: 1, apiKeyID: nil, idempotencyKey: "k",
            requestHash: "h", state: .delivered, amount: Money(cents: 1500, currency: "MXN"), productName: "1 Hora de Internet",
            profileName: "1hora", limitUptime: "1h", limitBytesTotal: nil, customerName: "Ana", customerEmail: "ana@example.com",
            customerPhone: nil, userType: .userAndPassword, credentials: HotspotCredentials(username: "K7RW4P", password: "1234"),
            mac: nil, ip: nil, autoConnect: false, createdAt: 0, validity: validity, accessEndReason: reason)
        return PostgresStore.AttemptSummary(
            attempt: attempt, createdAt: "2026-11-25T15:42:04Z", finishedAt: "2026-11-25T15:42:04Z", responseCodigo: "pagado",
            nextRetryAt: nil, firstLoginAt: firstLogin, accessEndedAt: ended)
    }

    @Test func paymentsShowHasAnAccessLineOnlyWhenThereIsSomethingToSay() {
        #expect(PaymentsCommand.accessLine(summary()) == nil)
        #expect(!PaymentsCommand.text(summary(), []).contains("access"))
        let day = AccessValidity(seconds: 86_400, from: .firstLogin)
        #expect(PaymentsCommand.accessLine(summary(validity: day)) == "access   validity 1d from first login, not used yet")
        #expect(
            PaymentsCommand.accessLine(summary(validity: day, firstLogin: "2026-11-25T16:00:00Z"))
                == "access   validity 1d from first login, first login 2026-11-25T16:00:00Z")
        #expect(
            PaymentsCommand.accessLine(summary(firstLogin: "2026-11-25T16:00:00Z", ended: "2026-11-25T17:00:00Z", reason: .uptime))
                == "access   first login 2026-11-25T16:00:00Z, access ended 2026-11-25T17:00:00Z (uptime)")
        let text = PaymentsCommand.text(summary(firstLogin: "2026-11-25T16:00:00Z", ended: "2026-11-25T17:00:00Z", reason: .uptime), [])
        #expect(text.contains("created  2026-11-25T15:42:04Z, finished 2026-11-25T15:42:04Z\naccess   first login"))
        let json = Self.text(PaymentsCommand.json(summary(validity: day, ended: "2026-11-25T17:00:00Z", reason: .byOperator)))
        #expect(
            json.contains(
                #""validity":"1d from first login","first_login_at":null,"access_ended_at":"2026-11-25T17:00:00Z","access_end_reason":"operator","#
            ))
    }
}
