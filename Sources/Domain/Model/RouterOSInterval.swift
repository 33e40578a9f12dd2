/// RouterOS time intervals: `30m`, `1h`, `1d2h`, `1w`, `0s` (v7's compact form), or `hh:mm:ss`
/// (docs/sources.md A2). Products store them as limits; the router prints usage (`uptime`) in them.
public enum RouterOSInterval {
    /// Whether `text` is a limit a product may carry: compact units, or a clock `hh:mm:ss`.
    public static func isValid(_ text: String) -> Bool {
        guard !text.isEmpty, text.count <= 32 else { return false }
        let clock = text.split(separator: ":", omittingEmptySubsequences: false)
        if clock.count == 3 {
            return clock.allSatisfy { (1...3).contains($0.count) && $0.allSatisfy { $0.isASCII && $0.isNumber } }
        }
        var digits = ""
        var sawUnit = false
        for character in text {
            if character.isASCII, character.isNumber {
                digits.append(character)
            } else if "wdhms".contains(character), !digits.isEmpty {
                digits = ""
                sawUnit = true
            } else {
                return false
            }
        }
        return sawUnit && digits.isEmpty
    }

    /// The whole seconds an interval spans (fractions dropped), or nil when `text` is not one.
    ///
    /// Reads what RouterOS prints as well as what products store: compact units `w d h m s` and
    /// the sub-second `ms us ns` (`1w2d3h4m5s`, `0s`, `1s500ms`), a clock `hh:mm:ss` with an
    /// optional fraction (`00:05:00`, `00:00:00.200`), and units followed by a clock (`1d02:03:04`).
    public static func seconds(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 64 else { return nil }
        // A clock part starts at the digits before the first colon.
        var clockStart = bytes.count
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
            clockStart = colon
            while clockStart > 0, isDigit(bytes[clockStart - 1]) { clockStart -= 1 }
        }
        guard var total = units(bytes[..<clockStart]) else { return nil }
        if clockStart < bytes.count {
            guard let clock = clock(bytes[clockStart...]) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(clock)
            guard !overflow else { return nil }
            total = sum
        } else if clockStart == 0 {
            return nil
        }
        return total
    }

    /// `seconds` in RouterOS's compact form: `1d`, `1w2d3h4m5s`, `0s`.
    public static func text(seconds: Int64) -> String {
        guard seconds > 0 else { return "0s" }
        var rest = seconds
        var text = ""
        for (unit, size) in [("w", Int64(604_800)), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// `1w2d3h4m5s500ms`: seconds, fractions dropped; nil when malformed. Empty is 0.
    private static func units(_ bytes: ArraySlice<UInt8>) -> Int64? {
        var total: Int64 = 0
        var subsecondNanos: Int64 = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            var number: Int64 = 0
            let digitsStart = index
            while index < bytes.endIndex, isDigit(bytes[index]) {
                let (times, overflow) = number.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                number = times + Int64(bytes[index] - UInt8(ascii: "0"))
                index += 1
            }
            guard index > digitsStart, index < bytes.endIndex else { return nil }
            let unit = bytes[index]
            let next = index + 1 < bytes.endIndex ? bytes[index + 1] : nil
            var size: Int64 = 0
            var nanos: Int64 = 0
            switch (unit, next) {
            case (UInt8(ascii: "m"), UInt8(ascii: "s")?): nanos = 1_000_000
            case (UInt8(ascii: "u"), UInt8(ascii: "s")?): nanos = 1_000
            case (UInt8(ascii: "n"), UInt8(ascii: "s")?): nanos = 1
            case (UInt8(ascii: "w"), _): size = 604_800
            case (UInt8(ascii: "d"), _): size = 86_400
            case (UInt8(ascii: "h"), _): size = 3_600
            case (UInt8(ascii: "m"), _): size = 60
            case (UInt8(ascii: "s"), _): size = 1
            default: return nil
            }
            index += nanos > 0 ? 2 : 1
            if nanos > 0 {
                let (part, overflow) = number.multipliedReportingOverflow(by: nanos)
                guard !overflow, part <= 1_000_000_000_000_000 else { return nil }
                subsecondNanos += part
            } else {
                let (part, overflow) = number.multipliedReportingOverflow(by: size)
                guard !overflow else { return nil }
                let (sum, overflowSum) = total.addingReportingOverflow(part)
                guard !overflowSum else { return nil }
                total = sum
            }
        }
        let (sum, overflow) = total.addingReportingOverflow(subsecondNanos / 1_000_000_000)
        return overflow ? nil : sum
    }

    /// `hh:mm:ss` with an optional `.fraction` (dropped); minutes and seconds below 60.
    private static func clock(_ bytes: ArraySlice<UInt8>) -> Int64? {
        var parts = bytes.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        if let dot = parts[2].firstIndex(of: UInt8(ascii: ".")) {
            let fraction = parts[2][(dot + 1)...]
            guard !fraction.isEmpty, fraction.allSatisfy(isDigit) else { return nil }
            parts[2] = parts[2][..<dot]
        }
        var values: [Int64] = []
        for (position, part) in parts.enumerated() {
            guard !part.isEmpty, part.count <= (position == 0 ? 12 : 2), part.allSatisfy(isDigit) else { return nil }
            values.append(part.reduce(Int64(0)) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) })
        }
        guard values[1] < 60, values[2] < 60 else { return nil }
        return values[0] * 3_600 + values[1] * 60 + values[2]
    }
}
