import Foundation
import Secrets
import Testing

/// WireGuard keys as `wg genkey` and `wg pubkey` make them: X25519 over 32 bytes, base64.
@Suite struct WireGuardKeysTests {
    @Test func derivesThePublicKeyAsRFC7748AndWireGuardDo() throws {
        // RFC 7748 §6.1, Alice's pair (also checked with `openssl pkey -pubout`).
        let alice = Data(hex: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a").base64EncodedString()
        let alicePublic = Data(hex: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a").base64EncodedString()
        #expect(try WireGuardKeyPair.publicKey(of: alice) == alicePublic)
        // The private key of wg(8)'s example configuration.
        #expect(
            try WireGuardKeyPair.publicKey(of: "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=")
                == "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=")
    }

    @Test func generatesClampedKeysFromTheCSPRNG() throws {
        let pairs = (0..<20).map { _ in WireGuardKeyPair.generate() }
        #expect(Set(pairs.map(\.privateKey)).count == pairs.count)
        for pair in pairs {
            let raw = try #require(Data(base64Encoded: pair.privateKey))
            #expect(raw.count == 32)
            // As wg genkey clamps (RFC 7748 §5): low three bits clear, top bit clear, next set.
            #expect(raw[0] & 7 == 0 && raw[31] & 0x80 == 0 && raw[31] & 0x40 != 0)
            #expect(try WireGuardKeyPair.publicKey(of: pair.privateKey) == pair.publicKey)
            #expect(WireGuardKeyPair.isKey(pair.publicKey))
        }
    }

    @Test(arguments: ["", "not base64", "AAAA", Data(count: 31).base64EncodedString(), Data(count: 33).base64EncodedString()])
    func refusesWhatIsNotAKey(text: String) {
        #expect(!WireGuardKeyPair.isKey(text))
        #expect(throws: WireGuardKeyError.self) { try WireGuardKeyPair.publicKey(of: text) }
    }
}

extension Data {
    fileprivate init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self.init(bytes)
    }
}
