import Domain
import Testing

/// The claim code a pay-later customer redeems (CONTRACT §12): easy to read aloud and type,
/// forgiving when typed, 50 bits from the CSPRNG it is given.
@Suite struct ClaimCodeTests {
    /// Counts the generator's draws, for a deterministic source in tests.
    struct Counting: RandomNumberGenerator {
        var state: UInt64 = 0
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            return state ^ (state >> 29)
        }
    }

    @Test func aGeneratedCodeIsTenSymbolsWithoutLookAlikesShownInTwoGroups() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let code = ClaimCode.generate(using: &random)
            #expect(code.symbols.count == 10)
            #expect(code.symbols.allSatisfy { ClaimCode.alphabet.contains($0) })
            #expect(!code.symbols.contains { "ILOU".contains($0) })
            #expect(code.display.count == 11 && code.display.dropFirst(5).first == "-")
            #expect(ClaimCode(typed: code.display) == code)
        }
        #expect(ClaimCode.alphabet.count == 32)  // 10 symbols × 5 bits = 50 bits
    }

    @Test func theSameSourceGivesTheSameCodesAndDifferentDrawsDiffer() {
        var first = Counting()
        var second = Counting()
        let a = (0..<5).map { _ in ClaimCode.generate(using: &first) }
        let b = (0..<5).map { _ in ClaimCode.generate(using: &second) }
        #expect(a == b)
        #expect(Set(a.map(\.symbols)).count == 5)
    }

    @Test(arguments: [
        ("ab3k7-qx9zt", "AB3K7QX9ZT"), ("AB3K7QX9ZT", "AB3K7QX9ZT"), ("ab3k7 qx9zt", "AB3K7QX9ZT"),
        (" AB3K7 - QX9ZT ", "AB3K7QX9ZT"), ("O0OO0-IL1il", "00000-11111"), ("oa3k7-qx9zl", "0A3K7QX9Z1"),
    ])
    func typedInputIsNormalised(typed: String, symbols: String) throws {
        let code = try #require(ClaimCode(typed: typed))
        #expect(code.symbols == symbols.filter { $0 != "-" })
    }

    @Test(arguments: [
        "", "AB3K7-QX9Z", "AB3K7-QX9ZTT", "AB3K7-QX9ZU", "AB3K7_QX9ZT", "ÁB3K7-QX9ZT", "AB3K7-QX9Z!", String(repeating: "A", count: 500),
    ])
    func anythingElseIsNoCode(typed: String) {
        #expect(ClaimCode(typed: typed) == nil)
    }

    @Test func itNeverShowsInADescription() {
        var random = Counting()
        let code = ClaimCode.generate(using: &random)
        #expect("\(code)" == "ClaimCode(<redacted>)")
        #expect(!"\(code)".contains(code.symbols))
    }

    @Test func aCompanysOfferKeepsOnlyPayLaterMethods() {
        #expect(PayLaterSettings(methods: [.card, .oxxo]).methods == [.oxxo])
        #expect(PayLaterSettings.off.methods.isEmpty && PayLaterSettings.off.expirySeconds == 14_400)
        #expect(PayLaterSettings.allowedExpirySeconds == 900...259_200)
    }

    @Test func instructionsAreUsableOnlyWithWhatTheMethodPaysWith() {
        #expect(PaymentInstructions(reference: "9300").isUsable(for: .oxxo))
        #expect(!PaymentInstructions(reference: "9300").isUsable(for: .spei))
        #expect(PaymentInstructions(clabe: "646180111805034237", bank: "STP").isUsable(for: .spei))
        #expect(!PaymentInstructions(reference: "").isUsable(for: .oxxo))
    }
}
