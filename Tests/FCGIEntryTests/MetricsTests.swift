import API
import Domain
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@testable import FCGIEntry

@Suite struct PrometheusTextTests {
    @Test func labelValuesEscapeBackslashQuoteAndLineFeed() {
        #expect(PrometheusText.escapeLabelValue(#"a\b"c"#) == #"a\\b\"c"#)
        #expect(PrometheusText.escapeLabelValue("line\nnext") == #"line\nnext"#)
        // "\r\n" is one Character in Swift; its line feed must still be escaped.
        #expect(PrometheusText.escapeLabelValue("crlf\r\n") == "crlf\r\\n")
        #expect(PrometheusText.escapeLabelValue("plain_value ñ") == "plain_value ñ")
        #expect(PrometheusText.labels(["a", "b"], ["1", "x\"y"]) == #"a="1",b="x\"y""#)
    }

    @Test func helpEscapesBackslashAndLineFeedButNotQuotes() {
        var text = PrometheusText()
        text.family("m_total", type: .counter, help: "Said \"hi\"\\nope\nsecond line")
        #expect(text.output == "# HELP m_total Said \"hi\"\\\\nope\\nsecond line\n# TYPE m_total counter\n")
    }

    @Test func samplesWithAndWithoutLabels() {
        var text = PrometheusText()
        text.sample("up", "1")
        text.sample("requests_total", labels: #"route="health""#, "42")
        #expect(text.output == "up 1\nrequests_total{route=\"health\"} 42\n")
    }

    @Test func numbersAsPrometheusReadsThem() {
        #expect(PrometheusText.number(0.005) == "0.005")
        #expect(PrometheusText.number(30) == "30.0")
        #expect(PrometheusText.number(.infinity) == "+Inf")
        #expect(PrometheusText.number(-.infinity) == "-Inf")
        #expect(PrometheusText.number(.nan) == "NaN")
    }

    @Test func histogramBucketsAreCumulativeAndEndWithInfEqualToCount() {
        var text = PrometheusText()
        text.histogram("call_seconds", labels: #"op="x""#, bounds: [0.1, 1], counts: [2, 0, 3], sum: 12.5)
        #expect(
            text.output == """
                call_seconds_bucket{op="x",le="0.1"} 2
                call_seconds_bucket{op="x",le="1.0"} 2
                call_seconds_bucket{op="x",le="+Inf"} 5
                call_seconds_sum{op="x"} 12.5
                call_seconds_count{op="x"} 5

                """)
    }

    @Test func histogramWithoutLabels() {
        var text = PrometheusText()
        text.histogram("h", labels: "", bounds: [1], counts: [1, 1], sum: 3)
        #expect(text.output == "h_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.0\nh_count 2\n")
    }
}

@Suite struct MetricsTests {
    func metrics(shards: Int = 2) -> Metrics {
        Metrics(
            shards: shards, instance: "host:42", startTime: 1_700_000_000.5, workerThreads: 16,
            poolUsage: { Metrics.PoolUsage(size: 8, inUse: 3) })
    }

    func samples(_ text: String) -> [String: String] {
        var samples: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            samples[String(parts[0])] = String(parts[1])
        }
        return samples
    }

    @Test func shardsAddUpAtScrapeTime() {
        let metrics = metrics()
        let first = metrics.recorder(shard: 0)
        let second = metrics.recorder(shard: 1)
        first.requestAnswered(route: "payment", status: 200)
        second.requestAnswered(route: "payment", status: 200)
        second.requestAnswered(route: "health", status: 503)
        first.paymentAnswered(codigo: "pagado")
        second.paymentAnswered(codigo: "pago_declinado")
        second.reconciled(codigo: "pagado")
        let found = samples(metrics.exposition(now: 1_700_000_100))
        #expect(found[#"hotspot_http_requests_total{route="payment",status="200"}"#] == "2")
        #expect(found[#"hotspot_http_requests_total{route="health",status="503"}"#] == "1")
        #expect(found[#"hotspot_payments_total{codigo="pagado"}"#] == "1")
        #expect(found[#"hotspot_payments_total{codigo="pago_declinado"}"#] == "1")
        #expect(found[#"hotspot_reconciler_outcomes_total{codigo="pagado"}"#] == "1")
        #expect(found["hotspot_metrics_dropped_total"] == "0")
        #expect(found["hotspot_process_start_time_seconds"] == "1700000000.5")
        #expect(found[#"hotspot_instance_info{instance="host:42"}"#] == "1")
        #expect(found["hotspot_worker_threads"] == "16")
        #expect(found["hotspot_database_pool_connections"] == "8")
        #expect(found["hotspot_database_pool_connections_in_use"] == "3")
    }

    @Test func callsLandInTheirBucketWithSumAndCount() {
        let metrics = metrics()
        let recorder = metrics.recorder(shard: 0)
        recorder.routerCall("add_user", ok: true, since: .now - .milliseconds(30))
        recorder.routerCall("add_user", ok: true, since: .now - .seconds(3))
        recorder.routerCall("add_user", ok: false, since: .now - .seconds(40))
        recorder.conektaCall("create_order", ok: true, since: .now - .milliseconds(400))
        let found = samples(metrics.exposition(now: 0))
        let ok = #"operation="add_user",outcome="ok""#
        #expect(found["hotspot_router_call_duration_seconds_bucket{\(ok),le=\"0.025\"}"] == "0")
        #expect(found["hotspot_router_call_duration_seconds_bucket{\(ok),le=\"0.05\"}"] == "1")
        #expect(found["hotspot_router_call_duration_seconds_bucket{\(ok),le=\"2.5\"}"] == "1")
        #expect(found["hotspot_router_call_duration_seconds_bucket{\(ok),le=\"5.0\"}"] == "2")
        #expect(found["hotspot_router_call_duration_seconds_bucket{\(ok),le=\"+Inf\"}"] == "2")
        #expect(found["hotspot_router_call_duration_seconds_count{\(ok)}"] == "2")
        let sum = Double(found["hotspot_router_call_duration_seconds_sum{\(ok)}"] ?? "") ?? 0
        #expect(sum >= 3.03 && sum < 3.5)
        let failed = #"operation="add_user",outcome="error""#
        #expect(found["hotspot_router_call_duration_seconds_bucket{\(failed),le=\"30.0\"}"] == "0")
        #expect(found["hotspot_router_call_duration_seconds_bucket{\(failed),le=\"+Inf\"}"] == "1")
        #expect(found[#"hotspot_conekta_call_duration_seconds_bucket{operation="create_order",outcome="ok",le="0.5"}"#] == "1")
    }

    @Test func everyFamilyHasHelpAndTypeBeforeItsSamples() {
        let metrics = metrics()
        let recorder = metrics.recorder(shard: 0)
        recorder.requestAnswered(route: "metrics", status: 200)
        recorder.routerCall("find_user", ok: true, since: .now)
        metrics.record(Metrics.Backlog(attempts: [.charging: 2], oldestCreatedAt: 1_000, readAt: 1_030))
        metrics.record([Metrics.RouterSweep(routerID: 1, pastEnd: 2, durationSeconds: 3)])
        recorder.userEnded(reason: "bytes")
        recorder.sweepFailed(router: 1)
        let text = metrics.exposition(now: 1_060)
        var described: Set<String> = []
        var typed: [String: String] = [:]
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# HELP ") {
                described.insert(String(line.split(separator: " ")[2]))
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                typed[String(parts[2])] = String(parts[3])
            } else {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                let family = typed.keys.first { name == $0 || (typed[$0] == "histogram" && name.hasPrefix($0 + "_")) }
                #expect(family != nil, "a sample before its # TYPE: \(line)")
                #expect(family.map(described.contains) == true, "no # HELP for \(line)")
                #expect(name.hasPrefix("hotspot_"))
            }
        }
        let found = samples(text)
        #expect(found[#"hotspot_payment_backlog_attempts{state="charging"}"#] == "2")
        #expect(found[#"hotspot_payment_backlog_attempts{state="pending"}"#] == "0")
        #expect(found[#"hotspot_payment_backlog_attempts{state="delivered"}"#] == nil)
        #expect(found["hotspot_payment_backlog_oldest_age_seconds"] == "60.0")
        #expect(found["hotspot_reconciler_last_pass_timestamp_seconds"] == "1030.0")
    }

    @Test func payLaterOrdersPendingPaidAndExpiredByMethod() {
        let metrics = metrics()
        let recorder = metrics.recorder(shard: 0)
        func change(_ method: PaymentMethod, _ from: PaymentAttempt.State, _ to: PaymentAttempt.State) {
            recorder.stateChanged(PaymentService.StateChange(attemptID: "a", method: method, from: from, to: to))
        }
        change(.oxxo, .awaitingPayment, .provisioning)
        change(.oxxo, .charging, .provisioning)
        change(.spei, .awaitingPayment, .expired)
        change(.spei, .provisioning, .delivered)  // delivered is no new payment
        change(.card, .charging, .paid)  // cards are not pay later
        recorder.claimAnswered(codigo: "codigo_desconocido")
        metrics.record(
            Metrics.Backlog(
                attempts: [.awaitingPayment: 3], oldestCreatedAt: nil, readAt: 1_030, awaitingPaymentByMethod: [.oxxo: 2, .spei: 1]))
        let found = samples(metrics.exposition(now: 1_060))
        #expect(found[#"hotspot_pay_later_paid_total{method="oxxo"}"#] == "2")
        #expect(found[#"hotspot_pay_later_paid_total{method="spei"}"#] == nil)
        #expect(found[#"hotspot_pay_later_expired_total{method="spei"}"#] == "1")
        #expect(found[#"hotspot_pay_later_pending{method="oxxo"}"#] == "2")
        #expect(found[#"hotspot_pay_later_pending{method="spei"}"#] == "1")
        #expect(found[#"hotspot_claims_total{codigo="codigo_desconocido"}"#] == "1")
        #expect(found[#"hotspot_payment_backlog_attempts{state="awaiting_payment"}"#] == "3")
        // Orders waiting for their money are not late: no oldest age.
        #expect(found["hotspot_payment_backlog_oldest_age_seconds"] == "0.0")
    }

    @Test func noBacklogLinesBeforeTheReconcilersFirstPass() {
        #expect(!metrics().exposition(now: 0).contains("backlog"))
        #expect(!metrics().exposition(now: 0).contains("hotspot_users_past_end"))
    }

    @Test func sweepsAreCountedByThreadsAndTheirRoutersReadFromTheDatabase() {
        let metrics = metrics()
        let first = metrics.recorder(shard: 0)
        let second = metrics.recorder(shard: 1)
        first.userEnded(reason: "uptime")
        second.userEnded(reason: "uptime")
        second.userEnded(reason: "validity")
        first.sweepFailed(router: 7)
        metrics.record([
            Metrics.RouterSweep(routerID: 12, pastEnd: 0, durationSeconds: 0.25),
            Metrics.RouterSweep(routerID: 7, pastEnd: 3, durationSeconds: 1.5),
            Metrics.RouterSweep(routerID: 9, pastEnd: nil, durationSeconds: nil),
        ])
        let text = metrics.exposition(now: 0)
        let found = samples(text)
        #expect(found[#"hotspot_users_ended_total{reason="uptime"}"#] == "2")
        #expect(found[#"hotspot_users_ended_total{reason="validity"}"#] == "1")
        #expect(found[#"hotspot_sweep_failures_total{router="7"}"#] == "1")
        #expect(found[#"hotspot_users_past_end{router="7"}"#] == "3" && found[#"hotspot_users_past_end{router="12"}"#] == "0")
        #expect(found[#"hotspot_sweep_duration_seconds{router="7"}"#] == "1.5")
        #expect(found[#"hotspot_sweep_duration_seconds{router="12"}"#] == "0.25")
        // A router never read (its first sweep failed) has no sample rather than a made-up 0.
        #expect(!text.contains(#"router="9""#))
        #expect(text.contains("# TYPE hotspot_users_ended_total counter") && text.contains("# TYPE hotspot_sweep_duration_seconds gauge"))
        // Routers in id order, as Prometheus shows them.
        let pastEnd = text.split(separator: "\n").filter { $0.hasPrefix("hotspot_users_past_end{") }
        #expect(pastEnd == [#"hotspot_users_past_end{router="7"} 3"#, #"hotspot_users_past_end{router="12"} 0"#])
    }

    @Test func routersHealthIsReadFromTheDatabaseOneSamplePerCheck() {
        let metrics = metrics()
        #expect(!metrics.exposition(now: 0).contains("hotspot_router_health"))
        metrics.record([
            RouterHealthRecord(
                routerID: 12, checkedAt: 1_700_000_000,
                checks: [
                    .init(check: .address, status: .ok, code: "reached"), .init(check: .credentials, status: .fail, code: "x"),
                    .init(check: .version, status: .skip, code: "not_checked"),
                ]),
            RouterHealthRecord(
                routerID: 7, checkedAt: 1_700_000_300,
                checks: [.init(check: .address, status: .ok, code: "reached"), .init(check: .clock, status: .warn, code: "skew")]),
        ])
        let text = metrics.exposition(now: 0)
        let found = samples(text)
        #expect(found[#"hotspot_router_health{router="7",check="clock"}"#] == "1")
        #expect(found[#"hotspot_router_health_warning{router="7",check="clock"}"#] == "1")
        #expect(found[#"hotspot_router_health_warning{router="7",check="address"}"#] == "0")
        #expect(found[#"hotspot_router_health{router="12",check="address"}"#] == "1")
        #expect(found[#"hotspot_router_health{router="12",check="credentials"}"#] == "0")
        #expect(found[#"hotspot_router_health{router="12",check="version"}"#] == "0")
        #expect(found[#"hotspot_router_checked_timestamp_seconds{router="12"}"#] == "1700000000")
        #expect(text.contains("# TYPE hotspot_router_health gauge"))
        let health = text.split(separator: "\n").filter { $0.hasPrefix("hotspot_router_health{") }
        #expect(health.first == #"hotspot_router_health{router="7",check="address"} 1"#)
    }

    @Test func aFullShardDropsAndCountsInsteadOfGrowing() {
        let metrics = metrics(shards: 1)
        let recorder = metrics.recorder(shard: 0)
        for status in 0..<(MetricsShard.capacity + 10) { recorder.requestAnswered(route: "health", status: status) }
        let found = samples(metrics.exposition(now: 0))
        #expect(found["hotspot_metrics_dropped_total"] == "11")
    }

    @Test func threadsCountWhileAScrapeReads() {
        let metrics = metrics(shards: 4)
        let done = Atomic<Int>(0)
        for index in 0..<4 {
            Thread {
                let recorder = metrics.recorder(shard: index)
                for _ in 0..<20_000 { recorder.requestAnswered(route: "health", status: 200) }
                done.add(1, ordering: .sequentiallyConsistent)
            }.start()
        }
        var scrapes = 0
        while done.load(ordering: .sequentiallyConsistent) < 4 {
            _ = metrics.exposition(now: 0)
            scrapes += 1
        }
        #expect(samples(metrics.exposition(now: 0))[#"hotspot_http_requests_total{route="health",status="200"}"#] == "80000")
        #expect(scrapes > 0)
    }
}

@Suite struct MeasuredPortsTests {
    @Test func routerCallsAreCountedByOperationAndOutcome() throws {
        let metrics = Metrics(shards: 1, instance: "h:1", startTime: 0, workerThreads: 1, poolUsage: { .init(size: 1, inUse: 0) })
        let router = InMemoryHotspotUserDirectory()
        router.failNext["delete"] = .timedOut(maybeApplied: true)
        let directory = MeasuredHotspotUserDirectory(base: router, recorder: metrics.recorder(shard: 0))
        _ = try directory.createUser(
            NewHotspotUser(name: "ABC123", password: "1234", profile: "1hora", server: "all", disabled: true, comment: "c"))
        try directory.setUserDisabled(id: "*1", disabled: false)
        try directory.setUserDisabled(id: "*1", disabled: true)
        #expect(throws: RouterFailure.timedOut(maybeApplied: true)) { try directory.deleteUser(id: "*1") }
        let text = metrics.exposition(now: 0)
        for series in [
            #"operation="add_user",outcome="ok""#, #"operation="enable_user",outcome="ok""#,
            #"operation="disable_user",outcome="ok""#, #"operation="delete_user",outcome="error""#,
        ] {
            #expect(text.contains("hotspot_router_call_duration_seconds_count{\(series)} 1\n"), "\(series)")
        }
    }

    @Test func metricsAnswerWithoutAKeyAsPrometheusText() {
        let directory = InMemoryPortalDirectory()
        let handler = PortalHandler(
            portal: PortalService(directory: directory, verifier: StubKeyVerifier()), maxBodyBytes: 1024, now: { 0 },
            metrics: { "# HELP x y\n" })
        let response = handler.respond(to: Request(method: "GET", path: "/metrics"), logger: Logger(label: "test"))
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(response.body == Array("# HELP x y\n".utf8))
        let unwired = PortalHandler(
            portal: PortalService(directory: directory, verifier: StubKeyVerifier()), maxBodyBytes: 1024, now: { 0 })
        #expect(unwired.respond(to: Request(method: "GET", path: "/metrics"), logger: Logger(label: "test")).status == 404)
        #expect(Route.match(method: "POST", path: "/metrics") == .failure(.methodNotAllowed(allowed: ["GET", "HEAD"])))
    }
}
