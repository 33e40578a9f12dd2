import Domain
import HTTPTransport

/// Why a call to Conekta failed. `description` is safe to log: it never holds the private key,
/// the card token or card data, and text taken from Conekta has anything shaped like a token or
/// key replaced.
public struct ConektaError: Error, Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Kind: String, Sendable {
        /// No complete reply arrived (`transport` says whether the request may have been acted on).
        case transport
        /// Conekta answered with an error status.
        case http
        /// A success status whose body is not the JSON object expected.
        case malformedReply = "malformed_reply"
        /// The client refused to send the request (an amount or id Conekta would reject).
        case invalidInput = "invalid_input"
        /// Reconciliation would have to read more pages than `Configuration.maxListPages`.
        case listingTooLong = "listing_too_long"
    }

    public var kind: Kind
    /// `orders.create`, `orders.get`, `orders.list`, `orders.refund`, `orders.cancel`, or for the
    /// webhook set-up `webhook_keys.create`, `webhooks.list`, `webhooks.create`.
    public var operation: String
    /// The HTTP status, when a reply arrived.
    public var status: Int?
    /// Conekta's error `type` (`processing_error`, `parameter_validation_error`, …).
    public var type: String?
    /// `details[0].code` (or the legacy top-level `code`).
    public var code: String?
    /// `details[0].param` (or the legacy top-level `param`).
    public var param: String?
    /// `details[0].message`: localised (Spanish with `Accept-Language: es`), meant for people.
    public var message: String?
    /// `details[0].debug_message`: English, meant for us.
    public var debugMessage: String?
    public var logID: String?
    /// The order Conekta created anyway (`data.id` of a decline).
    public var orderID: String?
    public var transport: TransportError?

    public init(
        kind: Kind, operation: String, status: Int? = nil, type: String? = nil, code: String? = nil,
        param: String? = nil, message: String? = nil, debugMessage: String? = nil, logID: String? = nil,
        orderID: String? = nil, transport: TransportError? = nil
    ) {
        self.kind = kind
        self.operation = operation
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.message = message.map(Self.redacted)
        self.debugMessage = debugMessage.map(Self.redacted)
        self.logID = logID
        self.orderID = orderID
        self.transport = transport
    }

    /// A label of bounded cardinality for log fields and outcome reasons: `http_402`,
    /// `transport_timed_out`, `malformed_reply`.
    public var shortDescription: String {
        switch kind {
        case .http: "http_\(status ?? 0)"
        case .transport: "transport_\(transport?.kind.rawValue ?? "other")"
        default: kind.rawValue
        }
    }

    public var description: String {
        var parts = [operation, shortDescription]
        if let type { parts.append(type) }
        if let code { parts.append(code) }
        if let param { parts.append("param: \(param)") }
        if let transport { parts.append("sent: \(transport.requestSent)") }
        return "ConektaError(\(parts.joined(separator: ", ")))"
    }

    public var debugDescription: String {
        var text = description
        if let debugMessage { text += " debug_message: \(debugMessage)" }
        if let logID { text += " log_id: \(logID)" }
        if let orderID { text += " order: \(orderID)" }
        if let transport { text += " \(transport)" }
        return text
    }

    /// The Domain's view of this failure, for every call except `charge`.
    public var gatewayFailure: GatewayFailure {
        switch kind {
        case .transport, .malformedReply:
            return .unavailable(description)
        case .listingTooLong:
            return .absenceUnproven(description)
        case .invalidInput:
            return .rejected(code: kind.rawValue, message: debugMessage ?? description)
        case .http:
            let status = status ?? 0
            switch status {
            case 404 where isMissingEntity:
                return .notFound
            case 401, 403, 404, 409:
                // A 404 without Conekta's "entity not found" is a wrong base URL, not a missing order.
                return .configurationError(description)
            case 408, 429, 500...:
                return .unavailable(description)
            default:
                return .rejected(code: code ?? shortDescription, message: message ?? debugMessage ?? description)
            }
        }
    }

    /// True for Conekta's own "no such object" (`resource_not_found_error`), as opposed to a 404
    /// from a proxy or a wrong path.
    var isMissingEntity: Bool {
        status == 404
            && (type == "resource_not_found_error" || code?.hasPrefix("conekta.errors.resource_not_found") == true)
    }

    /// `text` with anything shaped like a Conekta token or key (`tok_…`, `key_…`) replaced.
    static func redacted(_ text: String) -> String {
        text.replacing(/\b(tok|key)_[A-Za-z0-9_\-]+/) { match in "\(match.1)_<redacted>" }
    }
}
