import Domain
import Testing

@testable import HotspotCtl

/// `company set --pay-later … --pay-later-expiry …`: what an operator may type.
@Suite struct PayLaterOptionsTests {
    static let methodCases: [(String, [PaymentMethod])] = [
        ("oxxo,spei", [.oxxo, .spei]), ("spei", [.spei]), ("OXXO", [.oxxo]), ("cash, spei", [.oxxo, .spei]), ("none", []),
        ("off", []),
    ]

    @Test(arguments: methodCases)
    func methods(text: String, expected: [PaymentMethod]) throws {
        #expect(try CompanyCommand.methods(text) == Set(expected))
    }

    @Test(arguments: ["card", "oxxo,bitcoin", "", ",", "none,oxxo"])
    func otherMethodsAreRefused(text: String) {
        #expect(throws: (any Error).self) { try CompanyCommand.methods(text) }
    }

    @Test(arguments: [("4h", 14_400), ("90m", 5_400), ("1h30m", 5_400), ("900", 900), ("72h", 259_200), ("3d", 259_200), ("15m", 900)])
    func expiries(text: String, seconds: Int) throws {
        #expect(try CompanyCommand.expirySeconds(text) == seconds)
    }

    @Test(arguments: ["14m", "73h", "4 days", "4x", "h", "-1h", "99999999999999999999h"])
    func expiriesOutsideHoursAreRefused(text: String) {
        #expect(throws: (any Error).self) { try CompanyCommand.expirySeconds(text) }
    }

    @Test func theOfferReadsAsTheOperatorTypedIt() {
        #expect(CompanyCommand.text(PayLaterSettings(methods: [.spei, .oxxo], expirySeconds: 5_400)) == "oxxo,spei (expiry 1h30m)")
        #expect(CompanyCommand.text(.off) == "off (expiry 4h)")
    }
}
