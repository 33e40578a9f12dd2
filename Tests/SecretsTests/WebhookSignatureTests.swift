import Foundation
import Secrets
import Testing
import _CryptoExtras

@Suite struct WebhookSignatureTests {
    let verifier = ConektaWebhookSignature()
    let body = Array(#"{"id":"evt_1","type":"order.paid","data":{"object":{"id":"ord_1"}}}"#.utf8)

    func sign(_ bytes: [UInt8], with key: _RSA.Signing.PrivateKey) throws -> String {
        try key.signature(for: bytes, padding: .insecurePKCS1v1_5).rawRepresentation.base64EncodedString()
    }

    @Test func aSignatureOverTheExactBytesVerifies() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let signature = try sign(body, with: key)
        #expect(verifier.isSigned(body, signature: signature, publicKeyPEM: key.publicKey.pemRepresentation))
        #expect(verifier.isSigned(body, signature: " \(signature) ", publicKeyPEM: key.publicKey.pemRepresentation))
    }

    @Test func anythingElseIsRefused() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let signature = try sign(body, with: key)
        let pem = key.publicKey.pemRepresentation
        // Another company's key, one changed byte, a re-serialised body, no or garbled signature, no key.
        #expect(!verifier.isSigned(body, signature: signature, publicKeyPEM: other.publicKey.pemRepresentation))
        var tampered = body
        tampered[tampered.count - 3] ^= 1
        #expect(!verifier.isSigned(tampered, signature: signature, publicKeyPEM: pem))
        #expect(!verifier.isSigned(body + [0x0A], signature: signature, publicKeyPEM: pem))
        #expect(!verifier.isSigned(body, signature: "", publicKeyPEM: pem))
        #expect(!verifier.isSigned(body, signature: "not base64!", publicKeyPEM: pem))
        #expect(!verifier.isSigned(body, signature: try sign(body, with: other), publicKeyPEM: pem))
        #expect(!verifier.isSigned(body, signature: signature, publicKeyPEM: ""))
        #expect(!verifier.isSigned(body, signature: signature, publicKeyPEM: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"))
    }

    /// The sandbox signs with the openssl command line, as any other implementation would: the
    /// two must agree on padding and digest.
    @Test func aSignatureMadeByOpenSSLVerifies() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("webhook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("key.pem")
        let bodyFile = directory.appendingPathComponent("body.json")
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        try key.pemRepresentation.write(to: keyFile, atomically: true, encoding: .utf8)
        try Data(body).write(to: bodyFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["dgst", "-sha256", "-sign", keyFile.path, bodyFile.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let signature = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0 && signature.count == 256)
        #expect(
            verifier.isSigned(body, signature: signature.base64EncodedString(), publicKeyPEM: key.publicKey.pemRepresentation))
    }
}
