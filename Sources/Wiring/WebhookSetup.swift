import Configuration
import Domain
import Gateway
import HTTPTransport
import Persistence
import Secrets

/// `hotspotctl company webhook`: gives a company its webhook endpoint and the key its deliveries
/// are checked with (CONTRACT §10). Safe to run again: the endpoint, a key Conekta made and a
/// webhook already registered for the URL are kept, so Conekta ends up with one webhook.
public enum WebhookSetup {
    public struct Result: Sendable, Equatable {
        public var companyID: Int64
        public var endpoint: String
        /// What Conekta posts to: `<base>/api/v1/webhooks/conekta/<endpoint>`.
        public var url: String
        public var webhookKeyID: String?
        public var webhookID: String?
        /// Made by this run (false: kept from an earlier one, or pasted).
        public var keyCreated: Bool
        public var webhookRegistered: Bool
        /// The operator pasted the public key: the URL must be registered by hand.
        public var pasted: Bool
    }

    /// The path of a company's endpoint, after the public base URL.
    public static let pathPrefix = "/api/v1/webhooks/conekta/"

    /// - Parameters:
    ///   - baseURL: the public `http(s)://host[:port][/prefix]` nginx serves the API under.
    ///   - pastedPublicKeyPEM: a key the operator made in Conekta's dashboard; then nothing is
    ///     asked of Conekta.
    public static func run(
        companyID: Int64, baseURL: String, pastedPublicKeyPEM: String?, store: PostgresStore, configuration: Configuration
    ) throws(WiringError) -> Result {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard base.hasPrefix("https://") || base.hasPrefix("http://"), !base.contains("?"), !base.contains("#"),
            !base.contains(" ")
        else { throw WiringError(description: "--url must be the public http(s) base URL, e.g. https://pay.example.com") }

        guard try stored({ () throws(StoreFailure) in try store.webhookSetup(companyID: companyID) }) != nil else {
            throw WiringError(description: "no company \(companyID)")
        }
        let endpoint = try stored { () throws(StoreFailure) in
            try store.ensureWebhookEndpoint(companyID: companyID, candidate: PaymentWiring.newWebhookEndpoint())
        }
        guard let endpoint else { throw WiringError(description: "no company \(companyID)") }
        var result = Result(
            companyID: companyID, endpoint: endpoint, url: base + pathPrefix + endpoint, keyCreated: false, webhookRegistered: false,
            pasted: pastedPublicKeyPEM != nil)

        if let pem = pastedPublicKeyPEM {
            guard ConektaWebhookSignature.isPublicKey(pem) else {
                throw WiringError(description: "the public key file is not an RSA public key in PEM (-----BEGIN PUBLIC KEY-----)")
            }
            _ = try stored { () throws(StoreFailure) in
                try store.setWebhookKey(companyID: companyID, publicKeyPEM: pem, webhookKeyID: nil, webhookID: nil)
            }
            let setup = try stored { () throws(StoreFailure) in try store.webhookSetup(companyID: companyID) }
            result.webhookKeyID = setup?.webhookKeyID
            result.webhookID = setup?.webhookID
            return result
        }

        guard let key = try stored({ () throws(StoreFailure) in try store.conektaPrivateKey(companyID: companyID) }) else {
            throw WiringError(description: "company \(companyID) has no Conekta private key: run company set-conekta first")
        }
        let client = ConektaClient(transport: CurlTransport(), configuration: ConektaClient.Configuration(configuration.conekta))
        var setup = try stored { () throws(StoreFailure) in try store.webhookSetup(companyID: companyID) }
        if setup?.webhookKeyID == nil || setup?.publicKeyPEM == nil {
            let made = try gateway("POST /webhook_keys") { () throws(GatewayFailure) in try client.createWebhookKey(using: key) }
            _ = try stored { () throws(StoreFailure) in
                try store.setWebhookKey(companyID: companyID, publicKeyPEM: made.publicKeyPEM, webhookKeyID: made.id, webhookID: nil)
            }
            result.keyCreated = true
            setup = try stored { () throws(StoreFailure) in try store.webhookSetup(companyID: companyID) }
        }
        result.webhookKeyID = setup?.webhookKeyID

        let url = result.url
        let existing = try gateway("GET /webhooks") { () throws(GatewayFailure) in try client.webhooks(url: url, using: key) }
        let webhook: ConektaClient.Webhook
        if let found = existing.first {
            webhook = found
        } else {
            webhook = try gateway("POST /webhooks") { () throws(GatewayFailure) in try client.registerWebhook(url: url, using: key) }
            result.webhookRegistered = true
        }
        _ = try stored { () throws(StoreFailure) in try store.setWebhookID(companyID: companyID, webhookID: webhook.id) }
        result.webhookID = webhook.id
        return result
    }

    private static func stored<T>(_ body: () throws(StoreFailure) -> T) throws(WiringError) -> T {
        do {
            return try body()
        } catch {
            switch error {
            case .unavailable: throw WiringError(description: "the database is not reachable (check HOTSPOT_DATABASE_URL)")
            case .failed(let message): throw WiringError(description: message)
            }
        }
    }

    private static func gateway<T>(_ call: String, _ body: () throws(GatewayFailure) -> T) throws(WiringError) -> T {
        do {
            return try body()
        } catch {
            let why: String
            switch error {
            case .notFound: why = "not found"
            case .configurationError(let message): why = "Conekta refused the company's key (\(message))"
            case .rejected(let code, let message): why = "Conekta refused it: \(code) \(message)"
            case .unavailable(let message): why = "Conekta did not answer (\(message)); run the command again"
            case .absenceUnproven(let message): why = message
            }
            throw WiringError(description: "\(call): \(why)")
        }
    }
}
