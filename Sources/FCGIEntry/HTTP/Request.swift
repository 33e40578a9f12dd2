import Domain
import Foundation

/// One HTTP request as nginx hands it over FastCGI, copied into Swift values.
struct Request {
    var method: String
    /// The path without the query string, as nginx normalised it (`DOCUMENT_URI`).
    var path: String
    var query: String
    /// Header names in lower case with `-` (`x-api-key`), from the `HTTP_*` parameters.
    var headers: [String: String]
    var contentType: String?
    var body: [UInt8]
    var remoteAddress: String?
    /// nginx's `$request_id` (or a caller's, validated by nginx's map); "-" when absent.
    var requestID: String

    init(
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
    init(parameters: [String: String], body: [UInt8]) {
        var headers: [String: String] = [:]
        for (name, value) in parameters where name.hasPrefix("HTTP_") {
            headers[name.dropFirst(5).lowercased().replacingOccurrences(of: "_", with: "-")] = value
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
    static func validRequestID(_ value: String?) -> String? {
        guard let value, (1...64).contains(value.utf8.count),
            value.utf8.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            })
        else { return nil }
        return value
    }
}

/// One response. Serialized as a CGI head (`Status:` line, headers, blank line) and the body.
struct Response: Equatable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    static func == (lhs: Response, rhs: Response) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body
            && lhs.headers.map { "\($0.0): \($0.1)" } == rhs.headers.map { "\($0.0): \($0.1)" }
    }

    init(status: Int, headers: [(String, String)] = [], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response; `codigo` goes to the `X-Hotspot-Codigo` header for nginx's access log.
    static func json(
        _ status: Int, _ value: any JSONValueConvertible, codigo: String = "ok", extraHeaders: [(String, String)] = []
    ) -> Response {
        Response(
            status: status,
            headers: [("Content-Type", "application/json; charset=utf-8"), ("X-Hotspot-Codigo", codigo)] + extraHeaders,
            body: value.jsonValue.serialized())
    }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// The CGI response head and body as bytes.
    func serialized() -> [UInt8] {
        var head = "Status: \(status) \(Response.reason(status))\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Payload Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

protocol JSONValueConvertible {
    var jsonValue: JSONValue { get }
}

extension JSONValue: JSONValueConvertible {
    var jsonValue: JSONValue { self }
}
