import Domain
import Logging

/// Turns one request into one response. Pure apart from the ports it is given, so tests call it
/// without libfcgi or nginx.
struct PortalHandler {
    let portal: PortalService
    let maxBodyBytes: Int
    let now: () -> Int64

    func respond(to request: Request, logger: Logger) -> Response {
        let route: Route
        switch Route.match(method: request.method, path: request.path) {
        case .success(let matched): route = matched
        case .failure(let miss): return ErrorResponse.routeMiss(miss, requestID: request.requestID)
        }
        do throws(ServiceError) {
            switch route {
            case .health:
                return health(request)
            case .configPublic:
                let grant = try authorize(request)
                return .json(200, Presenter.configPublic(grant))
            case .catalogue:
                let grant = try authorize(request)
                return .json(200, JSONValue.array(try portal.catalogue(for: grant).map(Presenter.product)))
            case .catalogueItem(let id):
                let grant = try authorize(request)
                return .json(200, Presenter.product(try portal.product(id: id, for: grant)))
            case .payment:
                _ = try authorize(request)
                throw ServiceError.internalFailure("payments are not enabled yet")
            }
        } catch {
            switch error {
            case .internalFailure(let reason): logger.error("request failed", metadata: ["reason": "\(reason)"])
            case .storeUnavailable: logger.warning("database unavailable")
            default: break
            }
            return ErrorResponse.response(for: error, requestID: request.requestID)
        }
    }

    private func authorize(_ request: Request) throws(ServiceError) -> AccessGrant {
        try portal.authorize(
            apiKeyHeader: request.headers["x-api-key"], authorizationHeader: request.headers["authorization"], now: now())
    }

    private func health(_ request: Request) -> Response {
        let healthy = portal.health()
        let body = JSONValue.object([
            ("status", .string(healthy ? "ok" : "degradado")),
            ("database", .string(healthy ? "ok" : "no_disponible")),
        ])
        return .json(healthy ? 200 : 503, body, codigo: healthy ? "ok" : "servicio_no_disponible")
    }
}

/// The JSON shapes of the portal endpoints (CONTRACT §4).
enum Presenter {
    static func product(_ product: Product) -> JSONValue {
        .object([
            ("id", .integer(product.id)),
            ("nombre_venta", .string(product.name)),
            ("descripcion", .optional(product.description)),
            ("precio", .money(cents: product.price.cents)),
            ("moneda", .string(product.price.currency)),
            ("perfil_mikrotik_nombre", .string(product.profileName)),
            ("detalles", .array(product.details.map { .string($0) })),
            ("imagen_url", .optional(product.imageURL)),
            ("destacado", .bool(product.featured)),
            ("orden", .integer(product.displayOrder)),
        ])
    }

    static func configPublic(_ grant: AccessGrant) -> JSONValue {
        .object([
            (
                "empresa",
                .object([
                    ("id", .integer(grant.company.id)),
                    ("nombre", .string(grant.company.name)),
                    ("conekta_public_key", .optional(grant.company.conektaPublicKey)),
                ])
            ),
            (
                "router",
                .object([
                    ("id", .integer(grant.router.id)),
                    ("nombre", .string(grant.router.name)),
                    ("ubicacion", .optional(grant.router.location)),
                ])
            ),
        ])
    }
}
