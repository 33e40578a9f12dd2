import Configuration
import Domain
import Foundation
import HTTPTransport
import Logging
import Persistence
import Secrets

/// The composition root: the only place that names concrete adapters. Each worker thread gets
/// its own object graph (its own PostgreSQL connection and curl handle), so nothing in the
/// request path is shared but immutable values and the explicitly shared caches.
extension Application {
    func makeWorker(index: Int) -> Worker {
        // Configuration.load already validated the key, so this cannot fail here.
        let sealer = try! SecretBox(base64Key: configuration.secretsKey)
        let connection = PostgresConnection(url: configuration.databaseURL, applicationName: "hotspot-pay")
        let store = PostgresStore(connection: connection, sealer: sealer)
        let verifier = HS256KeyCodec(secret: configuration.keySecret)
        let directory = CachedPortalDirectory(store: store, cache: accessCache)
        let portal = PortalService(directory: directory, verifier: verifier)
        let handler = PortalHandler(portal: portal, maxBodyBytes: configuration.maxBodyBytes, now: { Int64(Date().timeIntervalSince1970) })
        var logger = self.logger
        logger[metadataKey: "thread"] = "\(index)"
        return Worker(handler: handler, store: store, logger: logger, maxBodyBytes: configuration.maxBodyBytes)
    }
}
