/// One HTTP exchange, the only thing the RouterOS and Conekta clients need from the network.
///
/// Implementations: `CurlTransport` (libcurl). Tests use fakes that serve recorded replies.
public protocol HTTPTransport {
    /// Sends `request` and returns the reply, whatever its status.
    ///
    /// - Throws: `TransportError` when no complete reply arrived; `requestSent` tells whether
    ///   the server may have acted on the request.
    func send(_ request: HTTPRequest) throws(TransportError) -> HTTPResponse
}

public struct HTTPRequest: Sendable {
    public enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
        case put = "PUT"
        case patch = "PATCH"
        case delete = "DELETE"
    }

    public var method: Method
    public var url: String
    public var headers: [Header]
    public var body: [UInt8]?
    public var basicAuth: BasicAuth?
    public var tls: TLSTrust
    public var timeouts: Timeouts
    /// Replies larger than this fail with `TransportError.Kind.responseTooLarge`.
    public var maxResponseBytes: Int
    /// Whether a second copy of this request is harmless, so it may go on a kept-alive connection.
    /// On such a connection libcurl sends a request again when the connection turns out dead
    /// before any byte of the reply (up to five times, one per dead connection in its cache); a
    /// request that is not `resendable` goes on a connection of its own instead, at the cost of a
    /// handshake. Unless set, GET, PATCH and DELETE are resendable (a RouterOS PATCH sets values, a
    /// second DELETE finds nothing to delete) and POST and PUT, which create on RouterOS and
    /// Conekta, are not; a caller whose server refuses a second copy, and who recognises the
    /// refusal, may say otherwise.
    public var resendable: Bool {
        get { resendableOverride ?? (method != .post && method != .put) }
        set { resendableOverride = newValue }
    }
    private var resendableOverride: Bool?

    public init(
        method: Method,
        url: String,
        headers: [Header] = [],
        body: [UInt8]? = nil,
        basicAuth: BasicAuth? = nil,
        tls: TLSTrust = .systemDefault,
        timeouts: Timeouts = Timeouts(connectMilliseconds: 2_000, totalMilliseconds: 5_000),
        maxResponseBytes: Int = 4 << 20,
        resendable: Bool? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.basicAuth = basicAuth
        self.tls = tls
        self.timeouts = timeouts
        self.maxResponseBytes = maxResponseBytes
        self.resendableOverride = resendable
    }
}

public struct Header: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// HTTP basic credentials. `description` never shows the password.
public struct BasicAuth: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    public var description: String { "BasicAuth(user: \(user), password: <redacted>)" }
}

/// How the server's TLS certificate is checked.
public enum TLSTrust: Sendable, Equatable {
    /// The system's CA store, with host name verification.
    case systemDefault
    /// A PEM file of trusted CAs (or the server's own self-signed certificate), with host name
    /// verification; connecting by IP needs an IP subject alternative name.
    case caFile(String)
    /// `sha256//<base64 of the SHA-256 of the DER SubjectPublicKeyInfo>`, several joined by `;`.
    /// The chain and the name are not checked; the key is.
    case pinnedPublicKey(String)
    /// No verification at all. Only behind an explicit operator flag, which logs a warning.
    case insecure
}

public struct Timeouts: Sendable, Equatable {
    public var connectMilliseconds: Int
    public var totalMilliseconds: Int

    public init(connectMilliseconds: Int, totalMilliseconds: Int) {
        self.connectMilliseconds = connectMilliseconds
        self.totalMilliseconds = totalMilliseconds
    }
}

public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    /// Header names in lower case; a repeated header keeps its last value.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The media type without parameters, lower-cased (`application/json`).
    public var mediaType: String? {
        guard let value = headers["content-type"] else { return nil }
        // Bytes, not Characters: a media type is ASCII (RFC 9110 §8.3.1), and this runs for every reply.
        var type = Array(value.utf8.prefix { $0 != UInt8(ascii: ";") })
        while let last = type.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { type.removeLast() }
        let first = type.firstIndex { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") } ?? type.endIndex
        for index in type.indices where type[index] >= UInt8(ascii: "A") && type[index] <= UInt8(ascii: "Z") {
            type[index] += 0x20
        }
        return String(decoding: type[first...], as: UTF8.self)
    }
}

/// Why no complete reply arrived. `description` is safe to log: no URL credentials, no bodies.
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case couldNotResolve = "could_not_resolve"
        case couldNotConnect = "could_not_connect"
        case tlsFailure = "tls_failure"
        case pinMismatch = "pin_mismatch"
        case timedOut = "timed_out"
        case connectionLost = "connection_lost"
        case responseTooLarge = "response_too_large"
        case invalidRequest = "invalid_request"
        case other = "other"
    }

    public var kind: Kind
    /// True when the request left this process: the server may have acted on it.
    public var requestSent: Bool
    /// The library's code (a `CURLcode` for `CurlTransport`).
    public var code: Int32
    public var message: String

    public init(kind: Kind, requestSent: Bool, code: Int32 = 0, message: String = "") {
        self.kind = kind
        self.requestSent = requestSent
        self.code = code
        self.message = message
    }

    public var description: String {
        "TransportError(\(kind.rawValue), sent: \(requestSent), code: \(code), \(message))"
    }
}
