import Domain
import JSON

/// The payment endpoint's bodies: the seed's success shape (docs/seed-api.md), field for field,
/// and every other answer as `{"detail","codigo","id_intento"}`. Bodies are stored and replayed
/// byte for byte, so they carry nothing specific to one HTTP exchange (no request id).
public struct PaymentPresenter: PaymentRendering {
    public init() {}

    public func receipt(_ attempt: PaymentAttempt, completedAtMicroseconds: Int64, autoConnect: AutoConnectReport) -> StoredResponse {
        let body = JSONValue.object([
            ("success", .bool(true)),
            ("id_transaccion", .optional(attempt.orderID)),
            ("estado_pago", .string("paid")),
            ("tipo_usuario", .string(attempt.userType.rawValue)),
            (
                "usuario_hotspot",
                .object([
                    ("usuario", .string(attempt.credentials.username)),
                    ("contrasena", .string(attempt.credentials.password)),
                ])
            ),
            ("producto", Self.product(attempt)),
            (
                "cliente",
                .object([
                    ("nombre", .string(attempt.customerName)),
                    ("email", .string(attempt.customerEmail)),
                ])
            ),
            ("timestamp", .string(Self.timestamp(microseconds: completedAtMicroseconds))),
            (
                "auto_conexion",
                .object([
                    ("estado", .string(Self.state(autoConnect.outcome))),
                    ("mac", .optional(autoConnect.mac)),
                    ("ip", .optional(autoConnect.ip)),
                    ("mensaje", .string(Self.message(autoConnect.outcome))),
                    ("verificado", .bool(autoConnect.verified)),
                    ("session_id", .optional(autoConnect.sessionID)),
                ])
            ),
        ])
        return StoredResponse(status: 200, body: body.serialized(), codigo: "pagado")
    }

    public func answer(_ result: PaymentResult, attempt: PaymentAttempt?) -> StoredResponse {
        if result == .awaitingPayment, let attempt { return awaitingPayment(attempt, claimCode: nil) }
        let (status, codigo, detail) = Self.describe(result)
        var members: [(String, JSONValue)] = [("detail", .string(detail)), ("codigo", .string(codigo))]
        if let attempt { members.append(("id_intento", .string(attempt.id))) }
        return StoredResponse(status: status, body: JSONValue.object(members).serialized(), codigo: codigo)
    }

    public static func describe(_ result: PaymentResult) -> (status: Int, codigo: String, detail: String) {
        switch result {
        case .delivered:
            return (200, "pagado", "Pago aprobado.")
        case .declined(let decline):
            let detail =
                switch decline {
                case .insufficientFunds: "Fondos insuficientes en la tarjeta. Intente con otra tarjeta."
                case .byBank: "El pago fue declinado. Contacte a su banco."
                case .cardNotProcessed: "La tarjeta no pudo ser procesada. Intente con otro método de pago."
                }
            return (402, "pago_declinado", detail)
        case .notCompleted(let status):
            let detail =
                status == .pendingPayment
                ? "El pago requiere una verificación adicional que no se completó. No se realizó ningún cargo."
                : "El pago no se completó. No se realizó ningún cargo."
            return (402, "pago_no_completado", detail)
        case .inVerification:
            return (
                500, "pago_en_verificacion",
                "No pudimos confirmar el resultado de su pago. No vuelva a pagar: repita esta misma solicitud en unos minutos para conocer el resultado."
            )
        case .activationPending:
            return (
                500, "activacion_pendiente",
                "Su pago fue recibido y estamos activando su acceso. Repita esta misma solicitud en unos segundos; no vuelva a pagar."
            )
        case .routerUnavailable:
            return (500, "router_no_disponible", "No se pudo crear el acceso a internet. No se realizó ningún cargo.")
        case .profileUnavailable:
            return (500, "perfil_no_disponible", "Este plan no está disponible en el router. No se realizó ningún cargo.")
        case .paymentsUnavailable:
            return (500, "pagos_no_configurados", "Los pagos no están disponibles en este momento. No se realizó ningún cargo.")
        case .refunded:
            return (500, "pago_reembolsado", "No pudimos activar su acceso y su pago fue reembolsado.")
        case .revoked:
            // After the request: the order was refunded or charged back (CONTRACT §10).
            return (402, "acceso_revocado", "El pago fue reembolsado o desconocido; el acceso se desactivó.")
        case .awaitingPayment:
            return (
                202, "pago_pendiente",
                "Su pedido está registrado y espera su pago. Cuando el pago se acredite, canjee su código para recibir su acceso."
            )
        case .expired:
            // The payment's own retry, for an order that expired before its 202 was given (its
            // reply lost): not paid, as any other. A claim code's 410 is ErrorResponse's.
            return (
                402, "pago_no_completado",
                "La referencia de pago venció sin que recibiéramos el pago. No se realizó ningún cargo; puede comprar de nuevo."
            )
        case .tooManyAttempts:
            return (
                429, "demasiados_intentos",
                "Demasiados pagos rechazados desde este dispositivo o red. Intente más tarde o con otro método de pago."
            )
        case .inProgress:
            return (409, "en_proceso", "Su pago se está procesando. Repita esta misma solicitud en unos segundos.")
        case .idempotencyConflict:
            return (422, "idempotencia_conflicto", "La clave de idempotencia ya se usó con una solicitud distinta.")
        }
    }

    /// A pay-later order waiting for its money (CONTRACT §12), 202: how to pay it (an OXXO
    /// reference and its barcode, or a CLABE and its bank), how much, until when, and the claim
    /// code to redeem once paid (shown here only). The product as in the receipt.
    public func awaitingPayment(_ attempt: PaymentAttempt, claimCode: ClaimCode?) -> StoredResponse {
        let (status, codigo, _) = Self.describe(.awaitingPayment)
        var members: [(String, JSONValue)] = [
            ("codigo", .string(codigo)),
            ("mensaje", .string(Self.payLaterMessage(attempt.method))),
            ("id_intento", .string(attempt.id)),
        ]
        members += Self.payLaterTerms(attempt)
        if let claimCode { members.append(("codigo_canje", .string(claimCode.display))) }
        members += Self.instructions(attempt)
        members.append(("producto", Self.product(attempt)))
        return StoredResponse(status: status, body: JSONValue.object(members).serialized(), codigo: codigo)
    }

    /// A claim of a pay-later access not delivered yet (`POST /api/v1/payments/canjear`), 202:
    /// waiting for the money (`pago_recibido` false), or paid with its access being made (true).
    /// The same terms as the purchase's answer, without the code.
    public static func claimPending(_ attempt: PaymentAttempt) -> JSONValue {
        let paid = attempt.state == .provisioning || attempt.state == .paid
        let message =
            paid
            ? "Su pago fue recibido y estamos activando su acceso. Intente de nuevo en unos segundos."
            : "Aún no recibimos su pago. Si ya pagó, puede tardar unos minutos en acreditarse; intente de nuevo más tarde."
        var members: [(String, JSONValue)] = [
            ("codigo", .string(describe(.awaitingPayment).codigo)), ("mensaje", .string(message)), ("id_intento", .string(attempt.id)),
        ]
        members += payLaterTerms(attempt)
        members.append(("pago_recibido", .bool(paid)))
        members += instructions(attempt)
        members.append(("producto", product(attempt)))
        return .object(members)
    }

    /// What the customer reads on how to pay.
    static func payLaterMessage(_ method: PaymentMethod) -> String {
        switch method {
        case .spei:
            "Transfiera el monto exacto por SPEI a esta CLABE antes de que venza. Cuando el pago se acredite, canjee su código para recibir su acceso."
        default:
            "Pague en efectivo en cualquier tienda OXXO con esta referencia antes de que venza. Cuando el pago se acredite, canjee su código para recibir su acceso."
        }
    }

    /// `metodo_pago`, `monto`, `moneda`, `expira`.
    static func payLaterTerms(_ attempt: PaymentAttempt) -> [(String, JSONValue)] {
        [
            ("metodo_pago", .string(attempt.method.rawValue)), ("monto", .money(cents: attempt.amount.cents)),
            ("moneda", .string(attempt.amount.currency)),
            ("expira", attempt.payLaterExpiresAt.map { .string(isoTimestamp(seconds: $0)) } ?? .null),
        ]
    }

    /// `referencia` and `url_codigo_barras` (OXXO) or `clabe` and `banco` (SPEI), once known.
    static func instructions(_ attempt: PaymentAttempt) -> [(String, JSONValue)] {
        guard let instructions = attempt.instructions else { return [] }
        switch attempt.method {
        case .spei:
            return [("clabe", .optional(instructions.clabe)), ("banco", .optional(instructions.bank))]
        default:
            return [("referencia", .optional(instructions.reference)), ("url_codigo_barras", .optional(instructions.barcodeURL))]
        }
    }

    /// The receipt's `producto`.
    static func product(_ attempt: PaymentAttempt) -> JSONValue {
        .object([
            ("nombre", .string(attempt.productName)),
            ("precio", .money(cents: attempt.amount.cents)),
            ("moneda", .string(attempt.amount.currency)),
            ("perfil_mikrotik", .string(attempt.profileName)),
        ])
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (ISO 8601, UTC).
    public static func isoTimestamp(seconds: Int64) -> String {
        String(timestamp(microseconds: seconds * 1_000_000).prefix(19)) + "Z"
    }

    /// `auto_conexion.estado`.
    public static func state(_ outcome: AutoConnectReport.Outcome) -> String {
        switch outcome {
        case .connected: "conectado"
        case .notRequested: "no_solicitado"
        case .activatedLater, .routerUnreachable, .deviceNotFound, .loginFailed, .unconfirmed: "no_conectado"
        }
    }

    /// `auto_conexion.mensaje`: what the customer reads about auto-connect.
    public static func message(_ outcome: AutoConnectReport.Outcome) -> String {
        switch outcome {
        case .connected: "¡Conexión establecida con éxito! Disfrute de Internet sin límites"
        case .notRequested: "Favor de ingresar sus credenciales en la página del hotspot."
        case .activatedLater: "Su acceso se activó después del pago. Ingrese sus credenciales en la página del hotspot."
        case .routerUnreachable: "No se pudo contactar al router para conectar su dispositivo. Use sus credenciales."
        case .deviceNotFound: "Su dispositivo no aparece conectado al hotspot. Ingrese sus credenciales en la página del hotspot."
        case .loginFailed: "No se pudo conectar automáticamente. Use las credenciales para ingresar."
        case .unconfirmed:
            "El router aceptó el inicio de sesión pero no se pudo confirmar. Use sus credenciales si no tiene Internet."
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffff` in UTC, as the seed shows (docs/seed-api.md).
    public static func timestamp(microseconds: Int64) -> String {
        let seconds = microseconds.quotient(1_000_000)
        let fraction = microseconds - seconds * 1_000_000
        let days = seconds.quotient(86_400)
        let secondOfDay = seconds - days * 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):"
            + "\(pad(secondOfDay % 60, 2)).\(pad(fraction, 6))"
    }
}

extension Int64 {
    /// Floor division (rounds toward negative infinity).
    fileprivate func quotient(_ divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
