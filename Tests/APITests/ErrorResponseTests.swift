import API
import Domain
import Testing

/// Every failure as the client sees it (CONTRACT §3): a status, a stable `codigo`, a Spanish
/// `detail`, the exchange's request id, and the headers some statuses carry.
@Suite struct ErrorResponseTests {
    static func text(_ response: Response) -> String { String(decoding: response.body, as: UTF8.self) }

    static let fields = [FieldProblem(field: "mac_cliente", message: "MAC inválida"), FieldProblem(field: "email", message: "Falta")]

    @Test(arguments: [
        (
            ServiceError.unauthorized(.missing), 401, "api_key_requerida",
            "Se requiere una API Key (encabezado X-API-Key o Authorization: Bearer).", ""
        ),
        (.unauthorized(.malformed), 401, "api_key_malformada", "Formato de API Key inválido.", ""),
        (.unauthorized(.badSignature), 401, "api_key_invalida", "API Key inválida.", ""),
        (.unauthorized(.expired), 401, "api_key_expirada", "API Key expirada.", ""),
        (.unauthorized(.revoked), 401, "api_key_revocada", "API Key revocada.", ""),
        (.unauthorized(.unknownKey), 401, "api_key_desconocida", "API Key no válida.", ""),
        (.unauthorized(.routerInactive), 403, "router_inactivo", "El router no está activo.", ""),
        (.unauthorized(.companyInactive), 403, "empresa_inactiva", "La empresa no está activa.", ""),
        (.productNotFound, 404, "producto_no_encontrado", "Producto no encontrado", ""),
        (
            .invalidRequest(fields), 422, "solicitud_invalida", "La solicitud tiene datos inválidos.",
            #""campos":[{"campo":"mac_cliente","mensaje":"MAC inválida"},{"campo":"email","mensaje":"Falta"}],"#
        ),
        (.invalidRequest([]), 422, "solicitud_invalida", "La solicitud tiene datos inválidos.", #""campos":[],"#),
        (
            .unsupportedMediaType, 415, "tipo_de_contenido_no_soportado",
            "Envíe application/json o application/x-www-form-urlencoded.", ""
        ),
        (
            .storeUnavailable, 503, "servicio_no_disponible",
            "Servicio temporalmente no disponible. Intente de nuevo en unos segundos.", ""
        ),
        (.internalFailure("SELECT secret FROM keys"), 500, "error_interno", "Error interno del servidor.", ""),
    ])
    func everyServiceError(error: ServiceError, status: Int, codigo: String, detail: String, campos: String) {
        let described = ErrorResponse.describe(error)
        #expect(described.status == status)
        #expect(described.codigo == codigo)
        #expect(described.detail == detail)
        let response = ErrorResponse.response(for: error, requestID: "req-1")
        #expect(response.status == status)
        #expect(Self.text(response) == #"{"detail":"\#(detail)","codigo":"\#(codigo)",\#(campos)"request_id":"req-1"}"#)
        #expect(response.header("Content-Type") == "application/json; charset=utf-8")
        #expect(response.header("X-Hotspot-Codigo") == codigo)
        #expect(response.header("WWW-Authenticate") == (status == 401 ? "Bearer" : nil))
        #expect(response.header("Retry-After") == (status == 503 ? "2" : nil))
        #expect(response.headers.count == 2 + (status == 401 || status == 503 ? 1 : 0))
    }

    @Test func everyServiceErrorMapsToAStatusAndACode() {
        let failures: [AuthFailure] = [
            .missing, .malformed, .badSignature, .expired, .revoked, .unknownKey, .routerInactive, .companyInactive,
        ]
        let codes = Set(failures.map { ErrorResponse.describe(.unauthorized($0)).codigo })
        #expect(codes.count == failures.count)
        for failure in failures {
            let status = ErrorResponse.describe(.unauthorized(failure)).status
            #expect(status == 401 || status == 403)
        }
        #expect(ErrorResponse.describe(.storeUnavailable).status == 503)
        #expect(ErrorResponse.describe(.internalFailure("SELECT secret")).detail == "Error interno del servidor.")
        let invalid = ErrorResponse.response(
            for: .invalidRequest([FieldProblem(field: "mac_cliente", message: "MAC inválida")]), requestID: "r")
        #expect(invalid.status == 422)
        #expect(String(decoding: invalid.body, as: UTF8.self).contains(#""campos":[{"campo":"mac_cliente","mensaje":"MAC inválida"}]"#))
    }

    @Test func theRequestIDIsEscapedLikeAnyString() {
        let response = ErrorResponse.response(for: .productNotFound, requestID: "r\"1\\")
        #expect(Self.text(response) == #"{"detail":"Producto no encontrado","codigo":"producto_no_encontrado","request_id":"r\"1\\"}"#)
    }

    @Test func answersOfTheRouterRatherThanTheService() {
        let notFound = ErrorResponse.notFound(requestID: "r")
        #expect(notFound.status == 404)
        #expect(notFound.header("X-Hotspot-Codigo") == "ruta_no_encontrada")
        #expect(Self.text(notFound) == #"{"detail":"Ruta no encontrada.","codigo":"ruta_no_encontrada","request_id":"r"}"#)

        let wrongMethod = ErrorResponse.methodNotAllowed(allowed: ["GET", "HEAD"], requestID: "r")
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.header("Allow") == "GET, HEAD")
        #expect(wrongMethod.header("X-Hotspot-Codigo") == "metodo_no_permitido")
        #expect(Self.text(wrongMethod) == #"{"detail":"Método no permitido.","codigo":"metodo_no_permitido","request_id":"r"}"#)

        let tooLarge = ErrorResponse.payloadTooLarge(limit: 16_384, requestID: "r")
        #expect(tooLarge.status == 413)
        #expect(tooLarge.header("X-Hotspot-Codigo") == "cuerpo_demasiado_grande")
        #expect(
            Self.text(tooLarge)
                == #"{"detail":"El cuerpo de la solicitud excede 16384 bytes.","codigo":"cuerpo_demasiado_grande","request_id":"r"}"#)
    }
}
