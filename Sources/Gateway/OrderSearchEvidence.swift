import Domain
import Synchronization

/// The Conekta accounts for which this process has seen `GET /orders?search=<email>` list an
/// order of that customer email: proof that search finds emails there, as Conekta documents but
/// nobody here has verified. For those accounts an email search that finds no order of an
/// attempt shows there is none, and the orders of its time window need not be read, however many
/// there are. One per process, shared by every thread's client.
public final class OrderSearchEvidence: Sendable {
    /// Accounts by a hash of their private key, seeded per process: nothing here outlives it.
    private let accounts = Mutex<Set<Int>>([])

    public init() {}

    func isProven(for key: GatewayKey) -> Bool {
        let account = key.privateKey.hashValue
        return accounts.withLock { $0.contains(account) }
    }

    func prove(for key: GatewayKey) {
        let account = key.privateKey.hashValue
        _ = accounts.withLock { $0.insert(account) }
    }
}
