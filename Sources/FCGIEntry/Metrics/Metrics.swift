import Domain
import Synchronization

/// This process's metrics for `GET /metrics`: a shard per thread, added up at scrape time, and
/// the facts read then (the reconciler's last view of the backlog, the pool, the process). Each
/// instance exposes only its own; scrape every instance (README, "Metrics").
final class Metrics: Sendable {
    struct Backlog: Sendable, Equatable {
        /// Attempts in each non-final state.
        var attempts: [PaymentAttempt.State: Int]
        /// Unix time of the oldest non-final attempt's creation (one waiting for its cash or SPEI
        /// money aside); nil when there is none.
        var oldestCreatedAt: Int64?
        /// Unix time of the reading.
        var readAt: Double
        /// Attempts waiting for their cash or SPEI money, by method.
        var awaitingPaymentByMethod: [PaymentMethod: Int] = [:]
    }

    struct PoolUsage: Sendable {
        var size: Int
        var inUse: Int
    }

    private let shards: [MetricsShard]
    private let instance: String
    private let startTime: Double
    private let workerThreads: Int
    private let poolUsage: @Sendable () -> PoolUsage
    private let backlog = Mutex<Backlog?>(nil)
    private let sweeps = Mutex<[RouterSweep]?>(nil)
    private let routerHealth = Mutex<[RouterHealthRecord]?>(nil)

    /// A router's last sweep of sold users, as the reconciler last read it (database-wide).
    struct RouterSweep: Sendable, Equatable {
        var routerID: Int64
        var pastEnd: Int?
        var durationSeconds: Double?
    }

    /// - Parameter shards: one per thread that records (the workers and the reconciler).
    init(shards: Int, instance: String, startTime: Double, workerThreads: Int, poolUsage: @escaping @Sendable () -> PoolUsage) {
        self.shards = (0..<shards).map { _ in MetricsShard() }
        self.instance = instance
        self.startTime = startTime
        self.workerThreads = workerThreads
        self.poolUsage = poolUsage
    }

    /// The recorder of shard `index`, for the one thread that will use it.
    func recorder(shard index: Int) -> MetricsRecorder {
        MetricsRecorder(shard: shards[index])
    }

    func record(_ reading: Backlog) {
        backlog.withLock { $0 = reading }
    }

    func record(_ reading: [RouterSweep]) {
        sweeps.withLock { $0 = reading }
    }

    /// Every active router's last check, as the reconciler last read it (database-wide).
    func record(_ reading: [RouterHealthRecord]) {
        routerHealth.withLock { $0 = reading }
    }

    /// The exposition text, every family in catalogue order, series sorted by labels.
    func exposition(now: Double) -> String {
        var counters: [MetricFamily: [String: [UInt64]]] = [:]
        var dropped: UInt64 = 0
        for shard in shards {
            let reading = shard.read()
            dropped += reading.dropped
            for (series, values) in reading.series {
                counters[series.family, default: [:]][series.labels, default: Array(repeating: 0, count: values.count)]
                    .addElementwise(values)
            }
        }

        var text = PrometheusText()
        for family in [MetricFamily.requests, .payments, .reconciled] {
            text.family(family.name, type: family.kind, help: family.help)
            for (labels, values) in (counters[family] ?? [:]).sorted(by: { $0.key < $1.key }) {
                text.sample(family.name, labels: labels, String(values[0]))
            }
        }
        single(&text, .absenceUnproven, String((counters[.absenceUnproven] ?? [:]).values.reduce(0) { $0 + $1[0] }))
        text.family(MetricFamily.webhookEvents.name, type: .counter, help: MetricFamily.webhookEvents.help)
        for (labels, values) in (counters[.webhookEvents] ?? [:]).sorted(by: { $0.key < $1.key }) {
            text.sample(MetricFamily.webhookEvents.name, labels: labels, String(values[0]))
        }
        single(
            &text, .webhookSignatureFailures,
            String((counters[.webhookSignatureFailures] ?? [:]).values.reduce(0) { $0 + $1[0] }))
        for family in [MetricFamily.usersEnded, .sweepFailures, .claims, .payLaterPaid, .payLaterExpired] {
            text.family(family.name, type: family.kind, help: family.help)
            for (labels, values) in (counters[family] ?? [:]).sorted(by: { $0.key < $1.key }) {
                text.sample(family.name, labels: labels, String(values[0]))
            }
        }
        for family in [MetricFamily.routerCalls, .conektaCalls] {
            text.family(family.name, type: family.kind, help: family.help)
            for (labels, values) in (counters[family] ?? [:]).sorted(by: { $0.key < $1.key }) {
                text.histogram(
                    family.name, labels: labels, bounds: family.bounds, counts: Array(values.dropLast()),
                    sum: Double(values[values.count - 1]) / 1e9)
            }
        }
        single(&text, .dropped, String(dropped))

        if let backlog = backlog.withLock({ $0 }) {
            text.family(MetricFamily.backlog.name, type: .gauge, help: MetricFamily.backlog.help)
            for state in PaymentAttempt.State.allCases where !state.isFinal {
                text.sample(
                    MetricFamily.backlog.name, labels: PrometheusText.labels(MetricFamily.backlog.labelNames, [state.rawValue]),
                    String(backlog.attempts[state] ?? 0))
            }
            let age = backlog.oldestCreatedAt.map { max(0, now - Double($0)) } ?? 0
            single(&text, .backlogOldestAge, PrometheusText.number(age.rounded()))
            single(&text, .reconcilerLastPass, PrometheusText.number(backlog.readAt))
            single(&text, .revocationsPending, String(backlog.attempts[.revoking] ?? 0))
            text.family(MetricFamily.payLaterPending.name, type: .gauge, help: MetricFamily.payLaterPending.help)
            for method in PaymentMethod.payLater {
                text.sample(
                    MetricFamily.payLaterPending.name,
                    labels: PrometheusText.labels(MetricFamily.payLaterPending.labelNames, [method.rawValue]),
                    String(backlog.awaitingPaymentByMethod[method] ?? 0))
            }
        }
        if let sweeps = sweeps.withLock({ $0 }) {
            let routers = sweeps.sorted { $0.routerID < $1.routerID }
            text.family(MetricFamily.usersPastEnd.name, type: .gauge, help: MetricFamily.usersPastEnd.help)
            for sweep in routers {
                guard let pastEnd = sweep.pastEnd else { continue }
                text.sample(
                    MetricFamily.usersPastEnd.name, labels: PrometheusText.labels(["router"], [String(sweep.routerID)]),
                    String(pastEnd))
            }
            text.family(MetricFamily.sweepDuration.name, type: .gauge, help: MetricFamily.sweepDuration.help)
            for sweep in routers {
                guard let seconds = sweep.durationSeconds else { continue }
                text.sample(
                    MetricFamily.sweepDuration.name, labels: PrometheusText.labels(["router"], [String(sweep.routerID)]),
                    PrometheusText.number(seconds))
            }
        }

        if let records = routerHealth.withLock({ $0 }) {
            let routers = records.sorted { $0.routerID < $1.routerID }
            for (family, value) in [
                (MetricFamily.routerHealth, { (status: RouterCheckStatus) in status.holds }),
                (MetricFamily.routerHealthWarning, { (status: RouterCheckStatus) in status == .warn }),
            ] {
                text.family(family.name, type: family.kind, help: family.help)
                for record in routers {
                    for entry in record.checks {
                        text.sample(
                            family.name, labels: PrometheusText.labels(family.labelNames, [String(record.routerID), entry.check.rawValue]),
                            value(entry.status) ? "1" : "0")
                    }
                }
            }
            text.family(MetricFamily.routerCheckedAt.name, type: .gauge, help: MetricFamily.routerCheckedAt.help)
            for record in routers {
                text.sample(
                    MetricFamily.routerCheckedAt.name, labels: PrometheusText.labels(["router"], [String(record.routerID)]),
                    String(record.checkedAt))
            }
        }

        single(&text, .startTime, PrometheusText.number(startTime))
        single(&text, .instance, "1", labels: PrometheusText.labels(MetricFamily.instance.labelNames, [instance]))
        single(&text, .workerThreads, String(workerThreads))
        let pool = poolUsage()
        single(&text, .poolConnections, String(pool.size))
        single(&text, .poolInUse, String(pool.inUse))
        return text.output
    }

    /// A family with one sample.
    private func single(_ text: inout PrometheusText, _ family: MetricFamily, _ value: String, labels: String = "") {
        text.family(family.name, type: family.kind, help: family.help)
        text.sample(family.name, labels: labels, value)
    }
}

extension Array where Element == UInt64 {
    fileprivate mutating func addElementwise(_ other: [UInt64]) {
        for index in indices where index < other.count { self[index] &+= other[index] }
    }
}
