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
}
