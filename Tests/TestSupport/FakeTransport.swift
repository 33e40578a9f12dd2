import HTTPTransport
import Testing

/// An `HTTPTransport` that records every request and answers it from a handler, or from a script
/// of replies served in order. No network: the clients' unit tests run on it.
public final class FakeTransport: HTTPTransport {
    /// Every request sent, in order.
    public private(set) var requests: [HTTPRequest] = []
    private let handler: (HTTPRequest) throws(TransportError) -> HTTPResponse

    /// Answers every request with `handler`.
    public init(handler: @escaping (HTTPRequest) throws(TransportError) -> HTTPResponse) {
        self.handler = handler
    }

    /// Serves `replies` in order, a failure by throwing it; a request beyond them fails the test
    /// (and throws a `TransportError` that says so).
    public convenience init(_ replies: [Result<HTTPResponse, TransportError>], sourceLocation: SourceLocation = #_sourceLocation) {
        var queue = replies[...]
        self.init { (_) throws(TransportError) -> HTTPResponse in
            guard let next = queue.popFirst() else {
                Issue.record("more requests than scripted replies", sourceLocation: sourceLocation)
                throw TransportError(kind: .other, requestSent: false, message: "fake transport: no scripted reply")
            }
            return try next.get()
        }
    }

    public func send(_ request: HTTPRequest) throws(TransportError) -> HTTPResponse {
        requests.append(request)
        return try handler(request)
    }

    /// The last request's header `name` (compared case-insensitively; a repeated header gives its
    /// last value), or nil.
    public func header(_ name: String) -> String? {
        requests.last?.headers.last { $0.name.lowercased() == name.lowercased() }?.value
    }
}

extension HTTPResponse {
    /// A reply of `status` whose body is the text `body`, labelled `contentType`.
    public static func json(_ status: Int, _ body: String, contentType: String = "application/json") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["content-type": contentType], body: Array(body.utf8))
    }
}
