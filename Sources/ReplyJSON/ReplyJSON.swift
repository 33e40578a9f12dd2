import Domain
import JSON

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How the HTTP clients (RouterOS, Conekta) read a reply's JSON: Domain's `JSONParser`, with the
/// encodings, depth and number readings `JSONDecoder` gave them before, so that leaving
/// `JSONDecoder` (a few % of a payment's CPU, and a crash on some valid numbers:
/// https://github.com/swiftlang/swift-foundation/issues/812) changed no outcome.
///
/// Except that a reply `JSONParser` refuses is refused as a whole: one that is not valid JSON, also
/// where `JSONDecoder` let it through because the fault lay in a part it had not read (a trailing
/// comma, a bad escape or number); and one with a number over 64 characters or a scalar 512 levels
/// deep (valid JSON, which no reply looks like).
public enum ReplyJSON {
    /// `JSONDecoder` refuses more than 512 nested arrays and objects. `JSONParser` counts the depth
    /// of values instead: 511 refuses all that `JSONDecoder` refused, and a scalar 512 levels deep.
    public static let maxDepth = 511

    /// The document in `bytes`; nil when it is not JSON.
    public static func parse(_ bytes: [UInt8]) -> JSONValue? {
        guard let utf8 = utf8(bytes) else { return nil }
        return try? JSONParser.parse(utf8, maxDepth: maxDepth)
    }

    /// `bytes` as UTF-8 without a byte order mark. Like `JSONDecoder`, this also takes UTF-16 and
    /// UTF-32, told apart by a byte order mark or by where the zero bytes of the first two (ASCII)
    /// characters fall (RFC 4627 §3); nil when they do not convert. The table is `JSONDecoder`'s,
    /// odd rows included: `FE FF 00 00` marks UTF-32LE, and UTF-32LE's real mark reads as UTF-16LE's.
    public static func utf8(_ bytes: [UInt8]) -> [UInt8]? {
        let byte = { (index: Int) -> UInt8? in index < bytes.count ? bytes[index] : nil }
        let encoding: String.Encoding
        let markLength: Int
        switch (byte(0), byte(1), byte(2), byte(3)) {
        case (0, 0, 0xFE, 0xFF): (encoding, markLength) = (.utf32BigEndian, 4)
        case (0xFE, 0xFF, 0, 0): (encoding, markLength) = (.utf32LittleEndian, 4)
        case (0xFE, 0xFF, _, _): (encoding, markLength) = (.utf16BigEndian, 2)
        case (0xFF, 0xFE, _, _): (encoding, markLength) = (.utf16LittleEndian, 2)
        case (0xEF, 0xBB, 0xBF, _): return Array(bytes.dropFirst(3))
        case (0, 0, 0, .some(let fourth)) where fourth != 0: (encoding, markLength) = (.utf32BigEndian, 0)
        case (0, .some(let second), 0, .some(let fourth)) where second != 0 && fourth != 0:
            (encoding, markLength) = (.utf16BigEndian, 0)
        case (.some(let first), 0, 0, 0) where first != 0: (encoding, markLength) = (.utf32LittleEndian, 0)
        case (.some(let first), 0, .some(let third), 0) where first != 0 && third != 0:
            (encoding, markLength) = (.utf16LittleEndian, 0)
        case (0, .some(let second), nil, nil) where second != 0: (encoding, markLength) = (.utf16BigEndian, 0)
        case (.some(let first), 0, nil, nil) where first != 0: (encoding, markLength) = (.utf16LittleEndian, 0)
        default: return bytes
        }
        return String(bytes: bytes.dropFirst(markLength), encoding: encoding).map { Array($0.utf8) }
    }
}

extension JSONValue {
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The number as `JSONDecoder` reads an `Int64`: an integer literal within range, or another
    /// literal whose value is integral (`1500.0`, `15e2`); nil for `1500.5`, for out-of-range values
    /// and for other types, numeric strings included.
    public var int64Value: Int64? {
        guard case .number(let text) = self else { return nil }
        if let integer = Int64(text) { return integer }
        // JSONDecoder's fallback, quirks included: through Double, so `1.0000000000000001` reads as
        // 1, and beyond 2^53, where Double skips integers, through Decimal.
        guard let double = Double(text), let integer = Int64(exactly: double) else { return nil }
        return double.magnitude < 0x1p53 ? integer : Self.decimalInt64(text)
    }

    /// The number as `JSONDecoder` reads a `Double`: nil when it overflows, or underflows to zero.
    public var doubleValue: Double? {
        guard case .number(let text) = self, let double = Double(text), double.isFinite else { return nil }
        if double == 0,
            text.utf8.prefix(while: { $0 != UInt8(ascii: "e") && $0 != UInt8(ascii: "E") })
                .contains(where: { UInt8(ascii: "1")...UInt8(ascii: "9") ~= $0 })
        {
            return nil
        }
        return double
    }

    /// `JSONDecoder`'s reading, through `Decimal`, of an integral literal beyond 2^53 that is not a
    /// plain integer: `Decimal`'s parser keeps the digits that fit in 128 bits (further integer
    /// digits count in its Int8 exponent); the conversion then wants those digits, trailing zeros
    /// dropped, in a UInt64, and truncates any fraction.
    private static func decimalInt64(_ text: String) -> Int64? {
        var bytes = text.utf8[...]
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { bytes.removeFirst() }
        var significand: UInt128 = 0
        var exponent = 0
        var full = false
        func appending(_ byte: UInt8) -> UInt128? {
            let (times10, overflow) = significand.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times10.addingReportingOverflow(UInt128(byte - UInt8(ascii: "0")))
            return overflow || carry ? nil : sum
        }
        while let byte = bytes.first, isDigit(byte) {
            bytes.removeFirst()
            if !full, let next = appending(byte) {
                significand = next
                continue
            }
            full = true
            guard exponent < Int(Int8.max) else { return nil }
            exponent += 1
        }
        if bytes.first == UInt8(ascii: ".") {
            bytes.removeFirst()
            while let byte = bytes.first, isDigit(byte) {
                bytes.removeFirst()
                guard !full, let next = appending(byte) else {
                    full = true
                    continue
                }
                significand = next
                guard exponent > Int(Int8.min) else { return nil }
                exponent -= 1
            }
        }
        if let byte = bytes.first, byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            bytes.removeFirst()
            let negativeExponent = bytes.first == UInt8(ascii: "-")
            if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes.removeFirst() }
            var written = 0
            for byte in bytes {
                written = written * 10 + Int(byte - UInt8(ascii: "0"))
                guard written <= 2 * Int(Int8.max) else { return nil }
            }
            exponent += negativeExponent ? -written : written
            guard Int(Int8.min)...Int(Int8.max) ~= exponent else { return nil }
        }
        while significand != 0, significand % 10 == 0, exponent < Int(Int8.max) {
            significand /= 10
            exponent += 1
        }
        guard var magnitude = UInt64(exactly: significand) else { return nil }
        if exponent < 0 {
            for _ in 0 ..< -exponent { magnitude /= 10 }
        } else {
            for _ in 0..<exponent {
                let (product, overflow) = magnitude.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                magnitude = product
            }
        }
        guard let value = Int64(exactly: magnitude) else { return nil }
        return negative ? -value : value
    }

    private static func isDigit(_ byte: UInt8) -> Bool { UInt8(ascii: "0")...UInt8(ascii: "9") ~= byte }
}
