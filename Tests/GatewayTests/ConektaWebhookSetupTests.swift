import Domain
import Foundation
import Gateway
import HTTPTransport
import TestSupport
import Testing

/// The webhook set-up calls (`POST /webhook_keys`, `GET`/`POST /webhooks`) over real HTTPS
/// against `hotspot-sandbox conekta`.
@Suite(.timeLimit(.minutes(5))) struct ConektaWebhookSetupTests {
    typealias Harness = ConektaContractTests.Harness
    static let key = ConektaContractTests.key

    @Test func aWebhookKeyComesWithItsPublicKeyAsPEM() throws {
        let harness = try Harness()
        let made = try harness.client.createWebhookKey(using: Self.key)
        #expect(made.publicKeyPEM.hasPrefix("-----BEGIN PUBLIC KEY-----"))
        #expect(made.publicKeyPEM.contains("-----END PUBLIC KEY-----"))
        let keys = try harness.sandbox.state()["webhook_keys"] as? [[String: Any]] ?? []
        let stored = try #require(keys.first { $0["id"] as? String == made.id })
        #expect(stored["public_key"] as? String == made.publicKeyPEM)
        #expect(stored["active"] as? Bool == true)
        // Each call makes another pair: the operator command stores the id to make only one.
        #expect(try harness.client.createWebhookKey(using: Self.key).id != made.id)
    }

    @Test func aURLIsRegisteredAndFoundAgainByItsExactURL() throws {
        let harness = try Harness(arguments: ["--private-key", "key_sandbox_private", "--private-key", "key_other_account"])
        let url = "https://pay.example.mx/api/v1/webhooks/conekta/whe_" + String(repeating: "0a", count: 16)
        #expect(try harness.client.webhooks(url: url, using: Self.key).isEmpty)
        let webhook = try harness.client.registerWebhook(url: url, using: Self.key)
        #expect(webhook.url == url)
        #expect(webhook.status == "listening")
        #expect(try harness.client.webhooks(url: url, using: Self.key) == [webhook])
        #expect(try harness.client.webhooks(url: url + "x", using: Self.key).isEmpty)
        // Another account does not see it.
        #expect(try harness.client.webhooks(url: url, using: GatewayKey(privateKey: "key_other_account")).isEmpty)
    }

    @Test func refusalsAndOutagesAreGatewayFailures() throws {
        let harness = try Harness(arguments: ["--webhook-refuse-loopback"])
        #expect {
            _ = try harness.client.registerWebhook(url: "http://127.0.0.1:9/hook", using: Self.key)
        } throws: { error in
            guard case .rejected = error as? GatewayFailure else { return false }
            return true
        }
        try harness.sandbox.arm(["op": "webhook_keys.create", "kind": "error", "status": 503, "times": 1])
        #expect {
            _ = try harness.client.createWebhookKey(using: Self.key)
        } throws: { error in
            guard case .unavailable = error as? GatewayFailure else { return false }
            return true
        }
        #expect(try harness.calls("webhook_keys.create") == 1)
    }
}
