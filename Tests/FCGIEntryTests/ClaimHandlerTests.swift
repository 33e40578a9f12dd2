import API
import Domain
import JSON
import Logging
import TestSupport
import Testing

@testable import FCGIEntry

/// `POST /api/v1/payments/canjear` through the handler, over the in-memory ports: each answer's
/// status, codigo and the headers nginx logs (the attempt, never the code).
@Suite struct ClaimHandlerTests {
    let directory = InMemoryPortalDirectory()
    let ledger = InMemoryPaymentLedger()
    let gateway = ScriptedPaymentGateway()
    let router = InMemoryHotspotUserDirectory()
    let handler: PortalHandler
    let logger = Logger(label: "test")
    let company = Company(id: 1, name: "Café", payLater: PayLaterSettings(methods: [.oxxo, .spei]))

    init() {
        let hotspot = Router(id: 7, companyID: 1, name: "Terraza")
        directory.records["key_1"] = APIKeyRecord(
            keyID: "key_1", fingerprint: "fp:good:key_1", revoked: false, expiresAt: nil, company: company, router: hotspot)
        directory.products = [
            Product(id: 1, companyID: 1, routerID: 7, name: "1 Hora", price: Money(cents: 1500, currency: "MXN"), profileName: "1hora")
        ]
        let router = self.router
        var settings = PaymentService.Settings()
        settings.claimGuessesPerMAC = 2
        let payments = PaymentService(
            ledger: ledger, gateway: gateway, rendering: PaymentPresenter(), clock: FixedClock(), settings: settings, owner: "t",
            fingerprint: { "fp(\($0))" },
            routerAccess: { (_: Int64) throws(StoreFailure) in .init(directory: router, quick: router, hotspotServer: "hotspot1") },
            gatewayKey: { (_: Int64) throws(StoreFailure) in GatewayKey(privateKey: "key_x") })
        handler = PortalHandler(
            portal: PortalService(directory: directory, verifier: StubKeyVerifier()), payments: payments, maxBodyBytes: 4096,
            now: { 1000 })
    }

    func post(_ path: String, _ body: String) -> Response {
        handler.respond(
            to: Request(
                method: "POST", path: path, headers: ["x-api-key": "good:key_1"], contentType: "application/json",
                body: Array(body.utf8), remoteAddress: "10.5.50.9", requestID: "rid"),
            logger: logger)
    }

    func json(_ response: Response) throws -> JSONValue { try JSONParser.parse(response.body) }

    /// An OXXO order answered 202, and its claim code.
    func order() throws -> (attemptID: String, code: String) {
        gateway.outcomes = [
            .awaitingPayment(
                orderID: "ord_1",
                charge: PayLaterCharge(method: .oxxo, instructions: PaymentInstructions(reference: "9300"), expiresAt: 1_700_014_400))
        ]
        let answer = post(
            "/api/v1/payments/pagar-conekta", #"{"producto_id":1,"metodo_pago":"oxxo","nombre_cliente":"Ana","email_cliente":"a@b.mx"}"#)
        #expect(answer.status == 202 && answer.header("X-Hotspot-Codigo") == "pago_pendiente")
        let body = try json(answer)
        #expect(body["request_id"] == .string("rid") && body["referencia"] == .string("9300"))
        return (try #require(body["id_intento"]?.stringValue), try #require(body["codigo_canje"]?.stringValue))
    }

    @Test func aCodeAnswers202ThenTheReceiptOncePaid() throws {
        let (attemptID, code) = try order()
        let waiting = post("/api/v1/payments/canjear", #"{"codigo_canje":"\#(code.lowercased())"}"#)
        #expect(waiting.status == 202 && waiting.header("X-Hotspot-Attempt") == attemptID && waiting.header("Retry-After") == nil)
        #expect(try json(waiting)["pago_recibido"] == .bool(false) && !String(decoding: waiting.body, as: UTF8.self).contains(code))
        gateway.settle("ord_1", .paid)
        let order = try #require(gateway.orders["ord_1"])
        _ = try #require(try handler.payments?.applyOrderReport(order, attemptID: attemptID))
        let delivered = post("/api/v1/payments/canjear", #"{"claim_code":"\#(code)"}"#)
        #expect(delivered.status == 200 && delivered.header("X-Hotspot-Codigo") == "pagado")
        #expect(delivered.header("X-Hotspot-Transaction") == "ord_1")
        let receipt = try json(delivered)
        #expect(receipt["success"] == .bool(true) && receipt["id_transaccion"] == .string("ord_1"))
        #expect(receipt["usuario_hotspot"]?["usuario"] == .string(try #require(router.users.values.first?.user.name)))
    }

    @Test func unknownCodesAre404ThenTooManyAre429() {
        for _ in 0..<2 {
            let unknown = post("/api/v1/payments/canjear", #"{"codigo_canje":"AAAAA-AAAAA","mac_cliente":"02:00:00:00:00:01"}"#)
            #expect(unknown.status == 404 && unknown.header("X-Hotspot-Codigo") == "codigo_desconocido")
            #expect(unknown.header("X-Hotspot-Attempt") == nil)
        }
        let refused = post("/api/v1/payments/canjear", #"{"codigo_canje":"AAAAA-AAAAA","mac_cliente":"02:00:00:00:00:01"}"#)
        #expect(refused.status == 429 && refused.header("Retry-After") == "600")
    }

    @Test func anExpiredOrderIs410() throws {
        let (attemptID, code) = try order()
        gateway.settle("ord_1", .expired)
        _ = try handler.payments?.reconcile(attemptID: attemptID)
        let gone = post("/api/v1/payments/canjear", #"{"codigo_canje":"\#(code)"}"#)
        #expect(gone.status == 410 && gone.header("X-Hotspot-Codigo") == "referencia_expirada")
        #expect(try json(gone)["request_id"] == .string("rid"))
    }

    @Test func aMethodTheCompanyDoesNotOfferIs422() {
        let answer = post(
            "/api/v1/payments/pagar-conekta", #"{"producto_id":1,"metodo_pago":"tarjeta","nombre_cliente":"Ana","email_cliente":"a@b.mx"}"#)
        #expect(answer.status == 422 && answer.header("X-Hotspot-Codigo") == "solicitud_invalida")
    }

    @Test func aClaimWithoutACodeIs422() {
        let answer = post("/api/v1/payments/canjear", "{}")
        #expect(answer.status == 422 && String(decoding: answer.body, as: UTF8.self).contains(#""campo":"codigo_canje""#))
    }
}
