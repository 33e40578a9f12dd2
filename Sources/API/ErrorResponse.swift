import Domain
import JSON

/// The one place where every failure becomes an HTTP status, a Spanish `detail` for people and a
/// stable `codigo` for programs (CONTRACT §3). Raw internal messages never reach the client.
public enum ErrorResponse {
    public static func response(for error: ServiceError, requestID: String) -> Response {
        let (status, codigo, detail) = describe(error)
        var members: [(String, JSONValue)] = [("detail", .string(detail)), ("codigo", .string(codigo))]
        if case .invalidRequest(let problems) = error {
            members.append(("campos", .array(problems.map { .object([("campo", .string($0.field)), ("mensaje", .string($0.message))]) })))
        }
        members.append(("request_id", .string(requestID)))
        var extra: [(String, String)] = []
        if status == 401 { extra.append(("WWW-Authenticate", "Bearer")) }
        if status == 503 { extra.append(("Retry-After", "2")) }
        if case .tooManyClaimGuesses(let seconds) = error { extra.append(("Retry-After", String(seconds))) }
        return .json(status, JSONValue.object(members), codigo: codigo, extraHeaders: extra)
    }

    public static func describe(_ error: ServiceError) -> (status: Int, codigo: String, detail: String) {
        switch error {
        case .unauthorized(let failure):
            switch failure {
            case .missing: return (401, "api_key_requerida", "Se requiere una API Key (encabezado X-API-Key o Authorization: Bearer).")
            case .malformed: return (401, "api_key_malformada", "Formato de API Key inválido.")
            case .badSignature: return (401, "api_key_invalida", "API Key inválida.")
            case .expired: return (401, "api_key_expirada", "API Key expirada.")
            case .revoked: return (401, "api_key_revocada", "API Key revocada.")
            case .unknownKey: return (401, "api_key_desconocida", "API Key no válida.")
            case .routerInactive: return (403, "router_inactivo", "El router no está activo.")
            case .companyInactive: return (403, "empresa_inactiva", "La empresa no está activa.")
            }
        case .productNotFound:
            return (404, "producto_no_encontrado", "Producto no encontrado")
        case .invalidRequest:
            return (422, "solicitud_invalida", "La solicitud tiene datos inválidos.")
        case .unsupportedMediaType:
            return (415, "tipo_de_contenido_no_soportado", "Envíe application/json o application/x-www-form-urlencoded.")
        case .paymentMethodUnavailable:
            return (422, "metodo_pago_no_disponible", "Este método de pago no está disponible en este hotspot. Elija otro.")
        case .claimCodeUnknown:
            return (404, "codigo_desconocido", "El código de canje no es válido en este hotspot. Revise que esté bien escrito.")
        case .claimEnded(.expired):
            return (
                410, "referencia_expirada",
                "La referencia de pago venció sin que recibiéramos el pago. No se realizó ningún cargo; puede comprar de nuevo."
            )
        case .claimEnded(.refunded):
            return (410, "pago_reembolsado", "No pudimos activar su acceso y su pago fue reembolsado.")
        case .claimEnded(.revoked):
            return (410, "acceso_revocado", "El pago fue reembolsado o desconocido; el acceso se desactivó.")
        case .tooManyClaimGuesses:
            return (
                429, "demasiados_intentos",
                "Demasiados códigos de canje incorrectos desde este dispositivo o red. Intente más tarde."
            )
        case .storeUnavailable:
            return (503, "servicio_no_disponible", "Servicio temporalmente no disponible. Intente de nuevo en unos segundos.")
        case .internalFailure:
            return (500, "error_interno", "Error interno del servidor.")
        }
    }

    public static func notFound(requestID: String) -> Response {
        .json(404, body("Ruta no encontrada.", "ruta_no_encontrada", requestID), codigo: "ruta_no_encontrada")
    }

    public static func methodNotAllowed(allowed: [String], requestID: String) -> Response {
        .json(
            405, body("Método no permitido.", "metodo_no_permitido", requestID), codigo: "metodo_no_permitido",
            extraHeaders: [("Allow", allowed.joined(separator: ", "))])
    }

    public static func payloadTooLarge(limit: Int, requestID: String) -> Response {
        .json(
            413, body("El cuerpo de la solicitud excede \(limit) bytes.", "cuerpo_demasiado_grande", requestID),
            codigo: "cuerpo_demasiado_grande")
    }

    public static func body(_ detail: String, _ codigo: String, _ requestID: String) -> JSONValue {
        .object([("detail", .string(detail)), ("codigo", .string(codigo)), ("request_id", .string(requestID))])
    }
}
