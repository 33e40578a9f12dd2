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

    @Test func operatorCommandsNeedOnlyWhatTheyUse() throws {
        let configuration = try Configuration.load(environment: ["HOTSPOT_DATABASE_URL": "x"], require: [.database])
        #expect(configuration.databaseURL == "x")
    }
}
