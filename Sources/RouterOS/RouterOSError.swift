import HTTPTransport

/// Why a RouterOS REST call failed.
///
/// `description` is safe to log: it never holds a password, the Authorization header or a request
/// body. The Domain sees these only as `RouterFailure` (see `RouterOSClient+HotspotUserDirectory`).
public struct RouterOSError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// 400 `failure: already have user with this name for this server`.
        case duplicateName = "duplicate_name"
        /// 400 `input does not match any value of profile`.
        case profileNotFound = "profile_not_found"
        /// 400 `ambiguous value of profile, more than one possible value matches input`.
        case profileAmbiguous = "profile_ambiguous"
        /// A RouterOS 404 (`{"error":404,"message":"Not Found"}`) or 400 `no such item`.
        case noSuchItem = "no_such_item"
        /// 400 `unknown host IP <ip>` from `active/login`.
        case unknownHost = "unknown_host"
        /// Any other 400 from `active/login` (bad password, disabled user, wrong MAC…).
        case loginRejected = "login_rejected"
        /// 400 `unknown parameter <name>`: the client sent an argument this RouterOS lacks.
        case unknownParameter = "unknown_parameter"
        /// 400 `Session closed`: RouterOS cut the command at its 60 s limit.
        case sessionClosed = "session_closed"
        /// Any other 400.
        case badRequest = "bad_request"
        /// 401: the router refused the REST credentials.
        case authenticationFailed = "authentication_failed"
        /// A 5xx, which RouterOS itself does not send: something between us and it failed.
        case serverError = "server_error"
        /// Any other status (406 no such command, 403, a redirect…).
        case unexpectedStatus = "unexpected_status"
        /// A reply that is not `application/json`, such as WebFig's or a portal's HTML.
        case notJSON = "not_json"
        /// JSON that does not have the expected shape.
        case malformedReply = "malformed_reply"
        /// An argument the client refuses to send, such as an `.id` that is not `*` and hex digits.
        case invalidArgument = "invalid_argument"
        /// Nothing was sent: refused, unresolvable, TLS failure, pin mismatch, connect timeout.
        case unreachable = "unreachable"
        /// The request left and the total timeout passed without a complete reply.
        case timedOut = "timed_out"
        /// The request left and the connection closed without a complete reply.
        case connectionLost = "connection_lost"
        /// The per-router concurrency cap stayed full for longer than the allowed wait.
        case busy = "busy"
    }

    public var kind: Kind
    /// The RouterOS command as `menu.verb`: `user.add`, `user.set`, `active.login`…
    public var operation: String
    /// The reply's HTTP status; nil when no reply came.
    public var status: Int?
    /// RouterOS's `detail` (or `message`), or the transport's message: control characters and the
    /// password sent with the call removed, at most 200 characters.
    public var detail: String?
    /// True when the call changes state, may have reached the router, and its outcome is unknown:
    /// look the object up before trying again.
    public var maybeApplied: Bool
    /// For a failure of the transport (no complete reply): which step failed, for a diagnosis
    /// (name, connection, TLS, the pin).
    public var transport: TransportError.Kind?

    public init(kind: Kind, operation: String, status: Int? = nil, detail: String? = nil, maybeApplied: Bool = false) {
        self.kind = kind
        self.operation = operation
        self.status = status
        self.detail = detail
        self.maybeApplied = maybeApplied
    }

    public var description: String {
        var text = "RouterOSError(\(kind.rawValue), op: \(operation)"
        if let status { text += ", status: \(status)" }
        if maybeApplied { text += ", maybe applied" }
        if let detail, !detail.isEmpty { text += ", detail: \(detail)" }
        return text + ")"
    }

    /// `text` made fit for `detail`: secrets replaced, control characters turned into spaces, cut
    /// to 200 characters.
    static func loggable(_ text: String, redacting secrets: [String]) -> String {
        var cleaned = text
        for secret in secrets where !secret.isEmpty {
            cleaned = cleaned.replacing(secret, with: "<redacted>")
        }
        let scalars = cleaned.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) }
        let limited = scalars.prefix(200)
        return String(limited) + (scalars.count > 200 ? "…" : "")
    }
}
