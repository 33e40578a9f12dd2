import Foundation
import JSON
import ReplyJSON
import Testing

/// How both HTTP clients read a reply's JSON: the strict parser, with the encodings, depth and number
/// readings JSONDecoder gave them, quirks included; and what is refused whole.
@Suite struct ReplyJSONTests {
    /// `literal` as a member of a reply, read as ReplyJSON reads it; nil when the reply is refused.
    static func member(_ literal: String) -> JSONValue? {
        ReplyJSON.parse(Array(#"{"id": "ord_1", "amount": \#(literal)}"#.utf8))?["amount"]
    }

    /// A reply with every kind of value, and characters outside ASCII and outside the BMP.
    static let document = #"""
        {
         "id": "ord_2znsF4cv7L8sWnRya",
         "name": "ñeyueyute nene",
         "note": "€ 💳 \u00e9\n",
         "amount": 10000,
         "fee": 2.09,
         "paid": true,
         "refunds": null,
         "charges": [{"brand": "visa", "last4": "4242"}, []]
        }
        """#

    // MARK: numbers

    /// What JSONDecoder made of each literal as an Int64, including its quirks.
    @Test(arguments: [
        ("1500", Int64(1500)), ("-0", 0), ("1500.0", 1500), ("15e2", 1500), ("1.5E+3", 1500), ("150000e-2", 1500),
        ("1500.5", nil), ("1.0000000000000001", 1), ("1e-400", 0), ("1e400", nil), ("1e19", nil),
        ("9223372036854775807", Int64.max), ("9223372036854775808", nil), ("-9223372036854775808", Int64.min),
        ("-9223372036854775809", nil), ("9007199254740993", 9_007_199_254_740_993),
        ("9007199254740993.0", 9_007_199_254_740_993), ("90071992547409930e-1", 9_007_199_254_740_993),
        ("9007199254740993.9", 9_007_199_254_740_993), ("1e18", 1_000_000_000_000_000_000),
        ("9223372036854775807.0", nil), ("-9223372036854775808.0", nil),
        ("9223372036854774785.0", 9_223_372_036_854_774_785), ("-9223372036854774785.5", nil),
        ("1.00000000000000000000000000000000000000001e18", 1_000_000_000_000_000_000),
        ("\"1500\"", nil), ("true", nil), ("[1500]", nil),
    ])
    func int64Readings(literal: String, expected: Int64?) throws {
        let value = try #require(Self.member(literal))
        #expect(value.int64Value == expected)
    }

    /// What JSONDecoder made of each literal as a Double: nothing when it overflows, or underflows
    /// to zero; zero itself, however written, is zero.
    @Test(
        arguments: [
            ("1.5", 1.5), ("-3", -3), ("1e2", 100), ("1e20", 1e20), ("2.09", 2.09), ("0", 0), ("-0.0", 0), ("0e400", 0),
            ("1e400", nil), ("-1e400", nil), ("1e-400", nil), ("0.0001e-400", nil), ("\"1.5\"", nil), ("true", nil),
            ("null", nil),
        ] as [(String, Double?)])
    func doubleReadings(literal: String, expected: Double?) throws {
        let value = try #require(Self.member(literal))
        #expect(value.doubleValue == expected)
    }

    @Test func onlyBooleansReadAsBooleans() throws {
        #expect(try #require(Self.member("true")).boolValue == true)
        #expect(try #require(Self.member("false")).boolValue == false)
        for literal in ["\"true\"", "1", "0", "null", "[true]"] {
            #expect(try #require(Self.member(literal)).boolValue == nil, "\(literal)")
        }
    }

    /// JSONDecoder trapped on a number like the first (Decimal's exponent overflows;
    /// swiftlang/swift-foundation#812). The parser takes numbers of up to 64 characters, so a
    /// reply with a longer one is refused whole.
    @Test func aNumberOver64CharactersRefusesTheReply() {
        #expect(Self.member("0." + String(repeating: "0", count: 130) + "9007199254740993e146") == nil)
        #expect(Self.member("1" + String(repeating: "0", count: 64)) == nil)
        #expect(Self.member("1" + String(repeating: "0", count: 63)) == .number("1" + String(repeating: "0", count: 63)))
    }

    // MARK: what is refused

    /// Not JSON, or JSON with a fault JSONDecoder let through when it lay in a field it had not
    /// read (a trailing comma, a bad escape, a control character).
    @Test(arguments: [
        "", " ", "<html>ok</html>", "{", #"{"id": "ord_1"} x"#, #"{"id": "ord_1",}"#, #"{"id": "ord_1", "x": [1,]}"#,
        #"{"id": "ord_1", "x": 01}"#, #"{"id": "ord_1", "x": "\x"}"#, #"{"id": "ord_1", "x": "\ud800"}"#,
        "{\"id\": \"ord_1\", \"x\": \"\u{01}\"}", #"{"id": 'ord_1'}"#, #"{"id": "ord_1", "x": NaN}"#,
    ])
    func notJSONIsRefused(text: String) {
        #expect(ReplyJSON.parse(Array(text.utf8)) == nil)
    }

    @Test func invalidUTF8IsRefused() {
        let bytes = Array(#"{"id": "ord_1", "x": ""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        #expect(ReplyJSON.parse(bytes) == nil)
    }

    @Test func nestingIsBoundedLikeJSONDecoder() {
        func nested(_ count: Int, _ inner: String) -> [UInt8] {
            let text =
                #"{"id": "ord_1", "x": "# + String(repeating: "[", count: count - 1) + inner
                + String(repeating: "]", count: count - 1) + "}"
            return Array(text.utf8)
        }
        #expect(ReplyJSON.parse(nested(511, "1"))?["id"] == .string("ord_1"))
        #expect(ReplyJSON.parse(nested(512, ""))?["id"] == .string("ord_1"))
        #expect(ReplyJSON.parse(nested(513, "")) == nil)
        // The one depth JSONDecoder took and this refuses: a scalar inside 512 levels.
        #expect(ReplyJSON.parse(nested(512, "1")) == nil)
    }

    // MARK: encodings

    /// JSONDecoder also read UTF-16 and UTF-32 (RFC 4627 §3) and skipped a byte order mark.
    @Test(arguments: [
        (String.Encoding.utf8, [UInt8]()), (.utf8, [0xEF, 0xBB, 0xBF]), (.utf16LittleEndian, []),
        (.utf16LittleEndian, [0xFF, 0xFE]), (.utf16BigEndian, []), (.utf16BigEndian, [0xFE, 0xFF]),
        (.utf32LittleEndian, []), (.utf32BigEndian, []), (.utf32BigEndian, [0, 0, 0xFE, 0xFF]),
    ])
    func otherUnicodeEncodings(encoding: String.Encoding, mark: [UInt8]) throws {
        let bytes = mark + Array(try #require(Self.document.data(using: encoding)))
        #expect(ReplyJSON.utf8(bytes) == Array(Self.document.utf8))
        let value = try #require(ReplyJSON.parse(bytes))
        #expect(value == ReplyJSON.parse(Array(Self.document.utf8)))
        #expect(value["name"] == .string("ñeyueyute nene"))
        #expect(value["note"] == .string("€ 💳 é\n"))
        #expect(value["amount"]?.int64Value == 10_000)
    }

    /// JSONDecoder took UTF-32LE's byte order mark for UTF-16LE's, and so refused such a reply.
    @Test func utf32LittleEndianWithAByteOrderMarkIsRefused() throws {
        let text = try #require(Self.document.data(using: .utf32LittleEndian))
        #expect(ReplyJSON.parse([0xFF, 0xFE, 0, 0] + Array(text)) == nil)
    }
}
