import Domain
import JSON
import Testing

@Suite struct JSONTests {
    @Test func parsesAndKeepsOrder() throws {
        let value = try JSONParser.parse(Array(#"{"b":1,"a":[true,false,null],"c":"x\u00e9\n","d":-1.5e3}"#.utf8))
        #expect(String(decoding: value.serialized(), as: UTF8.self) == #"{"b":1,"a":[true,false,null],"c":"xé\n","d":-1.5e3}"#)
        #expect(value["c"]?.stringValue == "xé\n")
    }

    @Test func decodesSurrogatePairs() throws {
        #expect(try JSONParser.parse(Array(#""\ud83d\ude00""#.utf8)) == .string("😀"))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "01", "1.", "-", "tru", "\"\\x\"", "\"a", "{} x", "[1 2]",
        "\"\u{01}\"", "\"\\ud800\"", "{a:1}", "'a'",
    ])
    func rejectsMalformed(text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xFF, 0xFE, 0x22]) }
    }

    /// Strings with and without escapes take different paths through the parser: both keep valid
    /// UTF-8 as it is and refuse what is not UTF-8 (an overlong form, an encoded surrogate, a cut
    /// sequence, a stray continuation byte, a code point above U+10FFFF).
    @Test(arguments: [[], [UInt8(ascii: "\\"), UInt8(ascii: "n")]] as [[UInt8]])
    func readsUTF8AsItIs(escape: [UInt8]) throws {
        let valid = Array("año ü € 😀".utf8)
        #expect(try JSONParser.parse([0x22] + escape + valid + [0x22]) == .string((escape.isEmpty ? "" : "\n") + "año ü € 😀"))
        for invalid: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0x80], [0xF4, 0x90, 0x80, 0x80]] {
            #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22] + escape + valid + invalid + [0x22]) }
            #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22] + invalid + escape + [0x22]) }
        }
    }

    @Test func boundsDepth() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(deep.utf8)) }
        let shallow = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect((try? JSONParser.parse(Array(shallow.utf8))) != nil)
    }

    @Test func escapesControlCharactersAndQuotes() {
        let text = JSONValue.string("a\"b\\c\u{01}\t").serialized()
        #expect(String(decoding: text, as: UTF8.self) == #""a\"b\\c\u0001\t""#)
    }

    @Test func moneyIsANumberWithTwoDecimals() {
        #expect(String(decoding: JSONValue.money(cents: 1500).serialized(), as: UTF8.self) == "15.00")
    }
}
