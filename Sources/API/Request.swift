import Domain
import Foundation

/// One HTTP request as nginx hands it over FastCGI, copied into Swift values.
public struct Request: Sendable {
    public var method: String
    /// The path without the query string, as nginx normalised it (`DOCUMENT_URI`).
    public var path: String
    public var query: String
    /// Header names in lower case with `-` (`x-api-key`), from the `HTTP_*` parameters.
    public var headers: [String: String]
    public var contentType: String?
    public var body: [UInt8]
    public var remoteAddress: String?
    /// nginx's `$request_id` (or a caller's, validated by nginx's map); "-" when absent.
    public var requestID: String

    public init(
        method: String, path: String, query: String = "", headers: [String: String] = [:], contentType: String? = nil,
        body: [UInt8] = [], remoteAddress: String? = nil, requestID: String = "-"
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.contentType = contentType
        self.body = body
        self.remoteAddress = remoteAddress
        self.requestID = requestID
    }

    /// Builds a request from FastCGI parameters.
    public init(parameters: CGIParameters, body: [UInt8]) {
        var headers: [String: String] = Dictionary(minimumCapacity: 4)
        if let value = parameters.apiKey { headers["x-api-key"] = value }
        if let value = parameters.authorization { headers["authorization"] = value }
        if let value = parameters.idempotencyKey { headers["idempotency-key"] = value }
        if let value = parameters.requestID { headers["x-request-id"] = value }
        if let value = parameters.digest { headers["digest"] = value }
        var path = parameters.documentURI ?? ""
        var query = parameters.queryString ?? ""
        if path.isEmpty, let uri = parameters.requestURI {
            let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            path = String(parts[0])
            if parts.count > 1, query.isEmpty { query = String(parts[1]) }
        }
        self.init(
            method: parameters.requestMethod ?? "GET",
            path: path,
            query: query,
            headers: headers,
            contentType: parameters.contentType.flatMap { $0.isEmpty ? nil : $0 },
            body: body,
            remoteAddress: parameters.remoteAddress,
            requestID: Request.validRequestID(parameters.requestID) ?? "-"
        )
    }

    /// Builds a request from FastCGI parameters by name (`REQUEST_METHOD`, `HTTP_X_API_KEY`…);
    /// names the server does not read are left out, as they are off the wire.
    public init(parameters: [String: String], body: [UInt8]) {
        var cgi = CGIParameters()
        for (name, value) in parameters { cgi[name] = value }
        self.init(parameters: cgi, body: body)
    }

    /// Accepts ids of 1–64 characters from `[A-Za-z0-9._-]`; anything else is not logged.
    public static func validRequestID(_ value: String?) -> String? {
        guard let value, (1...64).contains(value.utf8.count),
            value.utf8.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            })
        else { return nil }
        return value
    }
}

/// The CGI variables and request headers the server reads, as nginx passes them over FastCGI
/// (fixed fields: a request needs no dictionary, and no hashing, to carry them).
public struct CGIParameters: Sendable, Equatable {
    public var requestMethod: String?
    public var queryString: String?
    public var contentType: String?
    public var contentLength: String?
    public var requestURI: String?
    public var documentURI: String?
    public var remoteAddress: String?
    /// `HTTP_X_API_KEY`
    public var apiKey: String?
    /// `HTTP_AUTHORIZATION`
    public var authorization: String?
    /// `HTTP_IDEMPOTENCY_KEY`
    public var idempotencyKey: String?
    /// `HTTP_X_REQUEST_ID`
    public var requestID: String?
    /// `HTTP_DIGEST`: a webhook delivery's signature (CONTRACT §10).
    public var digest: String?

    public init() {}

    /// The parameters' names, in the order of `subscript(index:)`.
    public static let names = [
        "REQUEST_METHOD", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH", "REQUEST_URI", "DOCUMENT_URI", "REMOTE_ADDR",
        "HTTP_X_API_KEY", "HTTP_AUTHORIZATION", "HTTP_IDEMPOTENCY_KEY", "HTTP_X_REQUEST_ID", "HTTP_DIGEST",
    ]

    /// The parameter `names[index]`.
    public subscript(index index: Int) -> String? {
        get {
            switch index {
            case 0: requestMethod
            case 1: queryString
            case 2: contentType
            case 3: contentLength
            case 4: requestURI
            case 5: documentURI
            case 6: remoteAddress
            case 7: apiKey
            case 8: authorization
            case 9: idempotencyKey
            case 10: requestID
            case 11: digest
            default: nil
            }
        }
        set {
            switch index {
            case 0: requestMethod = newValue
            case 1: queryString = newValue
            case 2: contentType = newValue
            case 3: contentLength = newValue
            case 4: requestURI = newValue
            case 5: documentURI = newValue
            case 6: remoteAddress = newValue
            case 7: apiKey = newValue
            case 8: authorization = newValue
            case 9: idempotencyKey = newValue
            case 10: requestID = newValue
            case 11: digest = newValue
            default: break
            }
        }
    }

    /// The parameter called `name`; nil (and ignored when set) for a name the server does not read.
    public subscript(name: String) -> String? {
        get { Self.names.firstIndex(of: name).flatMap { self[index: $0] } }
        set {
            guard let index = Self.names.firstIndex(of: name) else { return }
            self[index: index] = newValue
        }
    }
}
