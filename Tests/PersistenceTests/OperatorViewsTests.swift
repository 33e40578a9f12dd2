import Domain
import Foundation
import Secrets
import Testing

@testable import Persistence

/// What `hotspotctl report`, `payments show` and the metrics' backlog read.
@Suite(.serialized) struct OperatorViewsTests {
    let connection: PostgresConnection
    let store: PostgresStore
    let company: Int64
    let terraza: Int64
    let lobby: Int64
    let hour: Product
    let pro: Product
    let otherCompany: Int64
    let dollars: Product

    init() throws {
        let migrated = try MigratedStore(keyByte: 5)
        (connection, store) = (migrated.connection, migrated.store)
        company = try store.addCompany(name: "Café", contactEmail: nil, contactPhone: nil)
        terraza = try migrated.addRouter(company: company, name: "Terraza")
        lobby = try migrated.addRouter(company: company, name: "Lobby", host: 2)
        hour = try Self.product(store, company, terraza, "1 Hora", Money(cents: 1500, currency: "MXN"))
        pro = try Self.product(store, company, lobby, "Plan \"Pro\", 1 día", Money(cents: 4990, currency: "MXN"))
        otherCompany = try store.addCompany(name: "Hotel", contactEmail: nil, contactPhone: nil)
        let hotelRouter = try migrated.addRouter(company: otherCompany, name: "Hall", host: 3)
        dollars = try Self.product(store, otherCompany, hotelRouter, "Day pass", Money(cents: 1000, currency: "USD"))
    }

    static func product(_ store: PostgresStore, _ company: Int64, _ router: Int64, _ name: String, _ price: Money) throws -> Product {
        var product = Product(id: 0, companyID: company, routerID: router, name: name, price: price, profileName: "1hora")
        product.id = try store.addProduct(product)
        return product
    }

    /// An attempt created at `utc` (`YYYY-MM-DD HH:MM:SS`), moved straight to `state`.
    @discardableResult
    func record(_ product: Product, _ state: PaymentAttempt.State, at utc: String) throws -> String {
        let epoch = try #require(
            try connection.query("SELECT extract(epoch FROM ($1 || '+00')::timestamptz)::bigint AS e", [utc]).first?.int64("e"))
        let id = UUID().uuidString.lowercased()
        var attempt = PaymentAttempt(
            id: id, companyID: product.companyID, routerID: product.routerID, productID: product.id, apiKeyID: nil,
            idempotencyKey: "k-\(id)", requestHash: "h", state: .pending, amount: product.price, productName: product.name,
            profileName: product.profileName, limitUptime: nil, limitBytesTotal: nil, customerName: "Ana", customerEmail: "a@b.c",
            customerPhone: nil, userType: .userAndPassword, credentials: HotspotCredentials(username: "U\(id.prefix(5))", password: "1234"),
            mac: nil, ip: nil, autoConnect: false, createdAt: epoch, requestID: "req-\(id.prefix(8))")
        guard case .started = try store.begin(attempt, owner: "test", leaseSeconds: 1) else {
            Issue.record("attempt \(id) not recorded")
            return id
        }
        if state != .pending {
            attempt.state = state
            #expect(try store.save(attempt, expecting: .pending, reason: "test: \(state.rawValue)"))
        }
        return id
    }

    func seedMarch() throws {
        try record(hour, .delivered, at: "2026-02-28 23:59:59")  // the day before --from
        try record(hour, .delivered, at: "2026-03-01 00:00:00")
        try record(pro, .delivered, at: "2026-03-01 23:59:59")
        try record(hour, .declined, at: "2026-03-01 12:00:00")
        try record(dollars, .delivered, at: "2026-03-01 10:00:00")
        try record(hour, .failed, at: "2026-03-02 00:00:00")
        try record(pro, .refunded, at: "2026-03-02 08:00:00")
        try record(hour, .charging, at: "2026-03-02 23:59:59")
        try record(hour, .delivered, at: "2026-03-03 00:00:00")  // the day after --to
    }

    func row(
        _ key: String, _ name: String?, _ currency: String, attempts: Int, delivered: Int = 0, declined: Int = 0, failed: Int = 0,
        refunded: Int = 0, inProgress: Int = 0, gross: Int64 = 0
    ) -> PostgresStore.SalesRow {
        PostgresStore.SalesRow(
            key: key, name: name, currency: currency, attempts: attempts, delivered: delivered, declined: declined, failed: failed,
            refunded: refunded, inProgress: inProgress, grossCents: gross)
    }

    @Test func reportByUTCDayIncludesBothEndsAndSplitsCurrencies() throws {
        try seedMarch()
        #expect(
            try store.salesReport(from: "2026-03-01", to: "2026-03-02", by: .day, companyID: nil) == [
                row("2026-03-01", nil, "MXN", attempts: 3, delivered: 2, declined: 1, gross: 6490),
                row("2026-03-01", nil, "USD", attempts: 1, delivered: 1, gross: 1000),
                row("2026-03-02", nil, "MXN", attempts: 3, failed: 1, refunded: 1, inProgress: 1),
            ])
        #expect(
            try store.salesReport(from: "2026-03-01", to: "2026-03-01", by: .day, companyID: otherCompany) == [
                row("2026-03-01", nil, "USD", attempts: 1, delivered: 1, gross: 1000)
            ])
        #expect(try store.salesReport(from: "2026-04-01", to: "2026-04-30", by: .day, companyID: nil).isEmpty)
    }

    @Test func reportByRouterAndByProductNameTheirGroups() throws {
        try seedMarch()
        #expect(
            try store.salesReport(from: "2026-03-01", to: "2026-03-02", by: .router, companyID: company) == [
                row(String(terraza), "Terraza", "MXN", attempts: 4, delivered: 1, declined: 1, failed: 1, inProgress: 1, gross: 1500),
                row(String(lobby), "Lobby", "MXN", attempts: 2, delivered: 1, refunded: 1, gross: 4990),
            ])
        #expect(
            try store.salesReport(from: "2026-03-01", to: "2026-03-02", by: .product, companyID: company) == [
                row(String(hour.id), "1 Hora", "MXN", attempts: 4, delivered: 1, declined: 1, failed: 1, inProgress: 1, gross: 1500),
                row(String(pro.id), "Plan \"Pro\", 1 día", "MXN", attempts: 2, delivered: 1, refunded: 1, gross: 4990),
            ])
    }

    @Test(arguments: PostgresStore.SalesGrouping.allCases)
    func reportReadsTheCreationIndexes(grouping: PostgresStore.SalesGrouping) throws {
        try connection.query("SET enable_seqscan = off")
        defer { _ = try? connection.query("RESET enable_seqscan") }
        for company in [nil, company] {
            let plan = try connection.query(
                "EXPLAIN " + PostgresStore.salesReportStatement(by: grouping), ["2026-03-01", "2026-03-02", company.map(String.init)]
            ).all.compactMap { $0["QUERY PLAN"] }.joined(separator: "\n")
            #expect(plan.contains("payment_attempts_created") || plan.contains("payment_attempts_company_created"), "\(plan)")
        }
    }

    @Test func backlogCountsUnfinishedAttemptsAndTheOldest() throws {
        #expect(try store.backlog() == PostgresStore.Backlog(attemptsByState: [:], oldestCreatedAt: nil))
        try seedMarch()
        try record(pro, .pending, at: "2026-03-04 10:00:00")
        let oldest = try #require(
            try connection.query("SELECT extract(epoch FROM timestamptz '2026-03-02 23:59:59+00')::bigint AS e").first?.int64("e"))
        #expect(try store.backlog() == PostgresStore.Backlog(attemptsByState: ["charging": 1, "pending": 1], oldestCreatedAt: oldest))
    }

    @Test func anAttemptAndItsTimeline() throws {
        let id = try record(pro, .declined, at: "2026-03-01 12:00:00")
        let summary = try #require(try store.attemptSummary(id: id))
        #expect(summary.attempt.state == .declined)
        #expect(summary.attempt.productName == "Plan \"Pro\", 1 día")
        #expect(summary.attempt.requestID == "req-\(id.prefix(8))")
        #expect(summary.createdAt == "2026-03-01T12:00:00Z")
        #expect(summary.finishedAt != nil)
        let events = try store.events(attemptID: id)
        #expect(events.map(\.from) == [nil, "pending"])
        #expect(events.map(\.to) == ["pending", "declined"])
        #expect(events.map(\.reason) == ["recorded", "test: declined"])
        #expect(try store.attemptSummary(id: UUID().uuidString) == nil)
    }
}
