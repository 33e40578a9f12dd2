import API
import Domain
import Logging
import Persistence
import Synchronization

/// One worker thread's loop: accept a FastCGI request, answer it, repeat until shutdown.
final class Worker {
    let handler: PortalHandler
    let store: PostgresStore
    let logger: Logger
    let maxBodyBytes: Int

    init(handler: PortalHandler, store: PostgresStore, logger: Logger, maxBodyBytes: Int) {
        self.handler = handler
        self.store = store
        self.logger = logger
        self.maxBodyBytes = maxBodyBytes
    }

    func serve(listening descriptor: Int32, draining: borrowing Atomic<Bool>) {
        let request = FastCGIRequest(listening: descriptor)
        while !draining.load(ordering: .relaxed), request.accept() {
            let parameters = request.parameters()
            let response = respond(parameters: parameters, request: request)
            request.write(response.serialized())
            request.finish()
            // A statement that failed inside a transaction leaves it aborted; never carry that
            // into the next request.
            store.connection.rollbackIfNeeded()
        }
    }

    private func respond(parameters: [String: String], request: borrowing FastCGIRequest) -> Response {
        let length = Int(parameters["CONTENT_LENGTH"] ?? "") ?? 0
        let requestID = Request.validRequestID(parameters["HTTP_X_REQUEST_ID"]) ?? "-"
        var logger = self.logger
        logger[metadataKey: "request_id"] = "\(requestID)"
        if length > maxBodyBytes || length < 0 {
            return ErrorResponse.payloadTooLarge(limit: maxBodyBytes, requestID: requestID)
        }
        let incoming = Request(parameters: parameters, body: request.readBody(count: length))
        let response = handler.respond(to: incoming, logger: logger)
        logger.debug(
            "request",
            metadata: ["method": "\(incoming.method)", "path": "\(incoming.path)", "status": "\(response.status)"])
        return response
    }
}

@available(*, unavailable, message: "a worker and its connections belong to one thread")
extension Worker: Sendable {}

/// API key records shared by all workers for a few seconds, so a burst of portal requests does
/// not read the same row thousands of times. Revocation still wins within `ttl` (CONTRACT §2).
final class AccessCache: Sendable {
    private struct Entry {
        var record: APIKeyRecord?
        var expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let ttl: Duration

    init(ttlSeconds: Double) {
        ttl = .milliseconds(Int64(ttlSeconds * 1000))
    }

    func record(keyID: String, load: () throws(StoreFailure) -> APIKeyRecord?) throws(StoreFailure) -> APIKeyRecord? {
        let now = ContinuousClock.now
        if ttl > .zero, let entry = entries.withLock({ $0[keyID] }), entry.expires > now {
            return entry.record
        }
        let record = try load()
        if ttl > .zero {
            entries.withLock { entries in
                // Unknown keys are cached too (attackers can mint endless ids), but the table is
                // bounded: when full, expired entries go, and failing that everything does.
                if entries.count >= 10_000 {
                    entries = entries.filter { $0.value.expires > now }
                    if entries.count >= 10_000 { entries.removeAll() }
                }
                entries[keyID] = Entry(record: record, expires: now + ttl)
            }
        }
        return record
    }
}

/// `PortalDirectory` that reads API key records through the shared `AccessCache`.
struct CachedPortalDirectory: PortalDirectory {
    let store: PostgresStore
    let cache: AccessCache

    func apiKeyRecord(keyID: String) throws(StoreFailure) -> APIKeyRecord? {
        try cache.record(keyID: keyID) { () throws(StoreFailure) in try store.apiKeyRecord(keyID: keyID) }
    }

    func activeProducts(companyID: Int64, routerID: Int64) throws(StoreFailure) -> [Product] {
        try store.activeProducts(companyID: companyID, routerID: routerID)
    }

    func activeProduct(id: Int64, companyID: Int64, routerID: Int64) throws(StoreFailure) -> Product? {
        try store.activeProduct(id: id, companyID: companyID, routerID: routerID)
    }

    func ping() throws(StoreFailure) {
        try store.ping()
    }
}
