import Domain
import JSON
import Testing

@testable import RouterOS

/// Reading RouterOS's reply bodies: items, lists, the error envelope, RouterOS's raw control
/// characters, the non-string values it never sends, and what is refused.
@Suite struct RouterOSReplyTests {
    static func payload(_ bytes: [UInt8]) -> RouterOSPayload? { RouterOSPayload.decode(from: bytes) }
    static func payload(_ text: String) -> RouterOSPayload? { payload(Array(text.utf8)) }
    static func errorBody(_ text: String) -> RouterOSErrorBody? {
        RouterOSErrorBody.decode(from: Array(text.utf8))
    }

    // MARK: Items and lists

    @Test func anObjectIsAnItem() {
        #expect(
            Self.payload(#" {".id":"*1B","name":"PAY-8F3K2Q","disabled":"true","comment":""} "#)
                == .item(RouterOSRecord([".id": "*1B", "name": "PAY-8F3K2Q", "disabled": "true", "comment": ""])))
        #expect(Self.payload("{}") == .item(RouterOSRecord([:])))
    }

    @Test func anArrayOfObjectsIsAList() {
        #expect(
            Self.payload(#"[{".id":"*1","name":"a"},{},{".id":"*2","name":"b\u00e9\/"}]"#)
                == .list([
                    RouterOSRecord([".id": "*1", "name": "a"]), RouterOSRecord([:]),
                    RouterOSRecord([".id": "*2", "name": "bé/"]),
                ]))
        #expect(Self.payload("[]") == .list([]))
        #expect(Self.payload("\r\n[ ]\t") == .list([]))
    }

    @Test(arguments: [#"[{"a":"b"},1]"#, #"[{"a":"b"},null]"#, #"[["x"]]"#, #"[{"a":"b"},"c"]"#])
    func anArrayHoldingAnythingButObjectsIsRefused(text: String) {
        #expect(Self.payload(text) == nil)
    }

    @Test(arguments: ["null", "true", "1", #""x""#])
    func aScalarIsRefused(text: String) {
        #expect(Self.payload(text) == nil)
    }

    @Test func theFirstOfARepeatedPropertyCounts() {
        #expect(Self.payload(#"{"a":"1","a":"2"}"#) == .item(RouterOSRecord(["a": "1"])))
        #expect(Self.payload(#"{"a":null,"a":"2","b":[],"b":"3"}"#) == .item(RouterOSRecord([:])))
    }

    // MARK: Values that are not strings

    @Test func integralNumbersAndBooleansAreKeptAsTextOtherValuesAreDropped() {
        let text = #"""
            {"a":1,"b":-2,"c":1.0,"d":15e2,"e":-0,"f":true,"g":false,"h":1.5,"i":null,"j":[],"k":{"x":"y"},
             "l":9223372036854775807,"m":9223372036854775808,"n":1E400,"o":1.0000000000000001,
             "p":12345678901234567890e-1,"q":"7"}
            """#
        #expect(
            Self.payload(text)
                == .item(
                    RouterOSRecord([
                        "a": "1", "b": "-2", "c": "1", "d": "1500", "e": "0", "f": "true", "g": "false",
                        "l": "9223372036854775807", "o": "1", "p": "1234567890123456789", "q": "7",
                    ])))
    }

    // MARK: Raw control characters

    @Test func rawControlCharactersInsideStringsAreTaken() {
        let text = "[{\"comment\":\"a\u{1B}[0m\n\t\u{00}\u{1F}\\\"z\",\"k\u{0A}ey\":\"\u{7F}\"}]"
        #expect(
            Self.payload(text) == .list([RouterOSRecord(["comment": "a\u{1B}[0m\n\t\u{00}\u{1F}\"z", "k\ney": "\u{7F}"])]))
    }

    @Test(arguments: ["\u{0B}[]", "[]\u{00}", "[\u{01}]", "{\"a\":\u{1B}\"b\"}"])
    func controlCharactersOutsideStringsAreRefused(text: String) {
        #expect(Self.payload(text) == nil)
    }

    // MARK: Encodings and depth

    @Test func utf16AndAByteOrderMarkAreTaken() {
        #expect(Self.payload([0x5B, 0x00, 0x5D, 0x00]) == .list([]))
        #expect(Self.payload([0xFF, 0xFE, 0x7B, 0x00, 0x7D, 0x00]) == .item(RouterOSRecord([:])))
        #expect(Self.payload([0xEF, 0xBB, 0xBF] + Array(#"{"a":"b"}"#.utf8)) == .item(RouterOSRecord(["a": "b"])))
    }

    @Test func upTo512NestedArraysAndObjectsAreTaken() {
        let nested = { (depth: Int) in "{\"a\":" + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1) + "}"
        }
        #expect(Self.payload(nested(512)) == .item(RouterOSRecord([:])))
        #expect(Self.payload(nested(513)) == nil)
    }

    // MARK: Garbage

    @Test(arguments: [
        "", " ", "not json", #"{".id":"*1B","name":"#, "[] x", "[][]", #"{"a":tru}"#, #"{"a":NaN}"#, #"{"a":+1}"#,
        #"{'a':'b'}"#, #"{"a":"b""#, #"{"a" "b"}"#, "<html><body>Not Found</body></html>", #"{"a":"\u12"}"#,
    ])
    func garbageIsRefused(text: String) {
        #expect(Self.payload(text) == nil)
        #expect(Self.errorBody(text) == nil)
    }

    // MARK: What JSONDecoder took and JSONParser refuses

    /// JSONDecoder took these, dropping the faulty value (or never reading it); they are refused
    /// as a whole now.
    @Test(arguments: [
        #"{"a":"x","b":"y",}"#, #"[{"a":"x"},]"#, #"{"a":"\q","b":"y"}"#, #"{"a":01,"b":"y"}"#, #"{"a":[1.],"b":"y"}"#,
        #"{"a":"\ud800","b":"y"}"#, #"{"a":{"c":"\q"},"b":"y"}"#,
        #"{"a":1.0000000000000000000000000000000000000000000000000000000000000001,"b":"y"}"#,
    ])
    func invalidJSONThatJSONDecoderTookIsRefused(text: String) {
        #expect(Self.payload(text) == nil)
        #expect(Self.errorBody(text) == nil)
    }

    @Test func textInAnotherCodepageReadsWithAReplacementCharacter() {
        // "Café" typed in WinBox on a Windows machine: CP1252's 0xE9, not UTF-8.
        let cp1252 = Array(#"[{"name":"u1","comment":"Caf"#.utf8) + [0xE9] + Array(#""}]"#.utf8)
        #expect(Self.payload(cp1252) == .list([RouterOSRecord(["name": "u1", "comment": "Caf\u{FFFD}"])]))
    }

    /// A valid number on which JSONDecoder's Int64 and Int decoding trapped
    /// (https://github.com/swiftlang/swift-foundation/issues/812); fuzz/regressions/routeros has
    /// it in a record and in an error envelope.
    @Test func aNumberThatCrashedJSONDecoderIsRefused() {
        let number = "0." + String(repeating: "0", count: 130) + "9007199254740993e146"
        #expect(Self.payload(#"[{"name":"ABC123","limit-bytes-total":"# + number + "}]") == nil)
        #expect(Self.errorBody(#"{"error":"# + number + #","message":"Bad Request"}"#) == nil)
    }

    // MARK: The error envelope

    @Test func theErrorEnvelopeInAnyOrder() throws {
        let full = try #require(Self.errorBody(#"{"detail":"no such item","error":400,"message":"Bad Request"}"#))
        #expect(full.error == 400 && full.message == "Bad Request" && full.detail == "no such item")
        let short = try #require(Self.errorBody(#"{"error":404,"message":"Not Found"}"#))
        #expect(short.error == 404 && short.message == "Not Found" && short.detail == nil)
    }

    @Test func absentNullOrExtraMembersAreFine() throws {
        let empty = try #require(Self.errorBody("{}"))
        #expect(empty.error == nil && empty.message == nil && empty.detail == nil)
        let nulls = try #require(
            Self.errorBody(#"{"error":null,"message":null,"detail":"d","x":[1,{"y":2}],"detail":5}"#))
        #expect(nulls.error == nil && nulls.message == nil && nulls.detail == "d")
        #expect(Self.errorBody(#"{"error":400.0,"message":"m"}"#)?.error == 400)
    }

    @Test(arguments: [
        #"{"error":"400","message":"Bad Request"}"#, #"{"error":400.5}"#, #"{"error":true}"#,
        #"{"error":9223372036854775808}"#, #"{"error":[400]}"#, #"{"message":1}"#, #"{"detail":true}"#,
        #"{"detail":{"text":"d"}}"#, "[]", #"[{"error":400}]"#, "null", #""Bad Request""#,
    ])
    func aMistypedMemberOrAnotherShapeIsNotAnErrorBody(text: String) {
        #expect(Self.errorBody(text) == nil)
    }
}
