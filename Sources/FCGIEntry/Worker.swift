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
    let recorder: MetricsRecorder

    init(handler: PortalHandler, store: PostgresStore, logger: Logger, maxBodyBytes: Int, recorder: MetricsRecorder) {
        self.handler = handler
        self.store = store
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
            let response = respond(parameters: parameters, request: request)
            request.write(response.serialized())
            request.finish()
        }
    }

    private func respond(parameters: [String: String], request: borrowing FastCGIRequest) -> Response {
        let length = Int(parameters["CONTENT_LENGTH"] ?? "") ?? 0
        let requestID = Request.validRequestID(parameters["HTTP_X_REQUEST_ID"]) ?? "-"
        var logger = self.logger
        logger[metadataKey: "request_id"] = "\(requestID)"
        let incoming = Request(
            parameters: parameters, body: length > maxBodyBytes || length < 0 ? [] : request.readBody(count: length))
        let matched = Route.match(method: incoming.method, path: incoming.path)
        let response =
            length > maxBodyBytes || length < 0
            ? ErrorResponse.payloadTooLarge(limit: maxBodyBytes, requestID: requestID)
            : handler.respond(to: incoming, matched: matched, logger: logger)
        count(response, matched)
        logger.debug(
            "request",
            metadata: ["method": "\(incoming.method)", "path": "\(incoming.path)", "status": "\(response.status)"])
        return response
    }

    private func count(_ response: Response, _ matched: Result<Route, Route.Miss>) {
        guard case .success(let route) = matched else {
            return recorder.requestAnswered(route: "unmatched", status: response.status)
        }
        recorder.requestAnswered(route: route.name, status: response.status)
        if route == .payment, let codigo = response.headers.first(where: { $0.0 == "X-Hotspot-Codigo" })?.1 {
            recorder.paymentAnswered(codigo: codigo)
        }
    }
}

@available(*, unavailable, message: "a worker and its connections belong to one thread")
extension Worker: Sendable {}

/// Where a worker thread is, for a shutdown that must wake only threads waiting in accept().
final class WorkerStatus: Sendable {
    let inAccept = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)
}

/// Values reused for a few seconds, so a burst of portal requests does not read the same rows
/// thousands of times. One per worker thread (no lock on the request path); staleness is bounded
/// by `ttl` (CONTRACT §2: revocation within 5 s). Bounded: when full, it starts over.
final class TTLCache<Key: Hashable, Value> {
    private var entries: [Key: (value: Value, expires: ContinuousClock.Instant)] = [:]
    private let ttl: Duration
    private let capacity: Int

    init(ttlSeconds: Double, capacity: Int = 10_000) {
        ttl = .milliseconds(Int64(ttlSeconds * 1000))
        self.capacity = capacity
    }

    func value(for key: Key, load: () throws(StoreFailure) -> Value) throws(StoreFailure) -> Value {
        guard ttl > .zero else { return try load() }
        let now = ContinuousClock.now
        if let entry = entries[key], entry.expires > now { return entry.value }
        let value = try load()
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[key] = (value, now + ttl)
        return value
    }
}

/// `PortalDirectory` that reads API key records (unknown keys included: attackers can mint
/// endless ids, and the cache is bounded) and catalogues through one thread's caches.
final class CachedPortalDirectory: PortalDirectory {
    let store: PostgresStore
    private let keys: TTLCache<String, APIKeyRecord?>
    private let catalogues: TTLCache<[Int64], [Product]>

    init(store: PostgresStore, keySeconds: Double, catalogueSeconds: Double) {
        self.store = store
        keys = TTLCache(ttlSeconds: keySeconds)
        catalogues = TTLCache(ttlSeconds: catalogueSeconds, capacity: 5_000)
    }

    func apiKeyRecord(keyID: String) throws(StoreFailure) -> APIKeyRecord? {
        try keys.value(for: keyID) { () throws(StoreFailure) in try store.apiKeyRecord(keyID: keyID) }
    }

    func activeProducts(companyID: Int64, routerID: Int64) throws(StoreFailure) -> [Product] {
        try catalogues.value(for: [companyID, routerID]) { () throws(StoreFailure) in
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

/// Remembers each distinct key's verification for one thread: a key's signature and claims never
/// change, so HMAC and JSON run once per key, while expiry is still checked on every call.
final class MemoizingKeyVerifier: APIKeyVerifier {
    private let base: any APIKeyVerifier
    private var memo: [String: (result: Result<APIKeyClaims, AuthFailure>, fingerprint: String)] = [:]

    init(_ base: any APIKeyVerifier) {
        self.base = base
    }

    func verify(_ presentedKey: String, now: Int64) -> Result<APIKeyClaims, AuthFailure> {
        if let entry = memo[presentedKey] {
            if case .success(let claims) = entry.result, let expiresAt = claims.expiresAt, expiresAt <= now {
                return .failure(.expired)
            }
            return entry.result
        }
        let result = base.verify(presentedKey, now: now)
        if case .failure(.expired) = result { return result }
        if memo.count >= 1_000 { memo.removeAll(keepingCapacity: true) }
        memo[presentedKey] = (result, base.fingerprint(presentedKey))
        return result
    }

    func fingerprint(_ presentedKey: String) -> String {
        memo[presentedKey]?.fingerprint ?? base.fingerprint(presentedKey)
    }
}
