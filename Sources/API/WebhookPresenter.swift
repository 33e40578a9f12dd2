import Domain
import JSON

/// Reads a Conekta event's body (after its `Digest` was checked): `id`, `type`, and the order it
/// names: `data.object.id` for an `order.*` event, `data.object.order_id` for a charge's. The rest
/// is a hint nobody acts on (CONTRACT §10).
public struct ConektaEventDecoder: WebhookEventDecoding {
    public init() {}

    public func decode(_ body: [UInt8]) -> WebhookEventHint? {
        guard let json = try? JSONParser.parse(body), case .object = json,
            let id = json["id"]?.stringValue, Self.isWord(id),
            let type = json["type"]?.stringValue, Self.isWord(type)
        else { return nil }
        let object = json["data"]?["object"]
        var orderID: String?
        if type.hasPrefix("order.") {
            orderID = object?["id"]?.stringValue
        } else {
            orderID = object?["order_id"]?.stringValue
        }
        if let candidate = orderID, !Self.isWord(candidate) { orderID = nil }
        return WebhookEventHint(eventID: id, type: type, orderID: orderID)
    }

    /// 1–200 printable ASCII characters without spaces: what an id or type may be to be stored,
    /// logged and sent back in a header.
    static func isWord(_ text: String) -> Bool {
        let bytes = text.utf8
        return (1...200).contains(bytes.count) && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}

/// The answers of `POST /api/v1/webhooks/conekta/{endpoint}`, in the API's wording. Each names
/// the event, its type, attempt and outcome in `X-Hotspot-*` headers for nginx's access log.
public enum WebhookPresenter {
    public static func answer(_ reception: WebhookService.Reception, requestID: String) -> Response {
        switch reception {
        case .unknownEndpoint:
            return .json(
                404, ErrorResponse.body("Webhook desconocido.", "webhook_desconocido", requestID), codigo: "webhook_desconocido")
        case .badSignature:
            return .json(
                401, ErrorResponse.body("Firma del webhook inválida o ausente.", "firma_invalida", requestID), codigo: "firma_invalida")
        case .malformed:
            return .json(
                400, ErrorResponse.body("El cuerpo no es un evento válido.", "evento_invalido", requestID), codigo: "evento_invalido")
        case .unavailable:
            // The same 503 as every other route's: Conekta sends the event again.
            return ErrorResponse.response(for: .storeUnavailable, requestID: requestID)
        case .received(let receipt):
            var headers = [
                ("X-Hotspot-Event", receipt.eventID), ("X-Hotspot-Event-Type", receipt.type), ("X-Hotspot-Outcome", receipt.outcome),
            ]
            if let attempt = receipt.attemptID { headers.append(("X-Hotspot-Attempt", attempt)) }
            return .json(
                200, JSONValue.object([("evento", .string(receipt.eventID)), ("resultado", .string(receipt.outcome))]),
                codigo: "ok", extraHeaders: headers)
        }
    }
}
