import Domain
import Testing

/// Whether a sold user's access is over, one case per line: the attempt and the router's counters
/// → what the sweep does (CONTRACT §11).
@Suite struct AccessEndTests {
    static let now: Int64 = 1_700_000_000
    static let day: Int64 = 86_400

    func sold(
        _ state: PaymentAttempt.State = .delivered, uptime: String? = nil, bytes: Int64? = nil, validity: AccessValidity? = nil,
        deliveredAt: Int64? = now - 3_600, firstLoginAt: Int64? = nil, endedAt: Int64? = nil, endReason: AccessEndReason? = nil
    ) -> SoldAccess {
        SoldAccess(
            attemptID: "0b9e6a0e-6a55-4b8e-9d4c-1f0f3c2a7b11", routerID: 1, state: state, username: "K7RW4P", limitUptime: uptime,
            limitBytesTotal: bytes, validity: validity, deliveredAt: state == .delivered ? deliveredAt : nil, firstLoginAt: firstLoginAt,
            endedAt: endedAt, endReason: endReason)
    }

    func used(
        _ seconds: Int64? = 0, bytesIn: Int64? = 0, bytesOut: Int64? = 0, limitUptime: Int64? = nil, limitBytes: Int64? = nil
    ) -> HotspotUserUsage {
        HotspotUserUsage(
            id: "*1", name: "K7RW4P", comment: "hotspot-pay:0b9e6a0e-6a55-4b8e-9d4c-1f0f3c2a7b11", uptimeSeconds: seconds,
            bytesIn: bytesIn, bytesOut: bytesOut, limitUptimeSeconds: limitUptime, limitBytesTotal: limitBytes)
    }

    func decide(_ sold: SoldAccess, _ usage: HotspotUserUsage, session: Bool = false, sessionUptime: Int64? = nil) -> AccessEnd.Decision {
        AccessEnd.decide(attempt: sold, usage: usage, hasSession: session, sessionUptime: sessionUptime, now: Self.now)
    }

    let dayFromPurchase = AccessValidity(seconds: day, from: .purchase)
    let dayFromFirstLogin = AccessValidity(seconds: day, from: .firstLogin)

    @Test func aRevokedAccessEndsAndTheSagaKeepsTheRest() {
        #expect(decide(sold(.revoked), used()) == .end(.revoked))
        #expect(decide(sold(.revoked, uptime: "1h"), used(7_200)) == .end(.revoked))
        for state in [PaymentAttempt.State.pending, .charging, .paid, .declining, .aborting, .refunding, .revoking] {
            #expect(decide(sold(state, uptime: "1h"), used(7_200)) == .leaveToSaga, "\(state)")
        }
        #expect(decide(sold(.declined), used()) == .leaveToSaga)
        #expect(decide(sold(.refunded), used()) == .leaveToSaga)
    }

    @Test func uptimeUsedUpEndsIt() {
        // Ended at the first sight of its use: the first login is recorded with the end.
        #expect(decide(sold(uptime: "1h"), used(3_600)) == .end(.uptime, firstLoginAt: Self.now - 3_600))
        #expect(decide(sold(uptime: "1h", firstLoginAt: Self.now - 4_000), used(3_601)) == .end(.uptime))
        #expect(decide(sold(uptime: "1h", firstLoginAt: Self.now - 4_000), used(3_599)) == .keep)
        #expect(decide(sold(uptime: "1d2h", firstLoginAt: Self.now - 1), used(93_600)) == .end(.uptime))
        // The router's own limit wins (an operator extended it there); without one, the sale's.
        #expect(decide(sold(uptime: "1h", firstLoginAt: Self.now - 1), used(3_600, limitUptime: 7_200)) == .keep)
        #expect(decide(sold(firstLoginAt: Self.now - 1), used(3_600, limitUptime: 3_600)) == .end(.uptime))
        #expect(decide(sold(uptime: "0s", firstLoginAt: Self.now - 1), used(3_600)) == .keep)
        #expect(decide(sold(uptime: "not-an-interval", firstLoginAt: Self.now - 1), used(3_600)) == .keep)
    }

    @Test func bytesUsedUpInAndOutTogetherEndIt() {
        #expect(decide(sold(bytes: 1_000), used(10, bytesIn: 600, bytesOut: 400)) == .end(.bytes, firstLoginAt: Self.now - 10))
        #expect(decide(sold(bytes: 1_000, firstLoginAt: Self.now - 10), used(10, bytesIn: 999, bytesOut: 0)) == .keep)
        #expect(decide(sold(firstLoginAt: Self.now - 10), used(10, bytesIn: 5, bytesOut: 5, limitBytes: 10)) == .end(.bytes))
        // Unreadable counters never end an access.
        #expect(decide(sold(bytes: 1_000, firstLoginAt: Self.now - 10), used(10, bytesIn: nil, bytesOut: nil)) == .keep)
    }

    @Test func theUptimeLimitIsCheckedBeforeTheBytesAndBothBeforeTheValidity() {
        let everything = sold(uptime: "1h", bytes: 10, validity: dayFromPurchase, deliveredAt: Self.now - 2 * Self.day, firstLoginAt: 1)
        #expect(decide(everything, used(3_600, bytesIn: 10)) == .end(.uptime))
        #expect(decide(everything, used(60, bytesIn: 10)) == .end(.bytes))
        #expect(decide(everything, used(60, bytesIn: 1)) == .end(.validity))
    }

    @Test func aValidityFromPurchaseRunsFromTheDeliveryUsedOrNot() {
        #expect(decide(sold(validity: dayFromPurchase, deliveredAt: Self.now - Self.day), used()) == .end(.validity))
        #expect(decide(sold(validity: dayFromPurchase, deliveredAt: Self.now - Self.day + 1), used()) == .keep)
        #expect(decide(sold(validity: dayFromPurchase, deliveredAt: nil), used()) == .keep)
    }

    @Test func aValidityFromTheFirstLoginStartsWhenTheUserIsFirstSeenUsed() {
        // Never used: it has not started, however long ago the sale was.
        #expect(decide(sold(validity: dayFromFirstLogin, deliveredAt: Self.now - 30 * Self.day), used()) == .keep)
        // Seen used: the first login is recorded as now less its uptime (the latest it can have been).
        #expect(decide(sold(validity: dayFromFirstLogin), used(600)) == .firstLogin(Self.now - 600))
        #expect(decide(sold(validity: dayFromFirstLogin), used(0), session: true) == .firstLogin(Self.now))
        #expect(decide(sold(validity: dayFromFirstLogin), used(0), session: true, sessionUptime: 90) == .firstLogin(Self.now - 90))
        #expect(decide(sold(validity: dayFromFirstLogin), used(Self.day)) == .end(.validity, firstLoginAt: Self.now - Self.day))
        // Recorded: it counts from then, and is not recorded again.
        #expect(decide(sold(validity: dayFromFirstLogin, firstLoginAt: Self.now - Self.day), used(60)) == .end(.validity))
        #expect(decide(sold(validity: dayFromFirstLogin, firstLoginAt: Self.now - Self.day + 1), used(60)) == .keep)
    }

    @Test func aFirstLoginIsRecordedWithoutAValidityToo() {
        #expect(decide(sold(), used(60)) == .firstLogin(Self.now - 60))
        #expect(decide(sold(firstLoginAt: Self.now - 100), used(60)) == .keep)
        #expect(decide(sold(), used()) == .keep)
        // Bytes without uptime (a counter the router updated first) are use too.
        #expect(decide(sold(), used(0, bytesIn: 10)) == .firstLogin(Self.now))
    }

    @Test func anEndRecordedAlreadyRemovesTheUserAgain() {
        #expect(decide(sold(endedAt: Self.now - 60, endReason: .uptime), used()) == .end(.uptime))
        #expect(decide(sold(endedAt: Self.now - 60, endReason: nil), used()) == .end(.validity))
    }

    @Test func theOperatorSeesEachUsersState() {
        func state(_ sold: SoldAccess?, _ usage: HotspotUserUsage, session: Bool = false) -> AccessState {
            AccessEnd.state(attempt: sold, usage: usage, hasSession: session, now: Self.now).state
        }
        #expect(state(sold(), used()) == .unused)
        #expect(state(sold(), used(60)) == .active)
        #expect(state(sold(), used(0), session: true) == .active)
        #expect(state(sold(firstLoginAt: Self.now - 10), used()) == .active)
        #expect(state(sold(uptime: "1h"), used(3_600)) == .over)
        #expect(state(sold(.revoking), used()) == .revoked)
        #expect(state(sold(.revoked), used()) == .revoked)
        #expect(state(sold(.charging), used()) == .unfinished)
        #expect(state(nil, used()) == .unmatched)
        var copy = used()
        copy.name = "OTHER1"
        #expect(state(sold(), copy) == .unmatched)
        #expect(AccessEnd.state(attempt: sold(uptime: "1h"), usage: used(3_600), hasSession: false, now: Self.now).reason == .uptime)
    }

    @Test func onlyAnAttemptIDInTheProductsCommentMakesAUserOurs() {
        let id = "0b9e6a0e-6a55-4b8e-9d4c-1f0f3c2a7b11"
        #expect(PaymentAttempt.attemptID(inComment: "hotspot-pay:" + id) == id)
        #expect(PaymentAttempt.attemptID(inComment: "hotspot-pay:" + id.uppercased()) == nil)
        #expect(PaymentAttempt.attemptID(inComment: "hotspot-pay:" + id + " extra") == nil)
        #expect(PaymentAttempt.attemptID(inComment: "Hotspot-Pay:" + id) == nil)
        #expect(PaymentAttempt.attemptID(inComment: "hotspot-pay:") == nil)
        #expect(PaymentAttempt.attemptID(inComment: "hotspot-pay:a1") == nil)
        #expect(PaymentAttempt.attemptID(inComment: "") == nil)
        #expect(PaymentAttempt.attemptID(inComment: "vip customer") == nil)
    }

    @Test func aValidityEndsItsLengthAfterItsStart() {
        #expect(dayFromPurchase.endsAt(deliveredAt: 100, firstLoginAt: nil) == 100 + Self.day)
        #expect(dayFromPurchase.endsAt(deliveredAt: nil, firstLoginAt: 100) == nil)
        #expect(dayFromFirstLogin.endsAt(deliveredAt: 100, firstLoginAt: 500) == 500 + Self.day)
        #expect(dayFromFirstLogin.endsAt(deliveredAt: 100, firstLoginAt: nil) == nil)
        #expect(AccessValidity(seconds: .max, from: .purchase).endsAt(deliveredAt: 1, firstLoginAt: nil) == .max)
        #expect(AccessValidity(seconds: 691_200, from: .purchase).text == "1w1d")
    }
}
