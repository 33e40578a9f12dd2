import HTTPTransport

/// An `HTTPTransport` that records every request and answers from a script, in order.
final class FakeTransport: HTTPTransport {
    private(set) var requests: [HTTPRequest] = []
    private var script: [Result<HTTPResponse, TransportError>]

    init(_ script: [Result<HTTPResponse, TransportError>]) {
        self.script = script
    }

    /// Answers every request with `status` and `body` (JSON text).
    convenience init(status: Int, body: String, contentType: String = "application/vnd.conekta-v2.2.0+json") {
        self.init([.success(.json(status, body, contentType: contentType))])
    }

    func send(_ request: HTTPRequest) throws(TransportError) -> HTTPResponse {
        requests.append(request)
        guard !script.isEmpty else { return .json(599, "fake transport: script exhausted") }
        switch script.removeFirst() {
        case .success(let response): return response
        case .failure(let error): throw error
        }
    }

    /// The last request's header `name`.
    func header(_ name: String) -> String? {
        requests.last?.headers.last { $0.name.lowercased() == name.lowercased() }?.value
    }
}

extension HTTPResponse {
    static func json(
        _ status: Int, _ body: String, contentType: String = "application/vnd.conekta-v2.2.0+json"
    )
        -> HTTPResponse
    {
        HTTPResponse(status: status, headers: ["content-type": contentType], body: Array(body.utf8))
    }
}
