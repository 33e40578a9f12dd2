import Domain
import Testing

@Suite struct MACAddressTests {
    @Test(arguments: [
        ("aa:bb:cc:dd:ee:ff", "AA:BB:CC:DD:EE:FF"),
        ("AA-BB-CC-DD-EE-FF", "AA:BB:CC:DD:EE:FF"),
        ("01:23:45:67:89:aB", "01:23:45:67:89:AB"),
    ])
    func normalises(input: String, expected: String) {
        #expect(MACAddress(input)?.value == expected)
    }

    @Test(arguments: [
        "", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:fg", "aa-bb:cc:dd:ee:ff", "aabb.ccdd.eeff", "aa:bb:cc:dd:ee:ff:00",
        "aa:bb:cc:dd:ee:f;", " aa:bb:cc:dd:ee:ff",
    ])
    func rejects(input: String) {
        #expect(MACAddress(input) == nil)
    }
}

@Suite struct IPv4AddressTests {
    @Test(arguments: ["192.168.88.150", "10.0.0.1", "0.0.0.0", "255.255.255.255"])
    func accepts(input: String) {
        #expect(IPv4Address(input)?.value == input)
    }

    @Test(arguments: ["", "192.168.1", "192.168.1.256", "192.168.01.1", "1.2.3.4.5", "::1", "1.2.3.-4", "a.b.c.d", "1.2.3.4 "])
    func rejects(input: String) {
        #expect(IPv4Address(input) == nil)
    }
}

@Suite struct MoneyTests {
    @Test(arguments: [("15", Int64(1500)), ("15.5", 1550), ("15.50", 1550), ("0.99", 99), ("19.99", 1999), ("1000000", 100_000_000)])
    func parsesCents(text: String, cents: Int64) {
        #expect(Money.parseCents(text) == cents)
    }

    @Test(arguments: ["", "15.", ".5", "15.505", "-1", "1e3", "1,5", "15.5x", "+1"])
    func rejects(text: String) {
        #expect(Money.parseCents(text) == nil)
    }

    @Test func formatsTwoDecimals() {
        #expect(Money.decimalText(cents: 1500) == "15.00")
        #expect(Money.decimalText(cents: 4990) == "49.90")
        #expect(Money.decimalText(cents: 5) == "0.05")
        #expect(Money.decimalText(cents: -1505) == "-15.05")
    }
}

@Suite struct RouterOSIntervalTests {
    @Test(arguments: ["1h", "30m", "1d2h", "1w", "90s", "01:00:00"])
    func accepts(text: String) { #expect(RouterOSInterval.isValid(text)) }

    @Test(arguments: ["", "h", "1", "1x", "1h2", "1:00", "1h 2m"])
    func rejects(text: String) { #expect(!RouterOSInterval.isValid(text)) }

    /// What RouterOS prints as a user's or a session's `uptime`, and what products store.
    @Test(arguments: [
        ("0s", Int64(0)), ("5s", 5), ("1m", 60), ("1h", 3_600), ("1d", 86_400), ("1w", 604_800),
        ("1w2d3h4m5s", 788_645), ("2d3h", 183_600), ("90s", 90), ("1h30m", 5_400), ("1s500ms", 1), ("999ms", 0),
        ("1m2s300ms400us", 62), ("00:05:00", 300), ("01:00:00", 3_600), ("00:00:00.200", 0), ("1d02:03:04", 93_784),
        ("100:00:00", 360_000),
    ])
    func readsSeconds(text: String, seconds: Int64) {
        #expect(RouterOSInterval.seconds(text) == seconds)
    }

    @Test(arguments: [
        "", "h", "1", "1x", "1h2", "1:00", "1h 2m", "-1h", "1.5h", "00:60:00", "00:00:60", "1:2:3:4", "00:05:00.", "1hh",
        "99999999999999999999s", "99999999999999w", ":00:00",
    ])
    func readsNoSecondsFromWhatIsNotAnInterval(text: String) {
        #expect(RouterOSInterval.seconds(text) == nil)
    }

    @Test func writesTheCompactForm() {
        #expect(RouterOSInterval.text(seconds: 0) == "0s")
        #expect(RouterOSInterval.text(seconds: 86_400) == "1d")
        #expect(RouterOSInterval.text(seconds: 788_645) == "1w2d3h4m5s")
        #expect(RouterOSInterval.text(seconds: 3_660) == "1h1m")
        #expect(RouterOSInterval.seconds(RouterOSInterval.text(seconds: 1_234_567)) == 1_234_567)
    }
}
