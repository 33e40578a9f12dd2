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
