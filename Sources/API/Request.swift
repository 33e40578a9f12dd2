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

    /// Builds a request from FastCGI parameters (`REQUEST_METHOD`, `DOCUMENT_URI`, `HTTP_*`…).
    public init(parameters: [String: String], body: [UInt8]) {
        var headers: [String: String] = Dictionary(minimumCapacity: 8)
        for (name, value) in parameters where name.hasPrefix("HTTP_") {
            // HTTP_X_API_KEY → x-api-key, written straight into the new string.
            let source = name.utf8.dropFirst(5)
            let header = String(unsafeUninitializedCapacity: source.count) { buffer in
                for (index, byte) in source.enumerated() {
                    buffer[index] = byte == UInt8(ascii: "_") ? UInt8(ascii: "-") : (byte >= 0x41 && byte <= 0x5A ? byte + 32 : byte)
                }
                return source.count
            }
            headers[header] = value
        }
        var path = parameters["DOCUMENT_URI"] ?? ""
        var query = parameters["QUERY_STRING"] ?? ""
        if path.isEmpty, let uri = parameters["REQUEST_URI"] {
            let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            path = String(parts[0])
            if parts.count > 1, query.isEmpty { query = String(parts[1]) }
        }
        self.init(
            method: parameters["REQUEST_METHOD"] ?? "GET",
            path: path,
            query: query,
            headers: headers,
            contentType: parameters["CONTENT_TYPE"].flatMap { $0.isEmpty ? nil : $0 },
            body: body,
            remoteAddress: parameters["REMOTE_ADDR"],
            requestID: Request.validRequestID(headers["x-request-id"]) ?? "-"
        )
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
