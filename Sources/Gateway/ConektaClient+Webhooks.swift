import Domain
import HTTPTransport
import JSON

/// Setting up an account's webhooks (CONTRACT §10; docs/sources.md C6): the key pair whose
/// public half checks each delivery's `Digest`, and the URL events are posted to. For the
/// operator command; the server never calls these.
extension ConektaClient {
    /// A webhook key Conekta made (`POST /webhook_keys`). `publicKeyPEM` is shown only in this
    /// answer: Conekta keeps the private half and never shows the public one again.
    public struct WebhookKey: Sendable, Equatable {
        public var id: String
        public var publicKeyPEM: String
    }

    /// A webhook as Conekta lists it.
    public struct Webhook: Sendable, Equatable {
        public var id: String
        public var url: String
        /// `listening`, or why Conekta stopped sending (`failing`, …).
        public var status: String?
    }

    /// Makes a new, active key pair on the account of `key`.
    public func createWebhookKey(using key: GatewayKey) throws(GatewayFailure) -> WebhookKey {
        do throws(ConektaError) {
            let body = JSONValue.object([("active", .bool(true))]).serialized()
            let response = try exchange(.createWebhookKey, .post, path: "/webhook_keys", body: body, key: key)
            guard (200..<300).contains(response.status) else { throw Self.error(from: response, .createWebhookKey) }
            guard let reply = WebhookKeyBody.decode(from: response.body), let id = reply.id, let pem = reply.publicKey,
                pem.contains("-----BEGIN PUBLIC KEY-----")
            else { throw ConektaError(kind: .malformedReply, operation: Operation.createWebhookKey.rawValue, status: response.status) }
            return WebhookKey(id: id, publicKeyPEM: pem)
        } catch {
            throw error.gatewayFailure
        }
    }

    /// The account's webhooks whose URL is exactly `url` (Conekta's `url` filter may match more
    /// loosely, so each is compared).
    public func webhooks(url: String, using key: GatewayKey) throws(GatewayFailure) -> [Webhook] {
        do throws(ConektaError) {
            let response = try exchange(.listWebhooks, .get, path: "/webhooks", query: [("url", url), ("limit", "250")], key: key)
            guard (200..<300).contains(response.status) else { throw Self.error(from: response, .listWebhooks) }
            guard let page = ListBody<WebhookBody>.decode(from: response.body) else {
                throw ConektaError(kind: .malformedReply, operation: Operation.listWebhooks.rawValue, status: response.status)
            }
            return page.data.compactMap(\.webhook).filter { $0.url == url }
        } catch {
            throw error.gatewayFailure
        }
    }

    /// Registers `url` for every event (`POST /webhooks` without `subscribed_events`). Not
    /// idempotent at Conekta: look for it with `webhooks(url:)` first.
    public func registerWebhook(url: String, using key: GatewayKey) throws(GatewayFailure) -> Webhook {
        do throws(ConektaError) {
            let body = JSONValue.object([("url", .string(url))]).serialized()
            let response = try exchange(.createWebhook, .post, path: "/webhooks", body: body, key: key)
            guard (200..<300).contains(response.status) else { throw Self.error(from: response, .createWebhook) }
            guard let webhook = WebhookBody.decode(from: response.body)?.webhook else {
                throw ConektaError(kind: .malformedReply, operation: Operation.createWebhook.rawValue, status: response.status)
            }
            return webhook
        } catch {
            throw error.gatewayFailure
        }
    }
}

/// The spec's `webhook_key_create_response`, as far as it is read.
struct WebhookKeyBody: ConektaDecodable {
    var id: String?
    var publicKey: String?

    init?(json: JSONValue) {
        guard case .object = json else { return nil }
        id = json["id"]?.stringValue
        publicKey = json["public_key"]?.stringValue
    }
}

/// The spec's `webhook_response`, as far as it is read.
struct WebhookBody: ConektaDecodable {
    var id: String?
    var url: String?
    var status: String?

    init?(json: JSONValue) {
        guard case .object = json else { return nil }
        id = json["id"]?.stringValue
        url = json["url"]?.stringValue
        status = json["status"]?.stringValue
    }

    var webhook: ConektaClient.Webhook? {
        guard let id, let url else { return nil }
        return ConektaClient.Webhook(id: id, url: url, status: status)
    }
}
