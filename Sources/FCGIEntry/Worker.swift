import API
import Domain
import Logging
import Synchronization

/// One worker thread's loop: accept a FastCGI request, answer it, repeat until shutdown.
final class Worker {
    let handler: PortalHandler
    let logger: Logger
    let maxBodyBytes: Int
    let recorder: MetricsRecorder

    init(handler: PortalHandler, logger: Logger, maxBodyBytes: Int, recorder: MetricsRecorder) {
        self.handler = handler
        self.logger = logger
        self.maxBodyBytes = maxBodyBytes
        self.recorder = recorder
    }

    func serve(listening descriptor: Int32, draining: borrowing Atomic<Bool>, status: WorkerStatus) {
        defer { status.finished.store(true, ordering: .sequentiallyConsistent) }
        let request = FastCGIRequest(listening: descriptor)
        while !draining.load(ordering: .relaxed) {
            // Relaxed: shutdown polls this every 20 ms, so a late view only delays a wake-up.
            status.inAccept.store(true, ordering: .relaxed)
            let accepted = request.accept()
            status.inAccept.store(false, ordering: .relaxed)
            guard accepted else { break }
            let parameters = request.parameters()
            let length = Int(parameters.contentLength ?? "") ?? 0
            let limit = bodyLimit(path: parameters.documentURI ?? parameters.requestURI ?? "")
            let bodyRead = length >= 0 && length <= limit
            let response = respond(parameters: parameters, length: length, bodyRead: bodyRead, limit: limit, request: request)
            request.write(response.serialized())
            request.finish(bodyRead: bodyRead)
        }
    }

    /// A webhook's body holds a whole order; every other route keeps the configured limit.
    private func bodyLimit(path: String) -> Int {
        path.hasPrefix(Route.webhookPrefix) ? max(maxBodyBytes, Route.webhookMaxBodyBytes) : maxBodyBytes
    }

    private func respond(
        parameters: CGIParameters, length: Int, bodyRead: Bool, limit: Int, request: borrowing FastCGIRequest
    ) -> Response {
        let incoming = Request(parameters: parameters, body: bodyRead ? request.readBody(count: length) : [])
        let requestID = incoming.requestID
        let matched = Route.match(method: incoming.method, path: incoming.path)
        let response =
            !bodyRead
            ? ErrorResponse.payloadTooLarge(limit: limit, requestID: requestID)
            : handler.respond(to: incoming, matched: matched, logger: logger)
        count(response, matched)
        logger.debug(
            "request",
            metadata: [
                "request_id": "\(requestID)", "method": "\(incoming.method)", "path": "\(incoming.path)", "status": "\(response.status)",
            ])
        return response
    }

    private func count(_ response: Response, _ matched: Result<Route, Route.Miss>) {
        guard case .success(let route) = matched else {
            return recorder.requestAnswered(route: "unmatched", status: response.status)
        }
        recorder.requestAnswered(route: route.name, status: response.status)
        if route == .payment, let codigo = response.header("X-Hotspot-Codigo") {
            recorder.paymentAnswered(codigo: codigo)
        }
        if route == .claim, let codigo = response.header("X-Hotspot-Codigo") {
            recorder.claimAnswered(codigo: codigo)
        }
        if case .conektaWebhook = route {
            if response.status == 401 { recorder.webhookSignatureFailed() }
            if response.status == 200, let type = response.header("X-Hotspot-Event-Type"),
                let outcome = response.header("X-Hotspot-Outcome")
            {
                recorder.webhookEvent(type: type, outcome: WebhookService.Receipt.kind(of: outcome))
            }
        }
    }
}

@available(*, unavailable, message: "a worker and its connections belong to one thread")
extension Worker: Sendable {}
