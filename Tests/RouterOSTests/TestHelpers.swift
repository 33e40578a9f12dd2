import Domain
import HTTPTransport
import RouterOS
import Testing

/// The `RouterFailure` `body` threw, or nil when it returned.
func failure<T>(_ body: () throws -> T) -> RouterFailure? {
    thrown(RouterFailure.self, by: body)
}

/// The `RouterOSError` `body` threw, or nil when it returned.
func routerOSError<T>(_ body: () throws -> T) -> RouterOSError? {
    thrown(RouterOSError.self, by: body)
}

private func thrown<E: Error, T>(_ type: E.Type, by body: () throws -> T) -> E? {
    do {
        _ = try body()
        return nil
    } catch let error as E {
        return error
    } catch {
        Issue.record("threw \(error), not a \(E.self)")
        return nil
    }
}

extension RouterFailure {
    /// The case without its payload, for comparing `.rejected(…)` and friends.
    var name: String {
        switch self {
        case .duplicateName: "duplicateName"
        case .profileNotFound: "profileNotFound"
        case .profileAmbiguous: "profileAmbiguous"
        case .notFound: "notFound"
        case .unknownHost: "unknownHost"
        case .loginRejected: "loginRejected"
        case .authenticationFailed: "authenticationFailed"
        case .unreachable: "unreachable"
        case .timedOut(let maybeApplied): "timedOut(maybeApplied: \(maybeApplied))"
        case .busy: "busy"
        case .rejected: "rejected"
        }
    }
}

enum Sample {
    static let password = "s3cret-Pa55"
    static let mac = MACAddress("aa:bb:cc:dd:ee:ff")!
    static let address = IPv4Address("10.5.50.23")!

    static func newUser(
        name: String = "PAY-8F3K2Q", profile: String = "1hora", server: String = "hotspot1", disabled: Bool = true,
        mac: MACAddress? = nil
    ) -> NewHotspotUser {
        NewHotspotUser(
            name: name, password: password, profile: profile, server: server, disabled: disabled,
            comment: "order 42", macAddress: mac, limitUptime: "1h", limitBytesTotal: 1 << 30)
    }

    static func configuration(
        baseURL: String = "https://10.0.0.1", tls: TLSTrust = .pinnedPublicKey("sha256//AAAA"),
        timeouts: Timeouts = RouterOSClient.Configuration.defaultTimeouts,
        credentials: BasicAuth = BasicAuth(user: "api", password: "api-secret")
    ) -> RouterOSClient.Configuration {
        RouterOSClient.Configuration(
            routerID: "router-1", baseURL: baseURL, credentials: credentials, tls: tls, timeouts: timeouts,
            hotspotServer: "hotspot1")
    }
}
