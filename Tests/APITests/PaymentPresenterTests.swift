import API
import Domain
import Testing

/// The payment endpoint's answers: each result's status, codigo and Spanish detail as the customer
/// reads them today, the receipt field for field, and its timestamp.
@Suite struct PaymentPresenterTests {
    static let attempt = PaymentAttempt(
        id: "att-1", companyID: 1, routerID: 7, productID: 3, apiKeyID: "key_1", idempotencyKey: "k", requestHash: "h",
        state: .delivered, amount: Money(cents: 1500, currency: "MXN"), productName: "1 Hora", profileName: "1hora",
        limitUptime: nil, limitBytesTotal: nil, customerName: "Ana Pérez", customerEmail: "ana@example.com", customerPhone: nil,
        userType: .userAndPassword, credentials: HotspotCredentials(username: "ABC234", password: "1234"), mac: nil, ip: nil,
        autoConnect: true, createdAt: 0)

    static func text(_ response: StoredResponse) -> String { String(decoding: response.body, as: UTF8.self) }

    static let notCompleted = "El pago no se completó. No se realizó ningún cargo."

    @Test(arguments: [
        (PaymentResult.delivered, 200, "pagado", "Pago aprobado."),
        (.declined(.insufficientFunds), 402, "pago_declinado", "Fondos insuficientes en la tarjeta. Intente con otra tarjeta."),
        (.declined(.byBank), 402, "pago_declinado", "El pago fue declinado. Contacte a su banco."),
        (.declined(.cardNotProcessed), 402, "pago_declinado", "La tarjeta no pudo ser procesada. Intente con otro método de pago."),
        (
            .notCompleted(status: .pendingPayment), 402, "pago_no_completado",
            "El pago requiere una verificación adicional que no se completó. No se realizó ningún cargo."
        ),
        (.notCompleted(status: .preAuthorized), 402, "pago_no_completado", notCompleted),
        (.notCompleted(status: .expired), 402, "pago_no_completado", notCompleted),
        (.notCompleted(status: .canceled), 402, "pago_no_completado", notCompleted),
        (.notCompleted(status: nil), 402, "pago_no_completado", notCompleted),
        (
            .inVerification, 500, "pago_en_verificacion",
            "No pudimos confirmar el resultado de su pago. No vuelva a pagar: repita esta misma solicitud en unos minutos para conocer el resultado."
        ),
        (
            .activationPending, 500, "activacion_pendiente",
            "Su pago fue recibido y estamos activando su acceso. Repita esta misma solicitud en unos segundos; no vuelva a pagar."
        ),
        (.routerUnavailable, 500, "router_no_disponible", "No se pudo crear el acceso a internet. No se realizó ningún cargo."),
        (.profileUnavailable, 500, "perfil_no_disponible", "Este plan no está disponible en el router. No se realizó ningún cargo."),
        (
            .paymentsUnavailable, 500, "pagos_no_configurados",
            "Los pagos no están disponibles en este momento. No se realizó ningún cargo."
        ),
        (.refunded, 500, "pago_reembolsado", "No pudimos activar su acceso y su pago fue reembolsado."),
        (
            .tooManyAttempts, 429, "demasiados_intentos",
            "Demasiados pagos rechazados desde este dispositivo o red. Intente más tarde o con otro método de pago."
        ),
        (.inProgress, 409, "en_proceso", "Su pago se está procesando. Repita esta misma solicitud en unos segundos."),
        (.idempotencyConflict, 422, "idempotencia_conflicto", "La clave de idempotencia ya se usó con una solicitud distinta."),
    ])
    func everyResult(result: PaymentResult, status: Int, codigo: String, detail: String) {
        let described = PaymentPresenter.describe(result)
        #expect(described.status == status)
        #expect(described.codigo == codigo)
        #expect(described.detail == detail)
        let answer = PaymentPresenter().answer(result, attempt: Self.attempt)
        #expect(answer.status == status)
        #expect(answer.codigo == codigo)
        #expect(Self.text(answer) == #"{"detail":"\#(detail)","codigo":"\#(codigo)","id_intento":"att-1"}"#)
        let beforeAnyAttempt = PaymentPresenter().answer(result, attempt: nil)
        #expect(beforeAnyAttempt.status == status)
        #expect(Self.text(beforeAnyAttempt) == #"{"detail":"\#(detail)","codigo":"\#(codigo)"}"#)
    }

    @Test func theReceiptIsTheSeedsShapeFieldForField() {
        var attempt = Self.attempt
        attempt.orderID = "ord_2znsF4cv7L8sWnRya"
        let connected = AutoConnectReport(outcome: .connected, mac: "AA:BB:CC:DD:EE:FF", ip: "10.5.50.23", sessionID: "*9")
        let receipt = PaymentPresenter().receipt(attempt, completedAtMicroseconds: 1_709_210_096_789_012, autoConnect: connected)
        #expect(receipt.status == 200)
        #expect(receipt.codigo == "pagado")
        #expect(
            Self.text(receipt)
                == #"{"success":true,"id_transaccion":"ord_2znsF4cv7L8sWnRya","estado_pago":"paid","tipo_usuario":"usuario_contrasena","usuario_hotspot":{"usuario":"ABC234","contrasena":"1234"},"producto":{"nombre":"1 Hora","precio":15.00,"moneda":"MXN","perfil_mikrotik":"1hora"},"cliente":{"nombre":"Ana Pérez","email":"ana@example.com"},"timestamp":"2024-02-29T12:34:56.789012","auto_conexion":{"estado":"conectado","mac":"AA:BB:CC:DD:EE:FF","ip":"10.5.50.23","mensaje":"¡Conexión establecida con éxito! Disfrute de Internet sin límites","verificado":true,"session_id":"*9"}}"#
        )

        let plain = PaymentPresenter().receipt(
            Self.attempt, completedAtMicroseconds: 0, autoConnect: .notRequested(mac: nil, ip: nil))
        #expect(
            Self.text(plain)
                == #"{"success":true,"id_transaccion":null,"estado_pago":"paid","tipo_usuario":"usuario_contrasena","usuario_hotspot":{"usuario":"ABC234","contrasena":"1234"},"producto":{"nombre":"1 Hora","precio":15.00,"moneda":"MXN","perfil_mikrotik":"1hora"},"cliente":{"nombre":"Ana Pérez","email":"ana@example.com"},"timestamp":"1970-01-01T00:00:00.000000","auto_conexion":{"estado":"no_solicitado","mac":null,"ip":null,"mensaje":"Favor de ingresar sus credenciales en la página del hotspot.","verificado":false,"session_id":null}}"#
        )
    }

    @Test(arguments: [
        (AutoConnectReport.Outcome.connected, "conectado", "¡Conexión establecida con éxito! Disfrute de Internet sin límites"),
        (.notRequested, "no_solicitado", "Favor de ingresar sus credenciales en la página del hotspot."),
        (
            .activatedLater, "no_conectado",
            "Su acceso se activó después del pago. Ingrese sus credenciales en la página del hotspot."
        ),
        (
            .routerUnreachable, "no_conectado",
            "No se pudo contactar al router para conectar su dispositivo. Use sus credenciales."
        ),
        (
            .deviceNotFound, "no_conectado",
            "Su dispositivo no aparece conectado al hotspot. Ingrese sus credenciales en la página del hotspot."
        ),
        (.loginFailed, "no_conectado", "No se pudo conectar automáticamente. Use las credenciales para ingresar."),
        (
            .unconfirmed, "no_conectado",
            "El router aceptó el inicio de sesión pero no se pudo confirmar. Use sus credenciales si no tiene Internet."
        ),
    ])
    func everyAutoConnectOutcome(outcome: AutoConnectReport.Outcome, state: String, message: String) {
        #expect(PaymentPresenter.state(outcome) == state)
        #expect(PaymentPresenter.message(outcome) == message)
    }

    /// UTC, microseconds always six digits, years four; floor division before the epoch; the
    /// Gregorian leap years (2000 and 1600 are, 2100 and 1900 are not).
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000000"),
        (1, "1970-01-01T00:00:00.000001"),
        (999_999, "1970-01-01T00:00:00.999999"),
        (1_700_000_000_000_000, "2023-11-14T22:13:20.000000"),
        (1_709_210_096_789_012, "2024-02-29T12:34:56.789012"),
        (1_709_251_200_000_000, "2024-03-01T00:00:00.000000"),
        (951_782_400_000_000, "2000-02-29T00:00:00.000000"),
        (4_107_542_400_000_000, "2100-03-01T00:00:00.000000"),
        (253_402_300_799_999_999, "9999-12-31T23:59:59.999999"),
        (-1, "1969-12-31T23:59:59.999999"),
        (-1_000_000, "1969-12-31T23:59:59.000000"),
        (-86_400_000_000, "1969-12-31T00:00:00.000000"),
        (-58_038_771_999_991, "1968-02-29T06:07:08.000009"),
        (-2_203_891_200_000_000, "1900-03-01T00:00:00.000000"),
        (-11_670_998_399_999_995, "1600-02-29T00:00:00.000005"),
        (-62_135_596_800_000_000, "0001-01-01T00:00:00.000000"),
    ])
    func timestamps(microseconds: Int64, expected: String) {
        #expect(PaymentPresenter.timestamp(microseconds: microseconds) == expected)
    }
}
