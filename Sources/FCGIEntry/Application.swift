import ArgumentParser
import CFastCGI
import Configuration
import Domain
import Foundation
import Logging
import Persistence
import Synchronization
import Wiring

/// `hotspot-pay`: the FastCGI server.
struct HotspotPayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hotspot-pay",
        abstract: "Sells Wi-Fi time on MikroTik hotspots: the FastCGI server behind nginx.",
        discussion: "Configuration comes from HOTSPOT_* environment variables (see the README); --env-file reads them from a file first.")

    @Option(name: .long, help: "A file of KEY=value lines (HOTSPOT_* variables); the environment wins over it.")
    var envFile: String?

    func run() throws {
        let configuration: Configuration
        do {
            configuration = try Configuration.load(envFile: envFile)
        } catch {
            throw ValidationError("configuration: \(error)")
        }
        let application: Application
        do {
            application = try Application(configuration: configuration)
        } catch {
            throw ValidationError("configuration: \(error)")
        }
        let code = application.run()
        if code != 0 { throw ExitCode(code) }
    }
}

/// Owns the process: the listening socket, the worker threads and the shutdown sequence.
///
/// Threads, not Swift concurrency, in the request path: every call there blocks (accept, libpq,
/// libcurl), and the cooperative pool is only as wide as the cores (docs/sources.md F0).
final class Application: Sendable {
    let configuration: Configuration
    let logger: Logger
    /// Set when shutdown begins; workers stop accepting once they see it.
    let draining = Atomic<Bool>(false)
    /// The payment graph's wiring and what the threads share (pool, router limiter, caches).
    let wiring: PaymentWiring
    /// One shard per worker thread, then one per reconciler thread.
    let metrics: Metrics
    /// Half the worker threads at most handle webhook deliveries at once.
    let webhookGate: WebhookGate

    init(configuration: Configuration) throws(WiringError) {
        self.configuration = configuration
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingBootstrap.once(level: level)
        var logger = Logger(label: "hotspot-pay")
        logger.logLevel = level
        self.logger = logger
        let wiring = try PaymentWiring(configuration: configuration, applicationName: "hotspot-pay", logger: logger)
        self.wiring = wiring
        self.webhookGate = WebhookGate(workerThreads: configuration.threads)
        let pool = wiring.database
        self.metrics = Metrics(
            shards: configuration.threads + configuration.payments.reconcileThreads, instance: wiring.instanceName,
            startTime: Date().timeIntervalSince1970,
            workerThreads: configuration.threads, poolUsage: { Metrics.PoolUsage(size: pool.size, inUse: pool.inUse) })
    }
    /// Serves until SIGTERM or SIGINT, then drains and returns the exit code.
    func run() -> Int32 {
        let started = ContinuousClock.now
        // FCGX_Init installs libfcgi's own SIGTERM/SIGUSR1 handlers, which would only set a flag
        // in whichever thread receives the signal. Blocking both signals in every thread (the mask
        // is inherited) and sigwait-ing for them here gives one orderly shutdown instead.
        // https://github.com/FastCGI-Archives/fcgi2/blob/master/libfcgi/os_unix.c
        guard FCGX_Init() == 0 else {
            logger.critical("FCGX_Init failed")
            return 1
        }
        PaymentWiring.initializeLibraries()
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        if let failure = migrate() {
            logger.critical("cannot prepare the database", metadata: ["reason": "\(failure)"])
            return 1
        }

        let socket: ListeningSocket
        do {
            socket =
                try ListeningSocket.inherited()
                ?? ListeningSocket.open(configuration.listen, mode: configuration.socketMode, group: configuration.socketGroup)
        } catch {
            logger.critical("cannot listen", metadata: ["reason": "\(error)"])
            return 1
        }
        if socket.isInherited { WorkerThread.installInterrupt() }

        let statuses = (0..<configuration.threads).map { _ in WorkerStatus() }
        let workers = (0..<configuration.threads).map { index in
            WorkerThread.start { [self] in
                let worker = makeWorker(index: index)
                worker.serve(listening: socket.descriptor, draining: draining, status: statuses[index])
            }
        }
        let progress = ReconcilerProgress()
        let pool = ReconcilerPool(settings: ReconcilerPool.settings(configuration), instance: wiring.instanceName)
        let reconcilers =
            configuration.payments.reconcileIntervalMilliseconds > 0
            ? (0..<configuration.payments.reconcileThreads).map { index in
                WorkerThread.start { [self] in
                    let recorder = metrics.recorder(shard: configuration.threads + index)
                    let graph = makeGraph(name: "reconciler-\(index)", recorder: recorder)
                    Reconciler(
                        index: index, pool: pool, housekeeping: index < Reconciler.housekeepers, payments: graph.payments,
                        store: graph.store,
                        webhooks: wiring.webhookService(
                            store: graph.store, payments: graph.payments, instruments: instruments(recorder)),
                        sweeper: wiring.accessSweeper(
                            name: "reconciler-\(index)", store: graph.store, instruments: instruments(recorder)),
                        routerHealth: wiring.routerHealthMonitor(name: "reconciler-\(index)", store: graph.store),
                        logger: logger,
                        intervalMilliseconds: configuration.payments.reconcileIntervalMilliseconds, hostName: wiring.hostName,
                        pendingReleases: wiring.pendingReleases, progress: progress, metrics: metrics, recorder: recorder
                    ).run(until: draining)
                }
            } : []
        // Open the database connections in the background: the first answer does not wait.
        WorkerThread.start { [wiring] in wiring.warmUp() }.detach()
        let startup = ContinuousClock.now - started
        logger.info(
            "listening",
            metadata: [
                "listen": "\(socket.isInherited ? "fd 3 from systemd" : configuration.listen)", "threads": "\(configuration.threads)",
                "startup_ms": "\(startup.components.attoseconds / 1_000_000_000_000_000 + startup.components.seconds * 1000)",
            ])

        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("shutting down", metadata: ["signal": "\(received)"])

        if socket.isInherited {
            // systemd keeps the socket open for the next instance, so leave it listening (a
            // shutdown() would act on systemd's copy too): queued connections wait there. Wake
            // the threads parked in accept() with a signal instead, again until each is out,
            // since a thread may be just about to enter accept() (docs/sources.md F2.4).
            draining.store(true, ordering: .sequentiallyConsistent)
            FCGX_ShutdownPending()
            while statuses.contains(where: { !$0.finished.load(ordering: .sequentiallyConsistent) }) {
                for (worker, status) in zip(workers, statuses) where status.inAccept.load(ordering: .relaxed) {
                    worker.interrupt()
                }
                usleep(20_000)
            }
        } else {
            // Drain: first make new connections fail fast (nginx answers its JSON 503), keep
            // accepting what is already queued for a moment, then wake every thread parked in
            // accept(). Closing at once would reset the queued connections (docs/sources.md F2.4).
            if let path = socket.path { unlink(path) }
            usleep(200_000)
            draining.store(true, ordering: .sequentiallyConsistent)
            FCGX_ShutdownPending()
            shutdown(socket.descriptor, Int32(SHUT_RDWR))
        }
        // Reconciler threads waiting for work wake now; the attempts they claimed and did not run
        // go back to the ledger.
        pool.stop()
        for worker in workers { worker.join() }
        for reconciler in reconcilers { reconciler.join() }
        close(socket.descriptor)
        logger.info("stopped")
        return 0
    }

    /// Applies pending schema migrations; nil when the schema is ready.
    private func migrate() -> (any Error)? {
        do {
            let applied = try wiring.migrate()
            if !applied.isEmpty { logger.info("migrated", metadata: ["versions": "\(applied)"]) }
            return nil
        } catch {
            return error
        }
    }
}

/// Bootstraps swift-log once per process (it traps on a second bootstrap).
enum LoggingBootstrap {
    private static let done = Mutex(false)

    static func once(level: Logger.Level) {
        done.withLock { done in
            guard !done else { return }
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
            done = true
        }
    }
}

/// A joinable POSIX thread running one closure.
final class WorkerThread: Sendable {
    // @unchecked is not needed: pthread_t is an integer on Linux, written once in start().
    private let thread: pthread_t

    private init(thread: pthread_t) {
        self.thread = thread
    }

    static func start(_ body: @escaping @Sendable () -> Void) -> WorkerThread {
        let box = Unmanaged.passRetained(ThreadBody(body))
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, workerThreadEntry, box.toOpaque())
        precondition(status == 0, "pthread_create failed: \(status)")
        return WorkerThread(thread: thread)
    }

    func join() {
        pthread_join(thread, nil)
    }

    /// Lets the thread end on its own; nothing joins it.
    func detach() {
        pthread_detach(thread)
    }

    /// Sends the thread SIGUSR2, which fails a blocking call in it with EINTR (`installInterrupt`).
    func interrupt() {
        pthread_kill(thread, SIGUSR2)
    }

    /// Installs a SIGUSR2 handler that does nothing, without `SA_RESTART`: the signal then only
    /// interrupts the receiving thread's blocking call, and libfcgi's accept() gives up once
    /// `FCGX_ShutdownPending` was called.
    static func installInterrupt() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGUSR2, &action, nil)
    }
}

private final class ThreadBody: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// pthread's entry point. Lives outside main.swift: a closure written there would inherit the
/// main actor's isolation and trap when run on this thread (SE-0423).
private func workerThreadEntry(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let box = Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue()
    box.body()
    return nil
}
