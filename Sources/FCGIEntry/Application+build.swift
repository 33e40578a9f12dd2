import API
import Configuration
import Domain
import Foundation
import Logging
import Persistence
import Secrets
import Wiring

/// How the server builds a thread: the payment graph from the shared wiring (`PaymentWiring`, the
/// same for `hotspotctl`), measured into the thread's metrics shard, and the portal in front of it.
extension Application {
    func makeWorker(index: Int) -> Worker {
        let recorder = metrics.recorder(shard: index)
        let graph = makeGraph(name: "fcgi-\(index)", recorder: recorder)
        let verifier = MemoizingKeyVerifier(HS256KeyCodec(secret: configuration.keySecret))
        let directory = wiring.portalDirectory(graph.store)
        let portal = PortalService(directory: directory, verifier: verifier)
        let metrics = self.metrics
        let handler = PortalHandler(
            portal: portal, payments: graph.payments, maxBodyBytes: configuration.maxBodyBytes,
            now: { Int64(Date().timeIntervalSince1970) }, metrics: { metrics.exposition(now: Date().timeIntervalSince1970) },
            webhooks: makeWebhooks(name: "fcgi-\(index)-webhooks", recorder: recorder), webhookGate: webhookGate)
        var logger = self.logger
        logger[metadataKey: "thread"] = "\(index)"
        return Worker(handler: handler, logger: logger, maxBodyBytes: configuration.maxBodyBytes, recorder: recorder)
    }

    /// One thread's graph, its Conekta and router calls measured into its metrics recorder.
    func makeGraph(
        name: String, recorder: MetricsRecorder, briefRouterCalls: Bool = false
    ) -> (store: PostgresStore, payments: PaymentService) {
        wiring.paymentGraph(name: name, instruments: instruments(recorder), briefRouterCalls: briefRouterCalls)
    }

    /// One thread's webhook receiver, on a graph of its own whose router calls are brief: Conekta
    /// waits for the answer, and what does not finish in time is the reconciler's.
    func makeWebhooks(name: String, recorder: MetricsRecorder) -> WebhookService {
        let graph = makeGraph(name: name, recorder: recorder, briefRouterCalls: true)
        return wiring.webhookService(store: graph.store, payments: graph.payments, instruments: instruments(recorder))
    }

    func instruments(_ recorder: MetricsRecorder) -> PaymentWiring.Instruments {
        .init(
            gateway: { MeasuredPaymentGateway(base: $0, recorder: recorder) },
            directory: { MeasuredHotspotUserDirectory(base: $0, recorder: recorder) },
            stateChanges: { recorder.stateChanged($0) })
    }
}
