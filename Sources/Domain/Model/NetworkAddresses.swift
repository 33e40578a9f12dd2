/// A MAC address in RouterOS's canonical form, `AA:BB:CC:DD:EE:FF`.
public struct MACAddress: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    /// Accepts six pairs of hex digits separated by `:` or `-` (one kind throughout), any case.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 17 else { return nil }
        let separator = bytes[2]
        guard separator == UInt8(ascii: ":") || separator == UInt8(ascii: "-") else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(17)
        for (index, byte) in bytes.enumerated() {
            if index % 3 == 2 {
                guard byte == separator else { return nil }
                out.append(UInt8(ascii: ":"))
            } else {
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "F"): out.append(byte)
                case UInt8(ascii: "a")...UInt8(ascii: "f"): out.append(byte - 32)
                default: return nil
                }
            }
        }
        value = String(decoding: out, as: UTF8.self)
    }

    public var description: String { value }
}

/// A dotted-quad IPv4 address (hotspots are IPv4-only). No leading zeros, no shorthand forms.
public struct IPv4Address: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
                let number = Int(part), number <= 255, !(part.count > 1 && part.first == "0")
            else { return nil }
        }
        value = text
    }

    public var description: String { value }
}
