/// The API's routes. A pure function from method and path to what to do.
enum Route: Equatable {
    case health
    case configPublic
    case catalogue
    case catalogueItem(Int64)
    case payment
    /// `POST /api/v1/payments/canjear`: a pay-later claim code redeemed for its access.
    case claim
    case metrics
    /// `POST /api/v1/webhooks/conekta/{endpoint}`: a Conekta event for the company of that endpoint.
    case conektaWebhook(endpoint: String)

    /// The largest body a webhook may carry: an event holds a whole order (nginx's
    /// `client_max_body_size` for the route is the same).
    static let webhookMaxBodyBytes = 262_144
    static let webhookPrefix = "/api/v1/webhooks/conekta/"

    /// The route's name in metrics: a fixed word, never the path (ids would make endless series).
    var name: String {
        switch self {
        case .health: "health"
        case .configPublic: "config_public"
        case .catalogue: "catalogue"
        case .catalogueItem: "catalogue_item"
        case .payment: "payment"
        case .claim: "claim"
        case .metrics: "metrics"
        case .conektaWebhook: "conekta_webhook"
        }
    }

    enum Miss: Error, Equatable {
        case notFound
        case methodNotAllowed(allowed: [String])
    }

    static func match(method: String, path: String) -> Result<Route, Miss> {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        let found: (route: Route, methods: [String])
        switch trimmed {
        case "/health": found = (.health, ["GET", "HEAD"])
        case "/api/v1/config/public": found = (.configPublic, ["GET", "HEAD"])
        case "/api/v1/catalogo_perfiles_venta": found = (.catalogue, ["GET", "HEAD"])
        case "/api/v1/payments/pagar-conekta": found = (.payment, ["POST"])
        case "/api/v1/payments/canjear": found = (.claim, ["POST"])
        case "/metrics": found = (.metrics, ["GET", "HEAD"])
        case _ where trimmed.hasPrefix(webhookPrefix):
            let endpoint = trimmed.dropFirst(webhookPrefix.count)
            // Any one path segment: whether a company has it is the store's to say (404
            // webhook_desconocido either way).
            guard !endpoint.isEmpty, !endpoint.contains("/") else { return .failure(.notFound) }
            found = (.conektaWebhook(endpoint: String(endpoint)), ["POST"])
        default:
            let prefix = "/api/v1/catalogo_perfiles_venta/"
            guard trimmed.hasPrefix(prefix) else { return .failure(.notFound) }
            let id = trimmed.dropFirst(prefix.count)
            guard (1...18).contains(id.count), id.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int64(id), number > 0
            else { return .failure(.notFound) }
            found = (.catalogueItem(number), ["GET", "HEAD"])
        }
        if method == "OPTIONS" || !found.methods.contains(method) {
            return .failure(.methodNotAllowed(allowed: found.methods))
        }
        return .success(found.route)
    }
}
