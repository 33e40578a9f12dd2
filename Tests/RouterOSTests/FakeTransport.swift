import HTTPTransport
import Testing

/// An `HTTPTransport` that serves scripted replies and records every request.
final class FakeTransport: HTTPTransport {
    private var handler: (HTTPRequest) throws(TransportError) -> HTTPResponse
    private(set) var requests: [HTTPRequest] = []

    /// Answers every request with `handler`.
    init(handler: @escaping (HTTPRequest) throws(TransportError) -> HTTPResponse) {
        self.handler = handler
    }

    /// Serves `replies` in order; a request beyond them fails the test.
    convenience init(_ replies: [Result<HTTPResponse, TransportError>]) {
        var queue = replies[...]
        self.init { (_) throws(TransportError) -> HTTPResponse in
            guard let next = queue.popFirst() else {
                Issue.record("more requests than scripted replies")
                throw TransportError(kind: .other, requestSent: false, message: "no scripted reply")
            }
            return try next.get()
        }
    }

    /// Serves the recorded fixtures named `scenarios`, in order.
    convenience init(fixtures scenarios: String...) {
        self.init(scenarios.map { .success(Fixtures.response($0)) })
    }

    func send(_ request: HTTPRequest) throws(TransportError) -> HTTPResponse {
        requests.append(request)
        return try handler(request)
    }
}
