import Domain
import JSON
import Testing

@testable import API

/// Pay later's HTTP face (CONTRACT §12): `metodo_pago` as JSON and form under both names, the
/// claim's decoder, the 202 bodies, and the claim's errors in the one mapping.
@Suite struct PayLaterAPITests {
    func payment(_ text: String, contentType: String = "application/json") throws(PaymentRequestDecoder.Failure) -> PaymentRequest {
        try PaymentRequestDecoder.decode(body: Array(text.utf8), contentType: contentType)
    }

    func problems(_ text: String, contentType: String = "application/json", claim: Bool = false) -> [String] {
        do {
            if claim {
                _ = try ClaimRequestDecoder.decode(body: Array(text.utf8), contentType: contentType)
            } else {
                _ = try payment(text, contentType: contentType)
            }
            return []
        } catch {
            if case .invalid(let problems) = error { return problems.map(\.field) }
            return ["<media type>"]
        }
    }

    static let customer = #""producto_id":1,"nombre_cliente":"Ana","email_cliente":"ana@example.com""#

    @Test(arguments: [
        ("tarjeta", PaymentMethod.card), ("card", .card), ("oxxo", .oxxo), ("cash", .oxxo), ("efectivo", .oxxo), ("spei", .spei),
        ("SPEI", .spei), ("Oxxo", .oxxo),
    ])
    func theMethodUnderEitherNameInEitherCase(name: String, method: PaymentMethod) throws {
        let token = method.isPayLater ? "" : #","token_tarjeta":"tok_1""#
        #expect(try payment(#"{\#(Self.customer),"metodo_pago":"\#(name)"\#(token)}"#).method == method)
        #expect(try payment(#"{\#(Self.customer),"payment_method":"\#(name)"\#(token)}"#).method == method)
        let form =
            "producto_id=1&nombre_cliente=Ana&email_cliente=ana%40example.com&metodo_pago=\(name)"
            + (method.isPayLater ? "" : "&token_tarjeta=tok_1")
        #expect(try payment(form, contentType: "application/x-www-form-urlencoded").method == method)
    }

    @Test func aCardIsTheDefaultAndNeedsItsToken() throws {
        #expect(try payment(#"{\#(Self.customer),"token_tarjeta":"tok_1"}"#).method == .card)
        #expect(problems(#"{\#(Self.customer)}"#) == ["token_tarjeta"])
        #expect(problems(#"{\#(Self.customer),"metodo_pago":"tarjeta"}"#) == ["token_tarjeta"])
    }

    @Test func payingLaterTakesNoTokenAndRefusesOne() throws {
        let request = try payment(#"{\#(Self.customer),"metodo_pago":"oxxo"}"#)
        #expect(request.cardToken.isEmpty && request.method == .oxxo)
        #expect(problems(#"{\#(Self.customer),"metodo_pago":"oxxo","token_tarjeta":"tok_1"}"#) == ["token_tarjeta"])
        #expect(problems(#"{\#(Self.customer),"metodo_pago":"bitcoin"}"#) == ["metodo_pago", "token_tarjeta"])
        #expect(problems(#"{\#(Self.customer),"metodo_pago":"oxxo","payment_method":"spei"}"#) == ["metodo_pago"])
        #expect(problems(#"{\#(Self.customer),"metodo_pago":"oxxo","metodo_pago":"spei"}"#) == ["metodo_pago"])
        #expect(problems(#"{\#(Self.customer),"metodo_pago":7}"#) == ["metodo_pago", "token_tarjeta"])
    }

    @Test func theMethodIsPartOfWhatMakesTwoRequestsTheSame() throws {
        let cash = try payment(#"{\#(Self.customer),"metodo_pago":"oxxo"}"#)
        let transfer = try payment(#"{\#(Self.customer),"metodo_pago":"spei"}"#)
        #expect(cash.canonicalFields != transfer.canonicalFields)
        // A card request's fields are those of every earlier release.
        let card = try payment(#"{\#(Self.customer),"token_tarjeta":"tok_1"}"#)
        #expect(card.canonicalFields == "1:15:tok_13:Ana15:ana@example.com0:18:usuario_contrasena0:0:1:0")
    }

    @Test func aClaimUnderEitherNameAsJSONOrForm() throws {
        let json = try ClaimRequestDecoder.decode(
            body: Array(#"{"codigo_canje":" 7kq3m-x9zt2 ","mac_cliente":"aa-bb-cc-dd-ee-ff","conexion_automatica":true}"#.utf8),
            contentType: "application/json")
        #expect(json == PaymentService.Claim(code: "7kq3m-x9zt2", mac: MACAddress("AA:BB:CC:DD:EE:FF"), autoConnect: true))
        let form = try ClaimRequestDecoder.decode(
            body: Array("claim_code=7KQ3M+X9ZT2&ip_address=10.5.50.2".utf8), contentType: "application/x-www-form-urlencoded")
        #expect(form.code == "7KQ3M X9ZT2" && form.ip?.value == "10.5.50.2" && !form.autoConnect)
    }

    @Test func aClaimWithoutACodeOrWithBadFieldsIsRefused() {
        #expect(problems("{}", claim: true) == ["codigo_canje"])
        #expect(problems(#"{"codigo_canje":"   "}"#, claim: true) == ["codigo_canje"])
        #expect(problems(#"{"codigo_canje":"A","claim_code":"B"}"#, claim: true) == ["codigo_canje"])
        #expect(problems(#"{"codigo_canje":"A","codigo_canje":"A"}"#, claim: true) == ["codigo_canje"])
        #expect(
            problems(#"{"codigo_canje":"A","mac_cliente":"nope","conexion_automatica":"maybe"}"#, claim: true) == [
                "mac_cliente", "conexion_automatica",
            ])
        #expect(problems(#"{"codigo_canje":"A\u202E"}"#, claim: true) == ["codigo_canje"])
        #expect(problems("codigo_canje=A", contentType: "text/plain", claim: true) == ["<media type>"])
    }

    static let oxxoAttempt = PaymentAttempt(
        id: "1df27f8a-3683-4181-8336-918f3c4ecb6c", companyID: 1, routerID: 7, productID: 3, apiKeyID: "key_1",
        idempotencyKey: "k", requestHash: "h", state: .awaitingPayment, amount: Money(cents: 1500, currency: "MXN"),
        productName: "1 Hora", profileName: "1hora", limitUptime: nil, limitBytesTotal: nil, customerName: "Ana",
        customerEmail: "ana@example.com", customerPhone: nil, userType: .userAndPassword,
        credentials: HotspotCredentials(username: "ABC234", password: "1234"), mac: nil, ip: nil, autoConnect: false,
        createdAt: 1_764_085_324, method: .oxxo, payLaterExpiresAt: 1_764_099_724,
        instructions: PaymentInstructions(reference: "93000262280678", barcodeURL: "https://b/1.png"))

    @Test func theOrdersAnswerSaysHowMuchHowUntilWhenAndTheCode() throws {
        var random = SystemRandomNumberGenerator()
        let code = ClaimCode.generate(using: &random)
        let answer = PaymentPresenter().awaitingPayment(Self.oxxoAttempt, claimCode: code)
        #expect(answer.status == 202 && answer.codigo == "pago_pendiente")
        #expect(
            String(decoding: answer.body, as: UTF8.self)
                == #"{"codigo":"pago_pendiente","mensaje":"Pague en efectivo en cualquier tienda OXXO con esta referencia antes de que venza. Cuando el pago se acredite, canjee su código para recibir su acceso.","id_intento":"1df27f8a-3683-4181-8336-918f3c4ecb6c","metodo_pago":"oxxo","monto":15.00,"moneda":"MXN","expira":"2025-11-25T19:42:04Z","codigo_canje":""#
                + code.display
                + #"","referencia":"93000262280678","url_codigo_barras":"https://b/1.png","producto":{"nombre":"1 Hora","precio":15.00,"moneda":"MXN","perfil_mikrotik":"1hora"}}"#
        )
        // Rendered where the code is not the run's to show, it is left out.
        #expect(
            !String(decoding: PaymentPresenter().answer(.awaitingPayment, attempt: Self.oxxoAttempt).body, as: UTF8.self).contains(
                "codigo_canje"))
    }

    @Test func aSPEIOrderShowsItsCLABEAndBank() throws {
        var attempt = Self.oxxoAttempt
        attempt.method = .spei
        attempt.instructions = PaymentInstructions(clabe: "646180111805034237", bank: "STP")
        let body = try #require(try JSONParser.parse(PaymentPresenter().awaitingPayment(attempt, claimCode: nil).body))
        #expect(body["metodo_pago"] == .string("spei") && body["clabe"] == .string("646180111805034237"))
        #expect(body["banco"] == .string("STP") && body["referencia"] == nil && body["codigo_canje"] == nil)
        #expect(body["mensaje"]?.stringValue?.hasPrefix("Transfiera el monto exacto por SPEI") == true)
    }

    @Test func aPendingClaimSaysWhetherTheMoneyArrived() throws {
        let waiting = try JSONParser.parse(PaymentPresenter.claimPending(Self.oxxoAttempt).serialized())
        #expect(waiting["pago_recibido"] == .bool(false) && waiting["codigo"] == .string("pago_pendiente"))
        #expect(waiting["referencia"] == .string("93000262280678") && waiting["codigo_canje"] == nil)
        var paid = Self.oxxoAttempt
        paid.state = .provisioning
        let provisioning = try JSONParser.parse(PaymentPresenter.claimPending(paid).serialized())
        #expect(provisioning["pago_recibido"] == .bool(true))
        #expect(provisioning["mensaje"]?.stringValue?.hasPrefix("Su pago fue recibido") == true)
    }

    @Test(arguments: [
        (ServiceError.paymentMethodUnavailable, 422, "metodo_pago_no_disponible"),
        (.claimCodeUnknown, 404, "codigo_desconocido"),
        (.claimEnded(.expired), 410, "referencia_expirada"),
        (.claimEnded(.refunded), 410, "pago_reembolsado"),
        (.claimEnded(.revoked), 410, "acceso_revocado"),
        (.tooManyClaimGuesses(retryAfterSeconds: 600), 429, "demasiados_intentos"),
    ])
    func claimErrorsMapInTheOnePlace(error: ServiceError, status: Int, codigo: String) {
        let response = ErrorResponse.response(for: error, requestID: "r-1")
        #expect(response.status == status && response.header("X-Hotspot-Codigo") == codigo)
        #expect(response.header("Retry-After") == (status == 429 ? "600" : nil))
    }

    @Test func anExpiredOrderAnswersThePaymentAsNotCompleted() {
        let answer = PaymentPresenter().answer(.expired, attempt: Self.oxxoAttempt)
        #expect(answer.status == 402 && answer.codigo == "pago_no_completado")
    }
}
