import Domain
import Synchronization

/// One thread's share of the process's metrics. Only the owning thread writes to it (through its
/// `MetricsRecorder`); a scrape reads every shard and adds them up. Counts are relaxed atomics in
/// a fixed block, so the request path takes no lock; the mutex guards only the list of series,
/// which grows when the thread first meets a label combination.
final class MetricsShard: Sendable {
    private typealias Cells = InlineArray<1024, Atomic<UInt64>>
    static let capacity = Cells.count

    struct Series: Sendable {
        let family: MetricFamily
        /// Rendered once, at registration: `route="payment",status="200"`.
        let labels: String
        let firstCell: Int
    }

    /// Cell 0 counts the observations dropped because the block was full.
    private let cells: Cells
    private let registry = Mutex<(series: [Series], used: Int)>(([], 1))

    init() {
        cells = InlineArray { _ in Atomic(0) }
    }

    /// Reserves the cells of a new series. Nil when the block is full.
    func register(_ family: MetricFamily, labels: String) -> Int? {
        registry.withLock { registry in
            guard registry.used + family.cellCount <= Self.capacity else { return nil }
            let first = registry.used
            registry.used += family.cellCount
            registry.series.append(Series(family: family, labels: labels, firstCell: first))
            return first
        }
    }

    func add(_ value: UInt64, at cell: Int) {
        cells[cell].wrappingAdd(value, ordering: .relaxed)
    }

    func addDropped() {
        add(1, at: 0)
    }

    /// Every series with its cells' current values, and the dropped count.
    func read() -> (series: [(Series, [UInt64])], dropped: UInt64) {
        let series = registry.withLock { $0.series }
        return (
            series.map { series in
                (series, (series.firstCell..<series.firstCell + series.family.cellCount).map { cells[$0].load(ordering: .relaxed) })
            },
            cells[0].load(ordering: .relaxed)
        )
    }
}

/// What one thread counts, into its own shard. Each label combination's cells are looked up in
/// this thread's dictionaries, so a count is a hash lookup and one or two atomic adds.
final class MetricsRecorder {
    private let shard: MetricsShard
    private var requests: [RequestKey: Int?] = [:]
    private var payments: [String: Int?] = [:]
    private var reconciled: [String: Int?] = [:]
    private var unproven: [String: Int?] = [:]
    private var webhookEvents: [WebhookKey: Int?] = [:]
    private var signatureFailures: [String: Int?] = [:]
    private var usersEnded: [String: Int?] = [:]
    private var sweepFailures: [Int64: Int?] = [:]
    private var claims: [String: Int?] = [:]
    private var payLaterPaid: [String: Int?] = [:]
    private var payLaterExpired: [String: Int?] = [:]
    private var routerCalls: [CallKey: Int?] = [:]
    private var conektaCalls: [CallKey: Int?] = [:]
    private let nanosecondBounds = MetricFamily.callSeconds.map { UInt64($0 * 1e9) }

    private struct RequestKey: Hashable {
        let route: String
        let status: Int
    }

    private struct WebhookKey: Hashable {
        let type: String
        let outcome: String
    }

    private struct CallKey: Hashable {
        let operation: String
        let ok: Bool
    }

    init(shard: MetricsShard) {
        self.shard = shard
    }

    func requestAnswered(route: String, status: Int) {
        count(in: &requests, RequestKey(route: route, status: status), .requests, [route, String(status)])
    }

    func paymentAnswered(codigo: String) {
        count(in: &payments, codigo, .payments, [codigo])
    }

    func reconciled(codigo: String) {
        count(in: &reconciled, codigo, .reconciled, [codigo])
    }

    func absenceUnproven() {
        count(in: &unproven, "", .absenceUnproven, [])
    }

    /// A signed delivery: its event type (one of `webhookTypes`, else `other`) and outcome kind.
    func webhookEvent(type: String, outcome: String) {
        let type = MetricFamily.webhookTypes.contains(type) ? type : "other"
        count(in: &webhookEvents, WebhookKey(type: type, outcome: outcome), .webhookEvents, [type, outcome])
    }

    func webhookSignatureFailed() {
        count(in: &signatureFailures, "", .webhookSignatureFailures, [])
    }

    /// An access ended by this thread (its end recorded here, so counted once across instances).
    func userEnded(reason: String) {
        count(in: &usersEnded, reason, .usersEnded, [reason])
    }

    func sweepFailed(router: Int64) {
        count(in: &sweepFailures, router, .sweepFailures, [String(router)])
    }

    func claimAnswered(codigo: String) {
        count(in: &claims, codigo, .claims, [codigo])
    }

    /// A committed state change: a pay-later order found paid (its attempt moved to
    /// `provisioning`) or ended unpaid (`expired`) is counted by method.
    func stateChanged(_ change: PaymentService.StateChange) {
        guard change.method.isPayLater, change.from != change.to else { return }
        let method = change.method.rawValue
        switch change.to {
        case .provisioning: count(in: &payLaterPaid, method, .payLaterPaid, [method])
        case .expired: count(in: &payLaterExpired, method, .payLaterExpired, [method])
        default: break
        }
    }

    func routerCall(_ operation: String, ok: Bool, since start: ContinuousClock.Instant) {
        observe(in: &routerCalls, CallKey(operation: operation, ok: ok), .routerCalls, since: start)
    }

    func conektaCall(_ operation: String, ok: Bool, since start: ContinuousClock.Instant) {
        observe(in: &conektaCalls, CallKey(operation: operation, ok: ok), .conektaCalls, since: start)
    }

    private func count<Key: Hashable>(
        in cache: inout [Key: Int?], _ key: Key, _ family: MetricFamily, _ values: @autoclosure () -> [String]
    ) {
        guard let cell = self.cell(in: &cache, key, family, values()) else { return shard.addDropped() }
        shard.add(1, at: cell)
    }

    private func observe(
        in cache: inout [CallKey: Int?], _ key: CallKey, _ family: MetricFamily, since start: ContinuousClock.Instant
    ) {
        let elapsed = (ContinuousClock.now - start).components
        let nanoseconds = UInt64(max(0, elapsed.seconds)) * 1_000_000_000 + UInt64(max(0, elapsed.attoseconds) / 1_000_000_000)
        let values = [key.operation, key.ok ? "ok" : "error"]
        guard let first = cell(in: &cache, key, family, values) else { return shard.addDropped() }
        let bucket = nanosecondBounds.firstIndex { nanoseconds <= $0 } ?? nanosecondBounds.count
        shard.add(1, at: first + bucket)
        shard.add(nanoseconds, at: first + nanosecondBounds.count + 1)
    }

    /// The first cell of a series, registered on first use. A series that found the shard full
    /// stays unregistered (nil), so a full shard costs no further lock.
    private func cell<Key: Hashable>(
        in cache: inout [Key: Int?], _ key: Key, _ family: MetricFamily, _ values: @autoclosure () -> [String]
    ) -> Int? {
        if let known = cache[key] { return known }
        let first = shard.register(family, labels: PrometheusText.labels(family.labelNames, values()))
        cache[key] = first
        return first
    }
}

@available(*, unavailable, message: "a recorder belongs to the thread that owns its shard")
extension MetricsRecorder: Sendable {}
