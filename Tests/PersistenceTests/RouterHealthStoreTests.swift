import Domain
import Foundation
import Secrets
import Testing

@testable import Persistence

/// Routers' checks in PostgreSQL (CONTRACT §13): the last outcome kept per router, the server's
/// checks leased to one owner at a time, and a router's connection changed in place.
@Suite(.serialized) struct RouterHealthStoreTests {
    let connection: PostgresConnection
    let store: PostgresStore
    let company: Int64
    let router: Int64

    init() throws {
        let migrated = try MigratedStore(keyByte: 7)
        (connection, store) = (migrated.connection, migrated.store)
        company = try store.addCompany(name: "Café", contactEmail: nil, contactPhone: nil)
        router = try migrated.addRouter(
            company: company, name: "Terraza", trust: .pinnedPublicKey("sha256//pin"), hotspotServer: "hotspot1")
    }

    func health(_ routerID: Int64, clock: RouterCheckStatus = .ok, at: Int64 = 1_700_000_000) -> RouterHealth {
        RouterHealth(
            routerID: routerID, checkedAt: at,
            results: [
                RouterCheckResult(check: .address, status: .ok, finding: .reached(host: "10.0.0.1", port: 443)),
                RouterCheckResult(
                    check: .clock, status: clock,
                    finding: .clock(skewSeconds: 300, RouterClock(date: "2023-11-14", time: "22:18:20"))),
            ])
    }

    @Test func theLastCheckOfEachRouterIsKept() throws {
        #expect(try store.routerHealthRecords() == [])
        try store.recordRouterHealth(health(router, clock: .warn), checkedBy: "hotspotctl", nextInSeconds: nil)
        try store.recordRouterHealth(health(router, clock: .ok, at: 1_700_000_060), checkedBy: "hotspotctl", nextInSeconds: nil)
        let records = try store.routerHealthRecords()
        #expect(records.count == 1)
        let record = try #require(records.first)
        #expect(record.routerID == router && record.checkedAt == 1_700_000_060 && record.checkedBy == "hotspotctl")
        #expect(record.status == .ok)
        #expect(
            record.checks == [
                .init(check: .address, status: .ok, code: "reached"), .init(check: .clock, status: .ok, code: "skew"),
            ])
        // A disabled router keeps its record, out of the metric's.
        _ = try store.setRouterActive(id: router, active: false)
        #expect(try store.routerHealthRecords().count == 1)
        #expect(try store.routerHealthRecords(activeOnly: true) == [])
    }

    @Test func aDueCheckIsHeldByOneOwnerUntilItsOutcomeIsKept() throws {
        let other = try store.addRouter(
            companyID: company, name: "Lobby", location: nil, restURL: "https://10.0.0.2", apiUser: "api", apiPassword: "q",
            trust: .insecure, hotspotServer: "all")
        let first = try #require(try store.claimDueRouterCheck(owner: "a", leaseSeconds: 60))
        let second = try #require(try store.claimDueRouterCheck(owner: "b", leaseSeconds: 60))
        #expect(Set([first, second]) == [router, other])
        #expect(try store.claimDueRouterCheck(owner: "c", leaseSeconds: 60) == nil)
        // A check by hotspotctl meanwhile keeps the schedule and the lease.
        try store.recordRouterHealth(health(first), checkedBy: "hotspotctl", nextInSeconds: nil)
        #expect(try store.claimDueRouterCheck(owner: "c", leaseSeconds: 60) == nil)
        // The owner's outcome ends its lease; the next check is due after the interval.
        try store.recordRouterHealth(health(first), checkedBy: "a", nextInSeconds: 300)
        #expect(try store.claimDueRouterCheck(owner: "c", leaseSeconds: 60) == nil)
        try store.recordRouterHealth(health(second), checkedBy: "b", nextInSeconds: 0)
        #expect(try store.claimDueRouterCheck(owner: "c", leaseSeconds: 60) == second)
        // The target: the endpoint with its password opened, and the router's products.
        let target = try #require(try store.routerCheckTarget(routerID: router))
        #expect(target.endpoint.password == "p" && target.endpoint.hotspotServer == "hotspot1" && target.products == [])
        #expect(try store.routerCheckTarget(routerID: 999) == nil)
    }

    @Test func aRoutersConnectionIsChangedFieldByField() throws {
        #expect(try store.updateRouter(id: router, PostgresStore.RouterChanges(apiPassword: "new secret", hotspotServer: "lobby")))
        var endpoint = try #require(try store.routerEndpoint(routerID: router))
        #expect(endpoint.password == "new secret" && endpoint.hotspotServer == "lobby")
        #expect(endpoint.trust == .pinnedPublicKey("sha256//pin") && endpoint.baseURL == "https://10.0.0.1" && endpoint.user == "api")

        #expect(try store.updateRouter(id: router, PostgresStore.RouterChanges(restURL: "https://10.99.0.2", trust: .caFile("/ca.pem"))))
        endpoint = try #require(try store.routerEndpoint(routerID: router))
        #expect(endpoint.trust == .caFile("/ca.pem") && endpoint.baseURL == "https://10.99.0.2" && endpoint.password == "new secret")
        #expect(try store.updateRouter(id: router, PostgresStore.RouterChanges(trust: .insecure)))
        #expect(try store.routerEndpoint(routerID: router)?.trust == .insecure)
        #expect(!(try store.updateRouter(id: 999, PostgresStore.RouterChanges(apiUser: "x"))))
    }
}
