import Configuration
import Foundation
import Testing

@Suite struct ConfigurationTests {
    let base = [
        "HOTSPOT_DATABASE_URL": "postgresql:///hotspot",
        "HOTSPOT_KEY_SECRET": String(repeating: "k", count: 32),
        "HOTSPOT_SECRETS_KEY": Data(repeating: 1, count: 32).base64EncodedString(),
    ]

    @Test func defaults() throws {
        let configuration = try Configuration.load(environment: base)
        #expect(configuration.listen == "/run/hotspot-pay/hotspot-pay.sock")
        #expect(configuration.threads == 16)
        #expect(configuration.socketMode == 0o660)
        #expect(configuration.conekta.baseURL == "https://api.conekta.io")
        #expect(configuration.conekta.apiVersion == "2.2.0")
    }

    @Test func envFileThenEnvironment() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("env-\(UUID().uuidString)")
        try """
        # comment
        export HOTSPOT_THREADS=4
        HOTSPOT_LISTEN="127.0.0.1:9000"
        HOTSPOT_LOG_LEVEL='debug'
        """.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        var environment = base
        environment["HOTSPOT_THREADS"] = "8"
        let configuration = try Configuration.load(envFile: file.path, environment: environment)
        #expect(configuration.threads == 8)
        #expect(configuration.listen == "127.0.0.1:9000")
        #expect(configuration.logLevel == "debug")
    }

    @Test func errorsNameTheVariableNeverTheValue() {
        var environment = base
        environment["HOTSPOT_KEY_SECRET"] = "short-secret-value"
        do {
            _ = try Configuration.load(environment: environment)
            Issue.record("a short key secret was accepted")
        } catch {
            #expect(error.description.contains("HOTSPOT_KEY_SECRET"))
            #expect(!error.description.contains("short-secret-value"))
        }
        environment = base
        environment["HOTSPOT_THREADS"] = "0"
        #expect(throws: ConfigurationError.self) { try Configuration.load(environment: environment) }
        environment = base
        environment["HOTSPOT_SECRETS_KEY"] = "not-base64"
        #expect(throws: ConfigurationError.self) { try Configuration.load(environment: environment) }
        #expect(throws: ConfigurationError.self) { try Configuration.load(environment: [:]) }
    }

    @Test func theSweepOfSoldUsersRunsEveryMinuteByDefaultAndZeroTurnsItOff() throws {
        let defaults = try Configuration.load(environment: base).sweep
        #expect(defaults.intervalSeconds == 60 && defaults.batch == 200 && defaults.pauseMilliseconds == 20)
        var environment = base
        environment["HOTSPOT_SWEEP_INTERVAL"] = "0"
        environment["HOTSPOT_SWEEP_BATCH"] = "50"
        environment["HOTSPOT_SWEEP_PAUSE_MS"] = "0"
        let off = try Configuration.load(environment: environment).sweep
        #expect(off.intervalSeconds == 0 && off.batch == 50 && off.pauseMilliseconds == 0)
        for (key, value) in [("HOTSPOT_SWEEP_INTERVAL", "-1"), ("HOTSPOT_SWEEP_BATCH", "0"), ("HOTSPOT_SWEEP_PAUSE_MS", "x")] {
            environment = base
            environment[key] = value
            #expect(throws: ConfigurationError.self, "\(key)=\(value)") { try Configuration.load(environment: environment) }
        }
    }

    @Test func routersAreCheckedEveryFiveMinutesByDefaultAndZeroTurnsItOff() throws {
        #expect(try Configuration.load(environment: base).routerCheckIntervalSeconds == 300)
        var environment = base
        environment["HOTSPOT_ROUTER_CHECK_INTERVAL"] = "0"
        #expect(try Configuration.load(environment: environment).routerCheckIntervalSeconds == 0)
        for value in ["-1", "86401", "5m"] {
            environment["HOTSPOT_ROUTER_CHECK_INTERVAL"] = value
            #expect(throws: ConfigurationError.self, "\(value)") { try Configuration.load(environment: environment) }
        }
    }

    /// docs/configuration.md is the operator's list of settings: every variable read is in it.
    @Test func everyVariableIsDocumented() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/configuration.md")
        let rows = try String(contentsOf: docs, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("| `HOTSPOT_") }
        let documented = Set(rows.flatMap { Self.variables(named: $0.split(separator: "|")[0]) })
        #expect(Configuration.Key.all.filter { !documented.contains($0) } == [])
        #expect(Set(Configuration.Key.all).count == Configuration.Key.all.count)
    }

    /// The variables a table row's first cell names. A cell may shorten the ones after the first
    /// (`HOTSPOT_ROUTER_CONNECT_TIMEOUT_MS` / `_TIMEOUT_MS`): a shortened one keeps the first's
    /// first two words (`HOTSPOT_ROUTER`) before its own.
    static func variables(named cell: Substring) -> [String] {
        let names = cell.split(separator: "/").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " `")) }
        guard let first = names.first else { return [] }
        // A `_SUFFIX` completes the first name: after its first two parts (`HOTSPOT_CONEKTA_TIMEOUT_MS`
        // after `HOTSPOT_CONEKTA_CONNECT_TIMEOUT_MS`), or from its last segment the suffix starts with
        // (`HOTSPOT_CLAIM_GUESSES_PER_ADDRESS` after `HOTSPOT_CLAIM_GUESSES_PER_MAC`).
        let stem = first.split(separator: "_").prefix(2).joined(separator: "_")
        return [first]
            + names.dropFirst().flatMap { suffix -> [String] in
                guard suffix.hasPrefix("_"), let head = suffix.split(separator: "_").first else { return [suffix] }
                let cut = first.range(of: "_" + head, options: .backwards)
                return [stem + suffix] + (cut.map { [first[..<$0.lowerBound] + suffix] } ?? [])
            }
    }

    @Test func operatorCommandsNeedOnlyWhatTheyUse() throws {
        let configuration = try Configuration.load(environment: ["HOTSPOT_DATABASE_URL": "x"], require: [.database])
        #expect(configuration.databaseURL == "x")
    }
}
