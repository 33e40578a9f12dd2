import Domain
import Foundation
import Persistence
import Secrets
import Testing

/// What `begin` counts for the card-testing limits (one count per router, device and client
/// address, each over the window) and which leases `releaseLeasesOfDeadProcesses` frees.
@Suite(.serialized) struct LedgerCountsTests {
    let connection: PostgresConnection
    let store: PostgresStore
    let company: Int64
    let router: Int64
    let otherRouter: Int64
    let product: Int64
    let mac = MACAddress("AA:BB:CC:00:00:01")!
    let otherMAC = MACAddress("AA:BB:CC:00:00:02")!

    init() throws {
        let migrated = try MigratedStore(keyByte: 7)
        (connection, store) = (migrated.connection, migrated.store)
        (company, router, otherRouter, product) = try migrated.addCompanyWithTwoRouters()
    }

    func attempt(router: Int64? = nil, mac: MACAddress?, address: String?) -> PaymentAttempt {
        PaymentAttempt(
            id: UUID().uuidString.lowercased(), companyID: company, routerID: router ?? self.router, productID: product,
            apiKeyID: nil, idempotencyKey: "h:" + UUID().uuidString, requestHash: "rh", state: .pending,
            amount: Money(cents: 1500, currency: "MXN"), productName: "1 Hora", profileName: "1hora", limitUptime: nil,
            limitBytesTotal: nil, customerName: "Ana", customerEmail: "ana@example.com", customerPhone: nil, userType: .pin,
            credentials: HotspotCredentials(username: "123456", password: ""), mac: mac, ip: nil, autoConnect: false,
            createdAt: Int64(Date().timeIntervalSince1970), remoteAddress: address)
    }

    /// An attempt recorded and moved on to `state` through the saga's own saves.
    @discardableResult
    func recorded(_ state: PaymentAttempt.State, router: Int64? = nil, mac: MACAddress?, address: String?) throws -> PaymentAttempt {
        var attempt = attempt(router: router, mac: mac, address: address)
        _ = try store.begin(attempt, owner: "t", leaseSeconds: 60)
        var from = PaymentAttempt.State.pending
        for next in state == .delivered ? [.charging, .paid, .delivered] : [.charging, .declining, .declined] as [PaymentAttempt.State] {
            attempt.state = next
            #expect(try store.save(attempt, expecting: from, reason: next.rawValue))
            from = next
            if next == state { break }
        }
        return attempt
    }

    func declines(of attempt: PaymentAttempt, windowSeconds: Int? = 600) throws -> DeclineCounts? {
        guard case .started(let counts) = try store.begin(attempt, owner: "t", leaseSeconds: 60, declineWindowSeconds: windowSeconds)
        else {
            Issue.record("begin did not start a new attempt")
            return nil
        }
        return counts
    }

    @Test func eachCriterionCountsTheDeclinesOfTheWindowWhateverTheOthers() throws {
        // Declined and declining attempts in every combination of router, device and address.
        try recorded(.declined, mac: mac, address: "10.5.50.9")
        try recorded(.declining, mac: otherMAC, address: "10.5.50.9")
        try recorded(.declined, mac: nil, address: "10.5.50.7")
        try recorded(.declined, router: otherRouter, mac: mac, address: "10.5.50.7")
        try recorded(.declined, router: otherRouter, mac: nil, address: "10.5.50.9")
        // Not declines: a delivery from the same device and address, and one stopped at charging.
        try recorded(.delivered, mac: mac, address: "10.5.50.9")
        try recorded(.charging, mac: mac, address: "10.5.50.9")
        // A decline older than the window.
        let old = try recorded(.declined, mac: mac, address: "10.5.50.9")
        try connection.query("UPDATE payment_attempts SET created_at = now() - interval '2 hours' WHERE id = $1::uuid", [old.id])

        #expect(try declines(of: attempt(mac: mac, address: "10.5.50.9")) == DeclineCounts(router: 3, mac: 2, address: 3))
        #expect(
            try declines(of: attempt(router: otherRouter, mac: otherMAC, address: "10.5.50.7"))
                == DeclineCounts(router: 2, mac: 1, address: 2))
        // No device and no address: nothing counted for them (an attempt without either never
        // matches the declines that have none).
        #expect(try declines(of: attempt(mac: nil, address: nil)) == DeclineCounts(router: 3, mac: 0, address: 0))
        // A wider window takes the old one in.
        #expect(
            try declines(of: attempt(mac: mac, address: "10.5.50.9"), windowSeconds: 86_400) == DeclineCounts(router: 4, mac: 3, address: 4)
        )
        // No window: no counts.
        #expect(try declines(of: attempt(mac: mac, address: "10.5.50.9"), windowSeconds: nil) == nil)
    }

    @Test func theLeasesOfThisHostsDeadProcessesAreFreedAndNoOthers() throws {
        // Live leases of a dead process (two attempts), of a live one, of the same pid on another
        // host, and a dead process's lease that has already run out.
        let owners = ["vm:4001/fcgi-1", "vm:4001/fcgi-2", "vm:4002/fcgi-1", "vm2:4001/fcgi-1", "vm:40011/fcgi-1", "vm:4001/fcgi-3"]
        var ids: [String] = []
        for owner in owners {
            let attempt = attempt(mac: nil, address: nil)
            _ = try store.begin(attempt, owner: owner, leaseSeconds: 60)
            ids.append(attempt.id)
        }
        try connection.query("UPDATE payment_attempts SET lease_until = now() - interval '1 minute' WHERE id = $1::uuid", [ids[5]])
        var asked: Set<Int32> = []
        let freed = try store.releaseLeasesOfDeadProcesses(host: "vm") { pid in
            asked.insert(pid)
            return pid == 4002
        }
        #expect(freed == 3)
        #expect(asked == [4001, 4002, 40011])
        let rows = try connection.query(
            "SELECT id::text AS id, lease_owner, next_retry_at IS NOT NULL AND next_retry_at <= now() AS due FROM payment_attempts")
        let leases = Dictionary(uniqueKeysWithValues: rows.all.map { ($0["id"] ?? "", $0["lease_owner"]) })
        #expect(leases[ids[0]] == .some(nil) && leases[ids[1]] == .some(nil) && leases[ids[4]] == .some(nil))
        #expect(leases[ids[2]] == "vm:4002/fcgi-1" && leases[ids[3]] == "vm2:4001/fcgi-1")
        // An expired lease is nobody's already: it stays as it was, for the next claim.
        #expect(leases[ids[5]] == "vm:4001/fcgi-3")
        let due = Dictionary(uniqueKeysWithValues: rows.all.map { ($0["id"] ?? "", $0.bool("due") ?? false) })
        #expect(due[ids[0]] == true && due[ids[1]] == true && due[ids[2]] == false)
        #expect(try store.releaseLeasesOfDeadProcesses(host: "vm") { $0 == 4002 } == 0)
    }
}
