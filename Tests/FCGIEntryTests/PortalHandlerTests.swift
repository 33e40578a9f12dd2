import API
import Domain
import Logging
import TestSupport
import Testing

@testable import FCGIEntry

@Suite struct PortalHandlerTests {
    let directory = InMemoryPortalDirectory()
    let handler: PortalHandler
    let logger = Logger(label: "test")

    init() {
        let company = Company(id: 1, name: "Café", conektaPublicKey: "key_pub")
        let router = Router(id: 7, companyID: 1, name: "Terraza", location: "Planta baja")
        directory.records["key_1"] = APIKeyRecord(
            keyID: "key_1", fingerprint: "fp:good:key_1", revoked: false, expiresAt: nil, company: company, router: router)
        var inactive = router
        inactive.active = false
        directory.records["key_2"] = APIKeyRecord(
            keyID: "key_2", fingerprint: "fp:good:key_2", revoked: false, expiresAt: nil, company: company, router: inactive)
        directory.products = [
            Product(
                id: 2, companyID: 1, routerID: 7, name: "1 Día", price: Money(cents: 4990, currency: "MXN"), profileName: "1dia",
                displayOrder: 2),
            Product(
                id: 1, companyID: 1, routerID: 7, name: "1 Hora", price: Money(cents: 1500, currency: "MXN"), profileName: "1hora",
                details: ["5 Mbps"], featured: true, displayOrder: 1),
            Product(id: 3, companyID: 1, routerID: 8, name: "Otro router", price: Money(cents: 100, currency: "MXN"), profileName: "x"),
        ]
        handler = PortalHandler(portal: PortalService(directory: directory, verifier: StubKeyVerifier()), maxBodyBytes: 1024, now: { 1000 })
    }

    func get(_ path: String, key: String? = "good:key_1") -> Response {
        var headers: [String: String] = [:]
        if let key { headers["x-api-key"] = key }
        return handler.respond(to: Request(method: "GET", path: path, headers: headers, requestID: "rid"), logger: logger)
    }

    func text(_ response: Response) -> String { String(decoding: response.body, as: UTF8.self) }

    @Test func catalogueInDisplayOrderWithTwoDecimalPrices() {
        let response = get("/api/v1/catalogo_perfiles_venta")
        #expect(response.status == 200)
        #expect(
            text(response)
                == #"[{"id":1,"nombre_venta":"1 Hora","descripcion":null,"precio":15.00,"moneda":"MXN","perfil_mikrotik_nombre":"1hora","tiempo_uso":null,"datos_bytes":null,"vigencia":null,"detalles":["5 Mbps"],"imagen_url":null,"destacado":true,"orden":1},{"id":2,"nombre_venta":"1 Día","descripcion":null,"precio":49.90,"moneda":"MXN","perfil_mikrotik_nombre":"1dia","tiempo_uso":null,"datos_bytes":null,"vigencia":null,"detalles":[],"imagen_url":null,"destacado":false,"orden":2}]"#
        )
    }

    @Test func productOfAnotherRouterIsNotFound() {
        let response = get("/api/v1/catalogo_perfiles_venta/3")
        #expect(response.status == 404)
        #expect(text(response).contains(#""codigo":"producto_no_encontrado""#))
        #expect(get("/api/v1/catalogo_perfiles_venta/1").status == 200)
    }

    @Test func configPublicShowsOnlyThePublicKey() {
        let response = get("/api/v1/config/public")
        #expect(
            text(response)
                == #"{"empresa":{"id":1,"nombre":"Café","conekta_public_key":"key_pub","metodos_pago":["tarjeta"]},"router":{"id":7,"nombre":"Terraza","ubicacion":"Planta baja"}}"#
        )
    }

    @Test func eachAuthFailureHasItsOwnCode() {
        #expect(get("/api/v1/config/public", key: nil).status == 401)
        #expect(text(get("/api/v1/config/public", key: nil)).contains("api_key_requerida"))
        #expect(text(get("/api/v1/config/public", key: "bad:expired")).contains("api_key_expirada"))
        #expect(text(get("/api/v1/config/public", key: "bad:sig")).contains("api_key_invalida"))
        #expect(text(get("/api/v1/config/public", key: "good:key_9")).contains("api_key_desconocida"))
        let inactive = get("/api/v1/config/public", key: "good:key_2")
        #expect(inactive.status == 403)
        #expect(text(inactive).contains("router_inactivo"))
    }

    @Test func databaseDownIs503NotAHang() {
        directory.down = true
        let response = get("/api/v1/catalogo_perfiles_venta")
        #expect(response.status == 503)
        #expect(response.header("Retry-After") == "2")
        #expect(get("/health", key: nil).status == 503)
    }

    @Test func aStoredErrorAnswerGetsTheExchangesRequestID() {
        let stored = Array(#"{"detail":"Declinado","codigo":"pago_declinado","id_intento":"a-1"}"#.utf8)
        #expect(
            String(decoding: PortalHandler.appending(requestID: "req\"1", to: stored), as: UTF8.self)
                == #"{"detail":"Declinado","codigo":"pago_declinado","id_intento":"a-1","request_id":"req\"1"}"#)
        #expect(PortalHandler.appending(requestID: "r", to: Array("[]".utf8)) == Array("[]".utf8))
    }
}
