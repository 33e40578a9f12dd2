import Domain
import JSON

/// One HTTP response. `serialized()` gives the CGI form FastCGI carries: a `Status:` line,
/// headers, a blank line, the body.
public struct Response: Equatable, Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public static func == (lhs: Response, rhs: Response) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body
            && lhs.headers.map { "\($0.0): \($0.1)" } == rhs.headers.map { "\($0.0): \($0.1)" }
    }

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response; `codigo` goes to the `X-Hotspot-Codigo` header for nginx's access log.
    public static func json(
        _ status: Int, _ value: any JSONValueConvertible, codigo: String = "ok", extraHeaders: [(String, String)] = []
    ) -> Response {
        Response(
            status: status,
            headers: [("Content-Type", "application/json; charset=utf-8"), ("X-Hotspot-Codigo", codigo)] + extraHeaders,
            body: value.jsonValue.serialized())
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// The CGI response head and body as bytes.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96 + headers.count * 48 + body.count)
        func line(_ parts: String...) {
            for part in parts { out.append(contentsOf: part.utf8) }
            out.append(contentsOf: [0x0D, 0x0A])
        }
        line("Status: ", String(status), " ", Response.reason(status))
        for (name, value) in headers { line(name, ": ", value) }
        line("Content-Length: ", String(body.count))
        out.append(contentsOf: [0x0D, 0x0A])
        out.append(contentsOf: body)
        return out
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 410: "Gone"
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

public protocol JSONValueConvertible {
    var jsonValue: JSONValue { get }
}

extension JSONValue: JSONValueConvertible {
    public var jsonValue: JSONValue { self }
}
