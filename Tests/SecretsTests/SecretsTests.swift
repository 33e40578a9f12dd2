import Domain
import Foundation
import Secrets
import Testing

@Suite struct SecretBoxTests {
    let box = try! SecretBox(base64Key: Data(repeating: 7, count: 32).base64EncodedString())

    @Test func roundTrips() throws {
        let sealed = box.seal("s3cret-password", context: "router:1:password")
        #expect(!String(decoding: sealed, as: UTF8.self).contains("s3cret"))
        #expect(try box.open(sealed, context: "router:1:password") == "s3cret-password")
    }

    @Test func sealsDifferentlyEachTime() {
        #expect(box.seal("x", context: "c") != box.seal("x", context: "c"))
    }

    @Test func refusesAnotherContextOrKeyOrTampering() throws {
        let sealed = box.seal("s3cret", context: "router:1:password")
        #expect(throws: SecretFailure.self) { try box.open(sealed, context: "router:2:password") }
        let other = try SecretBox(base64Key: Data(repeating: 8, count: 32).base64EncodedString())
        #expect(throws: SecretFailure.self) { try other.open(sealed, context: "router:1:password") }
        var tampered = sealed
        tampered[tampered.count - 1] ^= 1
        #expect(throws: SecretFailure.self) { try box.open(tampered, context: "router:1:password") }
        #expect(throws: SecretFailure.self) { try box.open([], context: "router:1:password") }
    }

    @Test func refusesBadKeys() {
        #expect(throws: SecretBoxError.self) { try SecretBox(base64Key: "short") }
        #expect(throws: SecretBoxError.self) { try SecretBox(base64Key: Data(repeating: 1, count: 16).base64EncodedString()) }
    }
}

@Suite struct HS256KeyCodecTests {
    let codec = HS256KeyCodec(secret: Array("0123456789abcdef0123456789abcdef".utf8))
    let claims = APIKeyClaims(keyID: "key_abc", routerID: 3, companyID: 1, issuedAt: 1_700_000_000, expiresAt: 1_900_000_000)

    @Test func issuesAndVerifies() {
        let key = codec.issue(claims)
        #expect(key.hasPrefix("jwt_"))
        #expect(codec.verify(key, now: 1_800_000_000) == .success(claims))
    }

    @Test func expires() {
        #expect(codec.verify(codec.issue(claims), now: 1_900_000_000) == .failure(.expired))
    }

    @Test func refusesAnotherSecret() {
        let other = HS256KeyCodec(secret: Array("another-secret-another-secret-xx".utf8))
        #expect(other.verify(codec.issue(claims), now: 1_800_000_000) == .failure(.badSignature))
    }

    @Test func refusesAlgorithmNoneAndOthers() {
        let payload = Self.base64URL(#"{"jti":"key_abc","sub":"3","empresa":"1","iat":1,"type":"router_api_key"}"#)
        let none = "jwt_" + Self.base64URL(#"{"alg":"none","typ":"JWT"}"#) + "." + payload + "."
        #expect(codec.verify(none, now: 2) != .success(claims))
        #expect(codec.verify(none, now: 2) == .failure(.malformed) || codec.verify(none, now: 2) == .failure(.badSignature))
        let key = codec.issue(claims)
        let parts = key.dropFirst(4).split(separator: ".")
        let hs512 = "jwt_" + Self.base64URL(#"{"alg":"HS512","typ":"JWT"}"#) + "." + parts[1] + "." + parts[2]
        #expect(codec.verify(hs512, now: 1_800_000_000) == .failure(.badSignature))
    }

    @Test func refusesTamperedClaimsOrSignature() {
        let key = codec.issue(claims)
        let parts = key.dropFirst(4).split(separator: ".").map(String.init)
        let forged = Self.base64URL(#"{"jti":"key_abc","sub":"4","empresa":"1","iat":1700000000,"type":"router_api_key"}"#)
        #expect(codec.verify("jwt_\(parts[0]).\(forged).\(parts[2])", now: 1_800_000_000) == .failure(.badSignature))
        var signature = Array(parts[2])
        signature[0] = signature[0] == "A" ? "B" : "A"
        #expect(codec.verify("jwt_\(parts[0]).\(parts[1]).\(String(signature))", now: 1_800_000_000) == .failure(.badSignature))
    }

    @Test(arguments: ["", "jwt_", "jwt_a.b", "jwt_a.b.c.d", "eyJ.eyJ.sig", "jwt_!!!.@@@.###", "jwt_" + String(repeating: "a", count: 3000)])
    func refusesMalformed(key: String) {
        #expect(codec.verify(key, now: 1) == .failure(.malformed))
    }

    @Test func fingerprintIsStableHex() {
        let fingerprint = codec.fingerprint("jwt_x")
        #expect(fingerprint.count == 64)
        #expect(fingerprint == codec.fingerprint("jwt_x"))
        #expect(fingerprint != codec.fingerprint("jwt_y"))
    }

    static func base64URL(_ text: String) -> String {
        Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
