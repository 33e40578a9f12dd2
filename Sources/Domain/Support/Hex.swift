/// Hexadecimal digits, written and read in one place: key fingerprints, `bytea` text, attempt
/// ids, JSON and URL escapes. Without Foundation's format machinery (it showed up in profiles).
public enum Hex {
    /// The digit for a value below 16: lower case unless `uppercase`.
    @inlinable @inline(__always)
    public static func digit(_ value: UInt8, uppercase: Bool = false) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : (uppercase ? UInt8(ascii: "A") : UInt8(ascii: "a")) + value - 10
    }

    /// The value of one hex digit, either case; nil for any other byte.
    @inlinable @inline(__always)
    public static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Appends two digits per byte to `out`.
    ///
    /// Inlinable, as are `encode` and `decode`, so each caller's module specializes them for its
    /// byte type: unspecialized, every byte went through the generic iterator's witness table,
    /// 15 % of the instructions of a payment in the server (bench/README.md).
    @inlinable
    public static func append<Bytes: Sequence>(_ bytes: Bytes, to out: inout [UInt8], uppercase: Bool = false)
    where Bytes.Element == UInt8 {
        for byte in bytes {
            out.append(digit(byte >> 4, uppercase: uppercase))
            out.append(digit(byte & 0xF, uppercase: uppercase))
        }
    }

    /// Two lower-case digits per byte.
    @inlinable
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        append(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of an even number of hex digits (either case); nil for anything else.
    @inlinable
    public static func decode<Digits: Collection>(_ digits: Digits) -> [UInt8]? where Digits.Element == UInt8 {
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var index = digits.startIndex
        while index != digits.endIndex {
            let next = digits.index(after: index)
            guard let high = value(digits[index]), let low = value(digits[next]) else { return nil }
            out.append(high << 4 | low)
            index = digits.index(after: next)
        }
        return out
    }
}
