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

/// Values shared by all workers for a few seconds, so a burst of portal requests does not read
/// the same rows thousands of times. Staleness is bounded by `ttl` (CONTRACT §2: revocation
/// within 5 s). The table is bounded: when full, expired entries go, and failing that all do.
final class TTLCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[Key: Entry]>([:])
    private let ttl: Duration
    private let capacity: Int

    init(ttlSeconds: Double, capacity: Int = 10_000) {
        ttl = .milliseconds(Int64(ttlSeconds * 1000))
        self.capacity = capacity
    }

    func value(for key: Key, load: () throws(StoreFailure) -> Value) throws(StoreFailure) -> Value {
        guard ttl > .zero else { return try load() }
        let now = ContinuousClock.now
        if let entry = entries.withLock({ $0[key] }), entry.expires > now {
            return entry.value
        }
        let value = try load()
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity { entries.removeAll() }
            }
            entries[key] = Entry(value: value, expires: now + ttl)
        }
        return value
    }
}

/// The caches every worker of a process shares.
struct PortalCaches: Sendable {
    /// API key rows, unknown keys included (attackers can mint endless ids; the table is bounded).
    let keys: TTLCache<String, APIKeyRecord?>
    /// Active products per (company, router).
    let catalogues: TTLCache<CatalogueKey, [Product]>

    struct CatalogueKey: Hashable, Sendable {
        var company: Int64
        var router: Int64
    }

    init(keySeconds: Double, catalogueSeconds: Double) {
        keys = TTLCache(ttlSeconds: keySeconds)
        catalogues = TTLCache(ttlSeconds: catalogueSeconds, capacity: 5_000)
    }
}

/// `PortalDirectory` that reads API key records and catalogues through the shared caches.
struct CachedPortalDirectory: PortalDirectory {
    let store: PostgresStore
    let caches: PortalCaches

    func apiKeyRecord(keyID: String) throws(StoreFailure) -> APIKeyRecord? {
        try caches.keys.value(for: keyID) { () throws(StoreFailure) in try store.apiKeyRecord(keyID: keyID) }
    }

    func activeProducts(companyID: Int64, routerID: Int64) throws(StoreFailure) -> [Product] {
        try caches.catalogues.value(for: .init(company: companyID, router: routerID)) { () throws(StoreFailure) in
            try store.activeProducts(companyID: companyID, routerID: routerID)
        }
    }

    func activeProduct(id: Int64, companyID: Int64, routerID: Int64) throws(StoreFailure) -> Product? {
        try activeProducts(companyID: companyID, routerID: routerID).first { $0.id == id }
    }

    func ping() throws(StoreFailure) {
        try store.ping()
    }
}
