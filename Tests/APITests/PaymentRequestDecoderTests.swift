import Domain
import Testing

@testable import API

@Suite struct PaymentRequestDecoderTests {
    func json(_ text: String) throws(PaymentRequestDecoder.Failure) -> PaymentRequest {
        try PaymentRequestDecoder.decode(body: Array(text.utf8), contentType: "application/json; charset=utf-8")
    }

    func problems(_ text: String, contentType: String = "application/json") -> [String] {
        do {
            _ = try PaymentRequestDecoder.decode(body: Array(text.utf8), contentType: contentType)
            return []
        } catch {
            if case .invalid(let problems) = error { return problems.map(\.field) }
            return ["<media type>"]
        }
    }

    @Test func spanishNames() throws {
        let request = try json(
            #"{"producto_id":1,"token_tarjeta":"tok_test_visa_4242","nombre_cliente":"Juan Pérez","email_cliente":"juan@example.com","telefono_cliente":"+52 55 1234 5678","tipo_usuario":"pin","mac_cliente":"aa-bb-cc-dd-ee-ff","ip_cliente":"192.168.88.150","conexion_automatica":true,"extra":"ignored"}"#
        )
        #expect(request.productID == 1)
        #expect(request.userType == .pin)
        #expect(request.mac?.value == "AA:BB:CC:DD:EE:FF")
        #expect(request.ip?.value == "192.168.88.150")
        #expect(request.wantsAutoConnect)
        #expect(request.customerPhone == "+52 55 1234 5678")
    }

    @Test func canonicalNamesAndStringNumbers() throws {
        let request = try json(
            #"{"product_id":"7","card_token":"tok_x","customer_name":"Ana","customer_email":"ana@example.mx","user_type":"vip","auto_connect":"true"}"#
        )
        #expect(request.productID == 7)
        #expect(request.userType == .userAndPassword)
        #expect(request.autoConnect && !request.wantsAutoConnect)
    }

    @Test func formBodies() throws {
        let body =
            "producto_id=2&token_tarjeta=tok_abc&nombre_cliente=Juan+P%C3%A9rez&email_cliente=j%40x.mx&conexion_automatica=on&mac_cliente=AA%3ABB%3ACC%3ADD%3AEE%3AFF"
        let request = try PaymentRequestDecoder.decode(body: Array(body.utf8), contentType: "application/x-www-form-urlencoded")
        #expect(request.customerName == "Juan Pérez")
        #expect(request.customerEmail == "j@x.mx")
        #expect(request.wantsAutoConnect)
    }

    @Test func bothNamesDifferentIsAConflict() {
        #expect(
            problems(#"{"producto_id":1,"product_id":2,"token_tarjeta":"t","nombre_cliente":"a","email_cliente":"a@b.c"}"#) == [
                "producto_id"
            ])
        #expect(problems(#"{"producto_id":1,"product_id":1,"token_tarjeta":"t","nombre_cliente":"a","email_cliente":"a@b.c"}"#).isEmpty)
    }

    @Test func aFieldSentTwiceIsRefusedByName() {
        let valid = #""token_tarjeta":"t","nombre_cliente":"a","email_cliente":"a@b.c""#
        #expect(problems(#"{"producto_id":1,"producto_id":999,"# + valid + "}") == ["producto_id"])
        #expect(problems(#"{"producto_id":1,"producto_id":1,"# + valid + "}") == ["producto_id"])
        #expect(problems(#"{"product_id":1,"product_id":1,"# + valid + "}") == ["producto_id"])
        #expect(problems(#"{"producto_id":1,"# + valid + #","extra":1,"extra":2}"#).isEmpty)
        let form = "application/x-www-form-urlencoded"
        #expect(
            problems("producto_id=1&token_tarjeta=t&nombre_cliente=a&email_cliente=a%40b.c&token_tarjeta=u", contentType: form) == [
                "token_tarjeta"
            ])
        #expect(problems("producto_id=1&token_tarjeta=t&nombre_cliente=a&email_cliente=a%40b.c", contentType: form).isEmpty)
    }

    @Test func bidiAndFormatControlsAreRefusedLikeControlCharacters() {
        for hidden in ["\u{202E}", "\u{202A}", "\u{2066}", "\u{200B}", "\u{200F}", "\u{FEFF}", "\u{0085}", "\u{2028}", "\u{061C}"] {
            let body = #"{"producto_id":1,"token_tarjeta":"t","nombre_cliente":"Ana "# + hidden + #"gpj.exe","email_cliente":"a@b.c"}"#
            #expect(problems(body) == ["nombre_cliente"], "U+\(String(hidden.unicodeScalars.first!.value, radix: 16))")
        }
        // Letters of every script, accents and emoji stay welcome.
        #expect(problems(#"{"producto_id":1,"token_tarjeta":"t","nombre_cliente":"José Ñúñez 李 محمد 🙂","email_cliente":"a@b.c"}"#).isEmpty)
    }

    @Test func everyBadFieldIsNamed() {
        let fields = problems(
            #"{"producto_id":-1,"token_tarjeta":"tok;drop","nombre_cliente":"","email_cliente":"no-at","mac_cliente":"zz","ip_cliente":"::1","telefono_cliente":"abc","conexion_automatica":"maybe"}"#
        )
        #expect(
            Set(fields) == [
                "producto_id", "token_tarjeta", "nombre_cliente", "email_cliente", "mac_cliente", "ip_cliente", "telefono_cliente",
                "conexion_automatica",
            ])
    }

    @Test func malformedBodies() {
        #expect(problems("{") == ["body"])
        #expect(problems("[]") == ["body"])
        #expect(problems("a=%zz", contentType: "application/x-www-form-urlencoded") == ["body"])
        #expect(problems("a=%ff", contentType: "application/x-www-form-urlencoded") == ["body"])
        #expect(problems("x", contentType: "text/plain") == ["<media type>"])
    }

    @Test func controlCharactersAndOverlongValuesAreRefused() {
        #expect(problems(#"{"producto_id":1,"token_tarjeta":"t","nombre_cliente":"a\r\nb","email_cliente":"a@b.c"}"#) == ["nombre_cliente"])
        let long = String(repeating: "a", count: 500)
        #expect(
            problems(#"{"producto_id":1,"token_tarjeta":"t","nombre_cliente":"\#(long)","email_cliente":"a@b.c"}"#) == ["nombre_cliente"])
    }

    @Test func canonicalFieldsIgnoreAutoConnectWithoutMAC() throws {
        let a = try json(#"{"producto_id":1,"token_tarjeta":"t","nombre_cliente":"a","email_cliente":"a@b.c","conexion_automatica":true}"#)
        let b = try json(#"{"producto_id":1,"token_tarjeta":"t","nombre_cliente":"a","email_cliente":"a@b.c"}"#)
        #expect(a.canonicalFields == b.canonicalFields)
    }
}

@Suite struct CredentialsTests {
    @Test func shapes() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let user = HotspotCredentials.generate(.userAndPassword, policy: .standard, using: &random)
            #expect(user.username.count == 6 && user.username.allSatisfy { $0.isUppercase || $0.isNumber })
            #expect(user.password.count == 4 && user.password.allSatisfy(\.isNumber))
            let pin = HotspotCredentials.generate(.pin, policy: .standard, using: &random)
            #expect(pin.username.count == 6 && pin.username.allSatisfy(\.isNumber) && pin.password.isEmpty)
        }
        #expect(!HotspotCredentials(username: "A", password: "1234").description.contains("1234"))
    }

    @Test func usernamesHaveNoLookAlikes() {
        var random = SystemRandomNumberGenerator()
        var seen = Set<Character>()
        for _ in 0..<2_000 {
            seen.formUnion(HotspotCredentials.generate(.userAndPassword, policy: .standard, using: &random).username)
        }
        #expect(seen.isDisjoint(with: "0O1IL"))
        // Every other character of the seed's [A-Z0-9] is drawn: the alphabet lost only those five.
        #expect(seen == Set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789").subtracting("0O1IL"))
    }
}

/// A generator that returns scripted words, then a SplitMix64 sequence; counts its calls.
struct CountingGenerator: RandomNumberGenerator {
    var script: [UInt64] = []
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    var calls = 0

    mutating func next() -> UInt64 {
        calls += 1
        if !script.isEmpty { return script.removeFirst() }
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct RandomBytesTests {
    @Test func eightDrawsPerCallOfTheSystemGenerator() {
        var random = CountingGenerator()
        _ = HotspotCredentials.generate(.userAndPassword, policy: .standard, using: &random)
        #expect(random.calls <= 3)
        random.calls = 0
        #expect(RandomBytes.bytes(16, using: &random).count == 16)
        #expect(random.calls == 2)
    }

    @Test func bytesAboveTheLastWholeMultipleAreSkipped() {
        // Little-endian bytes 251, 252, 255, 0, 35, 36, 71, 216; 252 = 7 × 36 is the limit.
        var random = CountingGenerator(script: [0xD847_2423_00FF_FCFB])
        #expect(RandomBytes.indices(6, below: 36, using: &random) == [35, 0, 35, 0, 35, 0])
        #expect(random.calls == 1)
    }

    @Test func everyIndexIsAboutEquallyLikely() {
        var random = CountingGenerator()
        var counts = [Int](repeating: 0, count: 36)
        for index in RandomBytes.indices(36_000, below: 36, using: &random) { counts[index] += 1 }
        #expect(counts.allSatisfy { (850...1150).contains($0) })
    }
}
