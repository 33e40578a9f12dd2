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
            let length = Int(parameters.contentLength ?? "") ?? 0
            let bodyRead = length >= 0 && length <= maxBodyBytes
            let response = respond(parameters: parameters, length: length, bodyRead: bodyRead, request: request)
            request.write(response.serialized())
            request.finish(bodyRead: bodyRead)
        }
    }

    private func respond(parameters: CGIParameters, length: Int, bodyRead: Bool, request: borrowing FastCGIRequest) -> Response {
        let incoming = Request(parameters: parameters, body: bodyRead ? request.readBody(count: length) : [])
        let requestID = incoming.requestID
        let matched = Route.match(method: incoming.method, path: incoming.path)
        let response =
            !bodyRead
            ? ErrorResponse.payloadTooLarge(limit: maxBodyBytes, requestID: requestID)
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

/// Values reused for a few seconds, shared by every thread of the process, so a burst of
/// requests does not read the same rows thousands of times however many threads there are (a
/// per-thread cache would miss on nearly every payment with hundreds of threads). Staleness is
/// bounded by `ttl` (CONTRACT §2: revocation within 5 s). Bounded: when full, it starts over.
/// Loads run outside the lock; two threads missing at once both load, and the later one wins.
final class SharedTTLCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry: Sendable {
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
        try entry(for: key, now: ContinuousClock.now, load: load).value
    }

    /// The value and the instant it expires (`now` when it is not cached at all).
    func entry(
        for key: Key, now: ContinuousClock.Instant, load: () throws(StoreFailure) -> Value
    ) throws(StoreFailure) -> (value: Value, expires: ContinuousClock.Instant) {
        guard ttl > .zero else { return (try load(), now) }
        if let entry = entries.withLock({ $0[key] }), entry.expires > now { return (entry.value, entry.expires) }
        let value = try load()
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(value: value, expires: now + ttl)
        }
        return (value, now + ttl)
    }
}

/// One thread's copy of entries of a `SharedTTLCache`, each kept only until the shared entry
/// expires (so the staleness bound is the shared one). Hits take no lock: with a lock on every
/// request, threads preempted while holding it made the others sleep, and context switches
/// showed up as the catalogue's top cost under `perf`.
final class ThreadCache<Key: Hashable & Sendable, Value: Sendable> {
    private let shared: SharedTTLCache<Key, Value>
    private var entries: [Key: (value: Value, expires: ContinuousClock.Instant)] = [:]
    private let capacity: Int

    init(_ shared: SharedTTLCache<Key, Value>, capacity: Int = 1_000) {
        self.shared = shared
        self.capacity = capacity
    }

    func value(for key: Key, load: () throws(StoreFailure) -> Value) throws(StoreFailure) -> Value {
        let now = ContinuousClock.now
        if let entry = entries[key], entry.expires > now { return entry.value }
        let entry = try shared.entry(for: key, now: now, load: load)
        if entry.expires > now {
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = entry
        }
        return entry.value
    }
}

/// A catalogue is a company's products sold on one router.
struct CatalogueKey: Hashable, Sendable {
    var companyID: Int64
    var routerID: Int64
}

/// The caches every worker of the process shares.
struct SharedCaches: Sendable {
    let keys: SharedTTLCache<String, APIKeyRecord?>
    let catalogues: SharedTTLCache<CatalogueKey, [Product]>
    /// Router addresses and credentials (decrypted), by router id.
    let routers: SharedTTLCache<Int64, RouterEndpoint?>
    /// Conekta private keys (decrypted), by company id.
    let gatewayKeys: SharedTTLCache<Int64, GatewayKey?>

    init(keySeconds: Double, catalogueSeconds: Double) {
        keys = SharedTTLCache(ttlSeconds: keySeconds)
        catalogues = SharedTTLCache(ttlSeconds: catalogueSeconds, capacity: 5_000)
        routers = SharedTTLCache(ttlSeconds: keySeconds, capacity: 5_000)
        gatewayKeys = SharedTTLCache(ttlSeconds: keySeconds, capacity: 5_000)
    }
}

/// `PortalDirectory` that reads API key records (unknown keys included: attackers can mint
/// endless ids, and the cache is bounded) and catalogues through the process's caches.
final class CachedPortalDirectory: PortalDirectory {
    let store: PostgresStore
    private let keys: ThreadCache<String, APIKeyRecord?>
    private let catalogues: ThreadCache<CatalogueKey, [Product]>

    init(store: PostgresStore, caches: SharedCaches) {
        self.store = store
        keys = ThreadCache(caches.keys)
        catalogues = ThreadCache(caches.catalogues)
    }

    func apiKeyRecord(keyID: String) throws(StoreFailure) -> APIKeyRecord? {
        try keys.value(for: keyID) { () throws(StoreFailure) in try store.apiKeyRecord(keyID: keyID) }
    }

    func activeProducts(companyID: Int64, routerID: Int64) throws(StoreFailure) -> [Product] {
        try catalogues.value(for: CatalogueKey(companyID: companyID, routerID: routerID)) { () throws(StoreFailure) in
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
    /// The entry of the key seen last: a router's portal sends the same key again and again, and
    /// comparing it is cheaper than hashing it for the memo (twice per request).
    private var last: (key: String, result: Result<APIKeyClaims, AuthFailure>, fingerprint: String)?

    init(_ base: any APIKeyVerifier) {
        self.base = base
    }

    func verify(_ presentedKey: String, now: Int64) -> Result<APIKeyClaims, AuthFailure> {
        let entry: (result: Result<APIKeyClaims, AuthFailure>, fingerprint: String)
        if let last, last.key == presentedKey {
            entry = (last.result, last.fingerprint)
        } else {
            if let known = memo[presentedKey] {
                entry = known
            } else {
                let result = base.verify(presentedKey, now: now)
                if case .failure(.expired) = result { return result }
                if memo.count >= 1_000 { memo.removeAll(keepingCapacity: true) }
                entry = (result, base.fingerprint(presentedKey))
                memo[presentedKey] = entry
            }
            last = (presentedKey, entry.result, entry.fingerprint)
        }
        if case .success(let claims) = entry.result, let expiresAt = claims.expiresAt, expiresAt <= now {
            return .failure(.expired)
        }
        return entry.result
    }

    func fingerprint(_ presentedKey: String) -> String {
        if let last, last.key == presentedKey { return last.fingerprint }
        return memo[presentedKey]?.fingerprint ?? base.fingerprint(presentedKey)
    }
}
