import Dispatch
import Domain
import Foundation
import Persistence
import Secrets
import Synchronization
import Testing

/// A fresh database on the cluster named by HOTSPOT_TEST_PG_HOST (a socket directory; `make test`
/// starts one). Without it these tests fail: they are not skipped.
struct TestDatabase {
    let url: String
    let name: String

    init() throws {
        guard let host = ProcessInfo.processInfo.environment["HOTSPOT_TEST_PG_HOST"] else {
            throw TestDatabaseError.noCluster
        }
        name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let admin = PostgresConnection(url: "postgresql://postgres@/postgres?host=\(host)")
        try admin.query("CREATE DATABASE \(name)")
        url = "postgresql://postgres@/\(name)?host=\(host)"
    }

    enum TestDatabaseError: Error { case noCluster }
}

@Suite(.serialized) struct PostgresStoreTests {
    let database: TestDatabase
    let connection: PostgresConnection
    let store: PostgresStore
    let sealer = try! SecretBox(base64Key: Data(repeating: 3, count: 32).base64EncodedString())

    init() throws {
        database = try TestDatabase()
        connection = PostgresConnection(url: database.url)
        try Migrations.migrate(connection)
        store = PostgresStore(connection: connection, sealer: sealer)
    }

    @Test func migrationsApplyOnceAndAreIdempotent() throws {
        #expect(try Migrations.currentVersion(connection) == Migrations.all.last!.version)
        #expect(try Migrations.migrate(connection).isEmpty)
    }

    @Test func concurrentMigrationsApplyEachVersionOnce() throws {
        let fresh = try TestDatabase()
        let url = fresh.url
        let results = Mutex<[[Int]]>([])
        let threads = (0..<4).map { _ in
            Thread {
                let connection = PostgresConnection(url: url)
                let applied = (try? Migrations.migrate(connection)) ?? [-1]
                results.withLock { $0.append(applied) }
            }
        }
        threads.forEach { $0.start() }
        let deadline = Date().addingTimeInterval(30)
        while results.withLock({ $0.count }) < 4, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        let all = results.withLock { $0 }
        #expect(all.count == 4)
        #expect(all.flatMap { $0 }.sorted() == Migrations.all.map(\.version))
    }

    @Test func provisionsAndReadsTheCatalogue() throws {
        let company = try store.addCompany(name: "Café", contactEmail: "a@b.c", contactPhone: "5512345678")
        let router = try store.addRouter(
            companyID: company, name: "Terraza", location: "PB", restURL: "https://10.0.0.1", apiUser: "api",
            apiPassword: "router-pass-123", trust: .pinnedPublicKey("sha256//abc"), hotspotServer: "hotspot1")
        let otherRouter = try store.addRouter(
            companyID: company, name: "Otro", location: nil, restURL: "https://10.0.0.2", apiUser: "api",
            apiPassword: "x", trust: .insecure, hotspotServer: "all")
        let hour = try store.addProduct(
            Product(
                id: 0, companyID: company, routerID: router, name: "1 Hora", price: Money(cents: 1500, currency: "MXN"),
                profileName: "1hora", limitUptime: "1h", details: ["5 Mbps", "Un \"dispositivo\""], featured: true, displayOrder: 2))
        let day = try store.addProduct(
            Product(
                id: 0, companyID: company, routerID: router, name: "1 Día", price: Money(cents: 4990, currency: "MXN"),
                profileName: "1dia", displayOrder: 1))
        _ = try store.addProduct(
            Product(
                id: 0, companyID: company, routerID: otherRouter, name: "Ajeno", price: Money(cents: 100, currency: "MXN"), profileName: "x"
            ))

        let products = try store.activeProducts(companyID: company, routerID: router)
        #expect(products.map(\.id) == [day, hour])
        #expect(products[1].details == ["5 Mbps", "Un \"dispositivo\""])
        #expect(products[1].limitUptime == "1h")
        #expect(try store.activeProduct(id: hour, companyID: company, routerID: otherRouter) == nil)
        #expect(try store.setProductActive(id: hour, active: false))
        #expect(try store.activeProducts(companyID: company, routerID: router).map(\.id) == [day])

        let endpoint = try #require(try store.routerEndpoint(routerID: router))
        #expect(endpoint.password == "router-pass-123")
        #expect(endpoint.trust == .pinnedPublicKey("sha256//abc"))
        #expect(endpoint.hotspotServer == "hotspot1")
        #expect(!endpoint.description.contains("router-pass-123"))
    }

    @Test func aReleaseStoresTheFinalAnswerOnceAndEndsTheLease() throws {
        let attempt = try #require(try attempts(["h:k1"]).first)
        guard case .started = try store.begin(attempt, owner: "t", leaseSeconds: 60) else {
            Issue.record("the first begin did not start the attempt")
            return
        }
        var failed = attempt
        failed.state = .failed
        #expect(try store.save(failed, expecting: .pending, reason: "router down"))
        let answer = StoredResponse(status: 500, body: Array(#"{"codigo":"router_no_disponible"}"#.utf8), codigo: "router_no_disponible")
        try store.release(attemptID: attempt.id, storing: answer, retry: RetrySchedule(baseSeconds: 1, ceilingSeconds: 15))
        try store.release(
            attemptID: attempt.id, storing: StoredResponse(status: 200, body: [1], codigo: "otro"),
            retry: RetrySchedule(baseSeconds: 1, ceilingSeconds: 15))
        guard case .existing(let existing, let response, let leaseActive) = try store.begin(attempt, owner: "t", leaseSeconds: 60) else {
            Issue.record("the second begin did not find the attempt")
            return
        }
        #expect(existing.state == .failed && !leaseActive)
        #expect(response == answer)
    }

    /// A company, router and product, and an unsaved attempt on them for each key.
    private func attempts(_ keys: [String], mac: MACAddress? = nil) throws -> [PaymentAttempt] {
        let company = try store.addCompany(name: "Café", contactEmail: nil, contactPhone: "5512345678")
        let router = try store.addRouter(
            companyID: company, name: "R", location: nil, restURL: "https://10.0.0.1", apiUser: "api", apiPassword: "p",
            trust: .insecure, hotspotServer: "all")
        let product = try store.addProduct(
            Product(
                id: 0, companyID: company, routerID: router, name: "1 Hora", price: Money(cents: 1500, currency: "MXN"),
                profileName: "1hora"))
        return keys.map { key in
            PaymentAttempt(
                id: UUID().uuidString.lowercased(), companyID: company, routerID: router, productID: product, apiKeyID: nil,
                idempotencyKey: key, requestHash: "hash", state: .pending, amount: Money(cents: 1500, currency: "MXN"),
                productName: "1 Hora", profileName: "1hora", limitUptime: nil, limitBytesTotal: nil, customerName: "Ana",
                customerEmail: "ana@example.com", customerPhone: nil, userType: .pin,
                credentials: HotspotCredentials(username: "123456", password: ""), mac: mac, ip: nil, autoConnect: false,
                createdAt: Int64(Date().timeIntervalSince1970), remoteAddress: "10.5.50.9")
        }
    }

    @Test func theRowsAttemptsReferToAreNeverRemovedOrRenumbered() throws {
        let attempt = try #require(try attempts(["h:kept"]).first)
        _ = try store.begin(attempt, owner: "t", leaseSeconds: 60)
        let key = "key_kept"
        try store.addAPIKey(
            keyID: key, companyID: attempt.companyID, routerID: attempt.routerID, fingerprint: "fp-kept", label: nil,
            issuedAt: attempt.createdAt, expiresAt: nil)
        // The ids are identity columns: only DEFAULT (the next number) may replace one.
        let refused = [
            "DELETE FROM products WHERE id = \(attempt.productID)",
            "UPDATE products SET id = DEFAULT WHERE id = \(attempt.productID)",
            "TRUNCATE products CASCADE",
            "DELETE FROM routers WHERE id = \(attempt.routerID)",
            "UPDATE routers SET id = DEFAULT WHERE id = \(attempt.routerID)",
            "TRUNCATE routers CASCADE",
            "DELETE FROM api_keys WHERE id = '\(key)'",
            "UPDATE api_keys SET id = 'other' WHERE id = '\(key)'",
            "TRUNCATE api_keys",
        ]
        for statement in refused {
            #expect("\(statement)") {
                try connection.query(statement)
            } throws: { error in
                (error as? PostgresError)?.message.contains("are never removed or renumbered") == true
            }
        }
        // What the product does to them still works.
        #expect(try store.setProductActive(id: attempt.productID, active: false))
        #expect(try store.revokeAPIKey(keyID: key))
        #expect(try connection.query("SELECT count(*) AS n FROM products").first?.int("n") == 1)
    }

    @Test func concludeCommitsTheStateTheAnswerAndTheEndOfTheLeaseTogether() throws {
        let attempt = try #require(try attempts(["h:c1"]).first)
        guard case .started(recentDeclines: nil) = try store.begin(attempt, owner: "t", leaseSeconds: 60) else {
            Issue.record("the first begin did not start the attempt")
            return
        }
        var charging = attempt
        charging.state = .charging
        charging.routerUserID = "*1A"
        #expect(try store.save(charging, expecting: .pending, reason: "user created"))
        var delivered = charging
        delivered.state = .delivered
        delivered.orderID = "ord_c1"
        let receipt = StoredResponse(status: 200, body: Array(#"{"success":true}"#.utf8), codigo: "pagado")
        // A stale expectation writes nothing.
        #expect(
            try !store.conclude(
                delivered, expecting: .pending, reason: "enabled", storing: receipt,
                retry: RetrySchedule(baseSeconds: 1, ceilingSeconds: 15)))
        #expect(
            try store.conclude(
                delivered, expecting: .charging, reason: "enabled", storing: receipt,
                retry: RetrySchedule(baseSeconds: 1, ceilingSeconds: 15)))
        guard case .existing(let existing, let response, let leaseActive) = try store.begin(attempt, owner: "t", leaseSeconds: 60) else {
            Issue.record("the second begin did not find the attempt")
            return
        }
        #expect(existing.state == .delivered && existing.orderID == "ord_c1" && existing.routerUserID == "*1A")
        #expect(response == receipt && !leaseActive)
        let row = try #require(
            try connection.query(
                """
                SELECT finished_at IS NOT NULL AS finished, next_retry_at IS NULL AS not_due, retry_count,
                       (SELECT string_agg(to_state, ',' ORDER BY id) FROM payment_events WHERE attempt_id = $1::uuid) AS timeline
                FROM payment_attempts WHERE id = $1::uuid
                """, [attempt.id]
            ).first)
        #expect(row.bool("finished") == true && row.bool("not_due") == true && row.int("retry_count") == 0)
        #expect(row["timeline"] == "pending,charging,delivered")
    }

    @Test func aFinalAttemptIsClaimedForAReportAndReopenedByANonFinalState() throws {
        let attempt = try #require(try attempts(["h:r1"]).first)
        _ = try store.begin(attempt, owner: "t", leaseSeconds: 60)
        let schedule = RetrySchedule(baseSeconds: 1, ceilingSeconds: 15)
        var delivered = attempt
        delivered.state = .delivered
        delivered.orderID = "ord_r1"
        delivered.routerUserID = "*1A"
        let receipt = StoredResponse(status: 200, body: Array(#"{"success":true}"#.utf8), codigo: "pagado")
        #expect(try store.conclude(delivered, expecting: .pending, reason: "enabled", storing: receipt, retry: schedule))
        // A retry of the request does not take a finished, answered attempt; a report of its order does.
        #expect(try store.claim(attemptID: attempt.id, owner: "retry", leaseSeconds: 60) == nil)
        let claimed = try #require(
            try store.claim(attemptID: attempt.id, owner: "report", leaseSeconds: 60, includingFinished: true))
        #expect(claimed.state == .delivered && claimed.answeredCodigo == "pagado")
        #expect(try store.claim(attemptID: attempt.id, owner: "other", leaseSeconds: 60, includingFinished: true) == nil)
        #expect(try store.claimDue(limit: 10, owner: "reconciler", leaseSeconds: 60).isEmpty)
        func row() throws -> PostgresRow {
            try #require(
                try connection.query(
                    """
                    SELECT finished_at IS NULL AS open, next_retry_at IS NULL OR next_retry_at <= now() AS due,
                           response_codigo, (SELECT string_agg(to_state, ',' ORDER BY id) FROM payment_events
                                             WHERE attempt_id = $1::uuid) AS timeline
                    FROM payment_attempts WHERE id = $1::uuid
                    """, [attempt.id]
                ).first)
        }
        #expect(try row().bool("open") == false)
        var revoking = delivered
        revoking.state = .revoking
        #expect(try store.save(revoking, expecting: .delivered, reason: "order refunded; revoking"))
        #expect(try row().bool("open") == true && row().bool("due") == true)
        // The worker stops with the router down: the reconciler takes the reopened attempt up.
        #expect(try store.conclude(revoking, expecting: .revoking, reason: "will retry", storing: nil, retry: schedule))
        try connection.query("UPDATE payment_attempts SET next_retry_at = now() WHERE id = $1::uuid", [attempt.id])
        #expect(try store.claimDue(limit: 10, owner: "reconciler", leaseSeconds: 60).map(\.state) == [.revoking])
        var revoked = revoking
        revoked.state = .revoked
        let revokedAnswer = StoredResponse(status: 402, body: Array("{}".utf8), codigo: "acceso_revocado")
        #expect(try store.conclude(revoked, expecting: .revoking, reason: "access revoked", storing: revokedAnswer, retry: schedule))
        #expect(try row().bool("open") == false && row()["response_codigo"] == "pagado")
        #expect(try row()["timeline"] == "pending,delivered,revoking,revoked")
        #expect(try store.claimDue(limit: 10, owner: "reconciler", leaseSeconds: 60).isEmpty)
        #expect(try store.claim(attemptID: attempt.id, owner: "retry", leaseSeconds: 60) == nil)
    }

    @Test func aClaimShapedPerRouterTakesEachRoutersAllowanceAndAttemptsGivenBackWaitUntried() throws {
        let first = try attempts(["h:d1", "h:d2", "h:d3", "h:d4", "h:d5"])
        let second = try attempts(["h:e1", "h:e2", "h:e3"])
        let third = try attempts(["h:f1", "h:f2"])
        for attempt in first + second + third {
            _ = try store.begin(attempt, owner: "t", leaseSeconds: 60)
            try store.release(attemptID: attempt.id, storing: nil, retry: RetrySchedule(baseSeconds: 0, ceilingSeconds: 1))
        }
        let (a, b, c) = (first[0].routerID, second[0].routerID, third[0].routerID)
        func count(_ attempts: [PaymentAttempt], _ router: Int64) -> Int { attempts.filter { $0.routerID == router }.count }
        // At most two of a router, one of b, none of c; five in all.
        let taken = try store.claimDue(
            DueClaim(limit: 5, perRouter: 2, allowances: [b: 1, c: 0]), owner: "host:1/reconciler#1", leaseSeconds: 60)
        #expect(count(taken, a) == 2 && count(taken, b) == 1 && count(taken, c) == 0)
        #expect(try store.claimDue(DueClaim(limit: 1, perRouter: 2), owner: "host:1/reconciler#2", leaseSeconds: 60).count == 1)
        // What is leased is skipped by every other claim.
        let rest = try store.claimDue(DueClaim(limit: 20), owner: "host:2/reconciler#1", leaseSeconds: 60)
        #expect(rest.count == 10 - 4 && Set(rest.map(\.id)).isDisjoint(with: taken.map(\.id)))
        // Given back unrun: free, due in 30 s, no try counted; only the claim's owner gives its own back.
        try store.postpone(attemptIDs: taken.map(\.id), owner: "host:1/reconciler#1", seconds: 30)
        try store.postpone(attemptIDs: rest.map(\.id), owner: "host:1/reconciler#1", seconds: 30)
        for (attempts, owner) in [(taken, nil), (rest, "host:2/reconciler#1")] as [([PaymentAttempt], String?)] {
            for attempt in attempts {
                let row = try #require(
                    try connection.query(
                        """
                        SELECT lease_owner, retry_count, next_retry_at > now() + interval '25 seconds' AS later
                        FROM payment_attempts WHERE id = $1::uuid
                        """, [attempt.id]
                    ).first)
                #expect(row["lease_owner"] == owner && row.int("retry_count") == 1)
                #expect(row.bool("later") == (owner == nil))
            }
        }
        #expect(try store.claimDue(DueClaim(limit: 20, perRouter: 2), owner: "host:3/reconciler#1", leaseSeconds: 60).isEmpty)
        #expect(try store.unfinishedAttempts(limit: 20).filter { $0.routerID == c }.count == 2)
    }

    @Test func theMomentAChargeIsSentIsKeptAndBoundsTheRetryDelay() throws {
        let attempt = try #require(try attempts(["h:c3"]).first)
        _ = try store.begin(attempt, owner: "t", leaseSeconds: 60)
        var charging = attempt
        charging.state = .charging
        let schedule = RetrySchedule(baseSeconds: 4, ceilingSeconds: 6)
        #expect(try store.conclude(charging, expecting: .pending, reason: "charge outcome unknown", storing: nil, retry: schedule))
        for _ in 0..<3 {
            let claimed = try #require(try store.claim(attemptID: attempt.id, owner: "t", leaseSeconds: 60))
            let sentAt = try #require(claimed.chargeSentAt)
            #expect(abs(sentAt - Int64(Date().timeIntervalSince1970)) <= 5)
            try store.release(attemptID: attempt.id, storing: nil, retry: schedule)
        }
        // 4 s, then 8 s, 16 s… each held to the 6 s ceiling.
        let row = try #require(
            try connection.query(
                "SELECT extract(epoch FROM next_retry_at - now()) AS wait, retry_count FROM payment_attempts WHERE id = $1::uuid",
                [attempt.id]
            ).first)
        #expect(row.int("retry_count") == 4)
        #expect((5.0...6.0).contains(Double(row["wait"] ?? "") ?? 0))
    }

    @Test func concludeWithoutAFinalStateSchedulesTheReconciler() throws {
        let attempt = try #require(try attempts(["h:c2"]).first)
        _ = try store.begin(attempt, owner: "t", leaseSeconds: 60)
        var paid = attempt
        paid.state = .paid
        #expect(
            try store.conclude(
                paid, expecting: .pending, reason: "enable failed", storing: nil, retry: RetrySchedule(baseSeconds: 1, ceilingSeconds: 15)))
        let row = try #require(
            try connection.query(
                """
                SELECT finished_at IS NULL AS open, lease_owner IS NULL AS released, next_retry_at > now() AS due_later,
                       retry_count, response_body IS NULL AS unanswered
                FROM payment_attempts WHERE id = $1::uuid
                """, [attempt.id]
            ).first)
        #expect(row.bool("open") == true && row.bool("released") == true && row.bool("due_later") == true)
        #expect(row.int("retry_count") == 1 && row.bool("unanswered") == true)
    }

    @Test func beginCountsTheWindowsDeclinesInTheSameRoundTrip() throws {
        let mac = MACAddress("AA:BB:CC:00:00:09")
        let all = try attempts(["h:d1", "h:d2", "h:d3", "h:d4", "h:d5", "h:d6"], mac: mac)
        // Declines count by the attempt's state, whatever codigo their answers carry; a failed
        // attempt (the router's fault, not the card's) does not count.
        let endings: [(PaymentAttempt.State, PaymentAttempt.State, String)] = [
            (.declining, .declined, "pago_declinado"), (.declining, .declined, "any_other_codigo"),
            (.declining, .declining, "pago_no_completado"), (.aborting, .failed, "router_no_disponible"),
        ]
        for (attempt, (through, end, codigo)) in zip(all, endings) {
            _ = try store.begin(attempt, owner: "t", leaseSeconds: 60)
            var done = attempt
            done.state = through
            #expect(try store.save(done, expecting: .pending, reason: "on the way"))
            done.state = end
            #expect(
                try store.conclude(
                    done, expecting: through, reason: "ended",
                    storing: StoredResponse(status: 402, body: Array("{}".utf8), codigo: codigo),
                    retry: RetrySchedule(baseSeconds: 1, ceilingSeconds: 15)))
        }
        guard case .started(let counts) = try store.begin(all[4], owner: "t", leaseSeconds: 60, declineWindowSeconds: 600) else {
            Issue.record("the fifth begin did not start the attempt")
            return
        }
        #expect(counts == DeclineCounts(router: 3, mac: 3, address: 3))
        guard case .started(let none) = try store.begin(all[5], owner: "t", leaseSeconds: 60, declineWindowSeconds: nil) else {
            Issue.record("the sixth begin did not start the attempt")
            return
        }
        #expect(none == nil)
    }

    @Test func secretsAreNotStoredInClear() throws {
        let company = try store.addCompany(name: "Café", contactEmail: nil, contactPhone: nil)
        #expect(try store.setConektaKeys(companyID: company, publicKey: "key_pub", privateKey: "key_PRIVATE_abc"))
        _ = try store.addRouter(
            companyID: company, name: "R", location: nil, restURL: "https://10.0.0.1", apiUser: "api",
            apiPassword: "ROUTER_PASSWORD_xyz", trust: .insecure, hotspotServer: "all")
        let dump = try connection.query(
            """
            SELECT encode(conekta_private_key, 'escape') AS v FROM companies
            UNION ALL SELECT encode(api_password, 'escape') FROM routers
            """
        ).all.compactMap { $0["v"] }.joined()
        #expect(!dump.contains("key_PRIVATE_abc"))
        #expect(!dump.contains("ROUTER_PASSWORD_xyz"))
        #expect(try store.conektaPrivateKey(companyID: company)?.privateKey == "key_PRIVATE_abc")
    }

    @Test func apiKeyRecordsCarryTheDatabaseIdentity() throws {
        let company = try store.addCompany(name: "Café", contactEmail: nil, contactPhone: nil)
        let router = try store.addRouter(
            companyID: company, name: "R", location: nil, restURL: "https://10.0.0.1", apiUser: "api", apiPassword: "p",
            trust: .insecure, hotspotServer: "all")
        try store.addAPIKey(
            keyID: "key_t1", companyID: company, routerID: router, fingerprint: "f1", label: nil, issuedAt: 1_700_000_000,
            expiresAt: 1_900_000_000)
        var record = try #require(try store.apiKeyRecord(keyID: "key_t1"))
        #expect(record.fingerprint == "f1")
        #expect(record.expiresAt == 1_900_000_000)
        #expect(!record.revoked)
        #expect(record.router.id == router && record.company.id == company)
        #expect(try store.revokeAPIKey(keyID: "key_t1"))
        #expect(try !store.revokeAPIKey(keyID: "key_t1"))
        #expect(try store.setRouterActive(id: router, active: false))
        record = try #require(try store.apiKeyRecord(keyID: "key_t1"))
        #expect(record.revoked)
        #expect(!record.router.active)
        #expect(try store.apiKeyRecord(keyID: "key_none") == nil)
    }

    @Test func constraintsRefuseBadRows() throws {
        let company = try store.addCompany(name: "Café", contactEmail: nil, contactPhone: nil)
        #expect(throws: StoreFailure.self) {
            _ = try store.addProduct(
                Product(
                    id: 0, companyID: company, routerID: 999, name: "Sin router", price: Money(cents: 100, currency: "MXN"),
                    profileName: "x"))
        }
        #expect(throws: StoreFailure.self) {
            try store.addAPIKey(keyID: "k", companyID: company, routerID: 999, fingerprint: "f", label: nil, issuedAt: 0, expiresAt: nil)
        }
    }

    @Test func parametersAreNeverSQL() throws {
        let hostile = "x'); DROP TABLE companies; --"
        let id = try store.addCompany(name: hostile, contactEmail: nil, contactPhone: nil)
        #expect(try store.company(id: id)?.name == hostile)
        #expect(try store.companies().count >= 1)
    }

    @Test func statementsArePreparedOnceAndSurviveTheServerForgettingThem() throws {
        let connection = PostgresConnection(url: database.url)
        #expect(try connection.query("SELECT $1::int + 1 AS n", ["41"]).first?.int("n") == 42)
        #expect(try connection.query("SELECT count(*) AS n FROM pg_prepared_statements").first?.int("n") == 2)
        #expect(try connection.query("SELECT $1::int + 1 AS n", ["1"]).first?.int("n") == 2)
        #expect(try connection.query("SELECT count(*) AS n FROM pg_prepared_statements").first?.int("n") == 2)
        // What a pooler's reset or an administrator does: the statements are gone server-side.
        try connection.query("DISCARD ALL")
        #expect(try connection.query("SELECT $1::int + 1 AS n", ["9"]).first?.int("n") == 10)
    }

    @Test func warmingUpOpensEveryIdleConnectionOfThePool() throws {
        let connections = (0..<3).map { _ in PostgresConnection(url: database.url) }
        let pool = PostgresPool(connections: connections)
        #expect(connections.allSatisfy { !$0.isConnected })
        #expect(PostgresStore.warmUp(pool) == 3)
        #expect(connections.allSatisfy { $0.isConnected })
        // Everything went back: the pool lends all three again.
        let lent = try pool.withConnection { (_) throws(PostgresError) in
            try pool.withConnection { (_) throws(PostgresError) in try pool.withConnection { (_) throws(PostgresError) in 3 } }
        }
        #expect(lent == 3)
    }

    @Test func unreachableServerFailsFastWithBackoff() throws {
        let dead = PostgresConnection(url: "postgresql://postgres@/x?host=/nonexistent-dir")
        let store = PostgresStore(connection: dead, sealer: sealer)
        #expect(throws: StoreFailure.unavailable) { try store.ping() }
        let started = Date()
        for _ in 0..<100 { #expect(throws: StoreFailure.unavailable) { try store.ping() } }
        #expect(Date().timeIntervalSince(started) < 1)
    }
}

@Suite(.serialized) struct PostgresPoolTests {
    @Test func aFailedConnectionStopsBackingOffWhenAnotherOfItsGateConnects() throws {
        let database = try TestDatabase()
        let gate = ReconnectGate()
        // One connection that cannot reach its server, one that can: what a pool's connections
        // see when some failed during a restart and the server is back.
        let failed = PostgresConnection(url: "postgresql://postgres@/x?host=/nonexistent-dir", gate: gate)
        let healthy = PostgresConnection(url: database.url, gate: gate)
        func failure() -> String? {
            do {
                try failed.query("SELECT 1")
                return nil
            } catch {
                return error.message
            }
        }
        #expect(failure() != "waiting before reconnecting")  // it tried
        #expect(failure() == "waiting before reconnecting")  // and now backs off
        try healthy.query("SELECT 1")
        #expect(failure() != "waiting before reconnecting")  // tries again at once
        #expect(failure() == "waiting before reconnecting")
    }

    @Test func manyThreadsShareFewConnections() throws {
        let database = try TestDatabase()
        let pool = PostgresPool(url: database.url, size: 2, waitMilliseconds: 5_000)
        let results = Mutex<[Int]>([])
        let group = DispatchGroup()
        for index in 0..<12 {
            group.enter()
            Thread {
                let value = try? pool.withConnection { (connection) throws(PostgresError) -> Int in
                    try connection.query("SELECT $1::int + 1 AS v, pg_sleep(0.02)", [String(index)]).first?.int("v") ?? -1
                }
                results.withLock { $0.append(value ?? -1) }
                group.leave()
            }.start()
        }
        #expect(group.wait(timeout: .now() + 20) == .success)
        #expect(results.withLock { $0 }.sorted() == Array(1...12))
        let backends = try PostgresConnection(url: database.url).query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [database.name]
        ).first?.int("n")
        #expect(backends == 2)
    }

    @Test func anExhaustedPoolFailsFastInsteadOfHanging() throws {
        let database = try TestDatabase()
        let pool = PostgresPool(url: database.url, size: 1, waitMilliseconds: 100)
        let started = Date()
        let inner: Bool = try pool.withConnection { (_) throws(PostgresError) in
            (try? pool.withConnection { (_) throws(PostgresError) in true }) == nil
        }
        #expect(inner, "the second borrower must fail while the only connection is lent")
        #expect(Date().timeIntervalSince(started) < 2)
    }

    @Test func aTransactionLeftOpenIsRolledBackBeforeReuse() throws {
        let database = try TestDatabase()
        let pool = PostgresPool(url: database.url, size: 1)
        try pool.withConnection { (connection) throws(PostgresError) in
            try connection.query("BEGIN")
            try connection.query("CREATE TABLE t (x int)")
        }
        let exists = try pool.withConnection { (connection) throws(PostgresError) in
            try connection.query("SELECT to_regclass('t') IS NOT NULL AS present").first?.bool("present")
        }
        #expect(exists == false)
    }
}
