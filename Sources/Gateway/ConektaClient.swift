import Domain
import Foundation
import HTTPTransport

/// Conekta's Orders API over an `HTTPTransport`: one card charge per order, lookups for
/// reconciliation, refunds and cancellations.
///
/// Create one per worker thread around that thread's transport (a `CurlTransport` belongs to one
/// thread). Nothing is retried except a GET after a transport failure, once; `POST` never is,
/// because Conekta has no idempotency keys
/// (https://github.com/conekta/openapi: no `Idempotency-Key` anywhere in `api.yaml`).
public struct ConektaClient {
    /// Settings shared by every thread's client.
    public struct Configuration: Sendable, Equatable {
        /// Without a trailing slash; `https://api.conekta.io` in production.
        public var baseURL: String
        /// Sent as `Accept: application/vnd.conekta-v<apiVersion>+json`.
        public var apiVersion: String
        /// A PEM file of trusted CAs instead of the system's store (the sandbox's certificate in tests).
        public var caFile: String?
        public var timeouts: Timeouts
        /// `limit` of each `GET /orders` page while reconciling (Conekta allows 1…250).
        public var listPageSize: Int
        /// Reconciliation gives up (`absenceUnproven`) rather than read more pages than this.
        public var maxListPages: Int

        public init(
            baseURL: String = "https://api.conekta.io", apiVersion: String = "2.2.0", caFile: String? = nil,
            connectTimeoutMilliseconds: Int = 3_000, totalTimeoutMilliseconds: Int = 25_000,
            listPageSize: Int = 250, maxListPages: Int = 40
        ) {
            var baseURL = baseURL
            while baseURL.hasSuffix("/") { baseURL.removeLast() }
            self.baseURL = baseURL
            self.apiVersion = apiVersion
            self.caFile = caFile
            self.timeouts = Timeouts(
                connectMilliseconds: connectTimeoutMilliseconds, totalMilliseconds: totalTimeoutMilliseconds)
            self.listPageSize = min(max(listPageSize, 1), 250)
            self.maxListPages = max(maxListPages, 1)
        }
    }

    /// The calls this client makes; the raw value names them in errors and matches the sandbox's
    /// fault targets.
    enum Operation: String {
        case createOrder = "orders.create"
        case getOrder = "orders.get"
        case listOrders = "orders.list"
        case refund = "orders.refund"
        case cancel = "orders.cancel"
        case createWebhookKey = "webhook_keys.create"
        case listWebhooks = "webhooks.list"
        case createWebhook = "webhooks.create"
    }

    /// The metadata key holding our payment attempt id.
    public static let attemptIDKey = "attempt_id"

    public let configuration: Configuration
    let transport: any HTTPTransport
    let searchEvidence: OrderSearchEvidence

    /// - Parameter searchEvidence: what the process knows of `search` per account; share one
    ///   among every thread's client.
    public init(
        transport: any HTTPTransport, configuration: Configuration = Configuration(),
        searchEvidence: OrderSearchEvidence = OrderSearchEvidence()
    ) {
        self.transport = transport
        self.configuration = configuration
        self.searchEvidence = searchEvidence
    }

    /// One exchange with Conekta. A GET is sent again once after a transport failure; nothing else
    /// ever is.
    func exchange(
        _ operation: Operation, _ method: HTTPRequest.Method, path: String, query: [(String, String)] = [],
        body: [UInt8]? = nil, key: GatewayKey
    ) throws(ConektaError) -> HTTPResponse {
        var url = configuration.baseURL + path
        if !query.isEmpty {
            url +=
                "?" + query.map { "\(Self.percentEncoded($0.0))=\(Self.percentEncoded($0.1))" }.joined(separator: "&")
        }
        var headers = [
            Header("Authorization", "Bearer \(key.privateKey)"),
            Header("Accept", "application/vnd.conekta-v\(configuration.apiVersion)+json"),
            Header("Accept-Language", "es"),
            Header("User-Agent", "hotspot-pay ConektaClient"),
        ]
        if let body, !body.isEmpty { headers.append(Header("Content-Type", "application/json")) }
        let request = HTTPRequest(
            method: method, url: url, headers: headers, body: body,
            tls: configuration.caFile.map { .caFile($0) } ?? .systemDefault, timeouts: configuration.timeouts)
        let attempts = method == .get ? 2 : 1
        var failure = TransportError(kind: .other, requestSent: false)
        for _ in 0..<attempts {
            do {
                return try transport.send(request)
            } catch {
                failure = error
            }
        }
        throw ConektaError(kind: .transport, operation: operation.rawValue, transport: failure)
    }

    /// `response` decoded as an order when its status is 2xx; the error it carries otherwise.
    func decodedOrder(_ response: HTTPResponse, _ operation: Operation) throws(ConektaError) -> OrderBody {
        guard (200..<300).contains(response.status) else { throw Self.error(from: response, operation) }
        guard let order = OrderBody.decode(from: response.body), order.id != nil else {
            throw ConektaError(kind: .malformedReply, operation: operation.rawValue, status: response.status)
        }
        return order
    }

    /// The error an error status carries, read from Conekta's envelope when there is one (bodies
    /// may be empty or not JSON: the recorded mock has empty 401s and 500s).
    static func error(from response: HTTPResponse, _ operation: Operation) -> ConektaError {
        let envelope = ErrorBody.decode(from: response.body)
        return ConektaError(
            kind: .http, operation: operation.rawValue, status: response.status, type: envelope?.type,
            code: envelope?.code, param: envelope?.param, message: envelope?.message,
            debugMessage: envelope?.debugMessage, logID: envelope?.logID, orderID: envelope?.data?.id)
    }

    /// `/orders/<id>` with the id percent-encoded; an empty id is refused rather than turned into
    /// `/orders/`, which would list every order.
    static func orderPath(_ id: String, _ suffix: String = "", _ operation: Operation) throws(ConektaError) -> String {
        guard !id.isEmpty else {
            throw ConektaError(kind: .invalidInput, operation: operation.rawValue, debugMessage: "empty order id")
        }
        return "/orders/" + percentEncoded(id) + suffix
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func percentEncoded(_ text: String) -> String {
        // Every string can be percent-encoded; nil only for invalid UTF-16, which String cannot hold.
        text.addingPercentEncoding(withAllowedCharacters: unreserved)!
    }
}

@available(*, unavailable, message: "a ConektaClient uses its thread's transport")
extension ConektaClient: Sendable {}
