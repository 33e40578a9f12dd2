import API
import Domain
import Foundation
import Gateway
import HTTPTransport
import RouterOS

/// Fuzz targets for everything that reads bytes from outside: request bodies (JSON and form: a
/// payment and a claim code's redemption read the same bytes), FastCGI parameters, RouterOS
/// replies and Conekta replies (to a card charge and to a cash one). `FUZZ_TARGET` picks one.
///
/// `make fuzz` builds them into a libFuzzer binary; `hotspot-fuzz-replay` (run by `make test`)
/// replays every input kept in `fuzz/regressions/<target>/`, so each crash ever found stays a test.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case paymentJSON = "payment-json"
    case paymentForm = "payment-form"
    case fastcgi
    case routeros
    case conekta

    public func run(_ bytes: [UInt8]) {
        switch self {
        case .paymentJSON:
            _ = try? PaymentRequestDecoder.decode(body: bytes, contentType: "application/json")
            if let claim = try? ClaimRequestDecoder.decode(body: bytes, contentType: "application/json") {
                _ = ClaimCode(typed: claim.code)
            }
        case .paymentForm:
            _ = try? PaymentRequestDecoder.decode(body: bytes, contentType: "application/x-www-form-urlencoded")
            if let claim = try? ClaimRequestDecoder.decode(body: bytes, contentType: "application/x-www-form-urlencoded") {
                _ = ClaimCode(typed: claim.code)
            }
        case .fastcgi:
            // NAME=value pairs separated by NUL bytes, as libfcgi hands them over.
            var parameters: [String: String] = [:]
            for pair in bytes.split(separator: 0) {
                let text = String(decoding: pair, as: UTF8.self)
                if let equals = text.firstIndex(of: "=") {
                    parameters[String(text[..<equals])] = String(text[text.index(after: equals)...])
                }
            }
            let request = Request(parameters: parameters, body: [])
            _ = Request.validRequestID(request.headers["x-request-id"])
            _ = Authorization.presentedKey(
                apiKeyHeader: request.headers["x-api-key"], authorizationHeader: request.headers["authorization"])
        case .routeros:
            let transport = ReplayTransport(bytes)
            let client = RouterOSClient(
                configuration: RouterOSClient.Configuration(
                    routerID: "1", baseURL: "https://10.0.0.1", credentials: BasicAuth(user: "api", password: "p"), tls: .insecure),
                transport: transport, limiter: RouterConcurrencyLimiter())
            _ = try? client.findUser(named: "ABC123")
            _ = try? client.createUser(
                NewHotspotUser(name: "A", password: "1", profile: "1hora", server: "all", disabled: true, comment: "c"))
            _ = try? client.setUserDisabled(id: "*1", disabled: false)
            _ = try? client.deleteUser(id: "*1")
            _ = try? client.findProfile(named: "1hora")
            _ = try? client.listProfiles()
            _ = try? client.findHost(mac: MACAddress("AA:BB:CC:DD:EE:FF"), address: nil)
            _ = try? client.login(user: "A", password: "1", address: IPv4Address("10.0.0.2")!, mac: nil)
            _ = try? client.activeSessions(user: "A")
        case .conekta:
            let client = ConektaClient(transport: ReplayTransport(bytes))
            let key = GatewayKey(privateKey: "key_x")
            _ = client.charge(
                ChargeRequest(
                    attemptID: "a", amount: Money(cents: 1500, currency: "MXN"), itemName: "1 Hora", customerName: "A",
                    customerEmail: "a@b.c", customerPhone: "5512345678", cardToken: "tok_x"), using: key)
            _ = client.charge(
                ChargeRequest(
                    attemptID: "a", amount: Money(cents: 1500, currency: "MXN"), itemName: "1 Hora", customerName: "A",
                    customerEmail: "a@b.c", customerPhone: "5512345678", payment: .payLater(.oxxo, expiresAt: 1_700_000_000)),
                using: key)
            _ = try? client.order(id: "ord_1", using: key)
            _ = try? client.findOrder(attemptID: "a", customerEmail: "a@b.c", createdAfter: 0, using: key)
            _ = try? client.refund(orderID: "ord_1", amountCents: 1500, using: key)
            _ = try? client.cancel(orderID: "ord_1", using: key)
        }
    }

    public static var selected: FuzzTarget {
        let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            fatalError("FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue))")
        }
        return target
    }
}

/// Answers every request with the fuzz input: the first byte picks the status, the rest is the body.
final class ReplayTransport: HTTPTransport {
    private let response: HTTPResponse

    init(_ bytes: [UInt8]) {
        let statuses = [200, 201, 204, 400, 401, 402, 404, 406, 422, 428, 500, 503]
        let status = bytes.first.map { statuses[Int($0) % statuses.count] } ?? 200
        let contentType = (bytes.first ?? 0) & 0x80 == 0 ? "application/json" : "text/html"
        response = HTTPResponse(status: status, headers: ["content-type": contentType], body: Array(bytes.dropFirst()))
    }

    func send(_ request: HTTPRequest) throws(TransportError) -> HTTPResponse { response }
}

#if FUZZING
/// libFuzzer's entry point. `make fuzz` compiles this target with `-sanitize=fuzzer -DFUZZING`
/// and links it with libFuzzer's own `main` (scripts/fuzz.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.selected.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
#endif
