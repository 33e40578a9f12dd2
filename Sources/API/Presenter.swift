import Domain
import JSON

/// The JSON shapes of the portal endpoints (CONTRACT §4).
public enum Presenter {
    public static func product(_ product: Product) -> JSONValue {
        .object([
            ("id", .integer(product.id)),
            ("nombre_venta", .string(product.name)),
            ("descripcion", .optional(product.description)),
            ("precio", .money(cents: product.price.cents)),
            ("moneda", .string(product.price.currency)),
            ("perfil_mikrotik_nombre", .string(product.profileName)),
            ("tiempo_uso", .optional(product.limitUptime)),
            ("datos_bytes", product.limitBytesTotal.map { .integer($0) } ?? .null),
            ("vigencia", product.validity.map(validity) ?? .null),
            ("detalles", .array(product.details.map { .string($0) })),
            ("imagen_url", .optional(product.imageURL)),
            ("destacado", .bool(product.featured)),
            ("orden", .integer(product.displayOrder)),
        ])
    }

    /// A product's validity (CONTRACT §11): seconds, as RouterOS interval text, and from when.
    static func validity(_ validity: AccessValidity) -> JSONValue {
        .object([
            ("segundos", .integer(validity.seconds)),
            ("texto", .string(validity.text)),
            ("desde", .string(validity.from == .purchase ? "compra" : "primer_acceso")),
        ])
    }

    /// The `metodo_pago` values the payment endpoint takes for `company` (CONTRACT §12): cards
    /// always, then the pay-later methods the operator turned on, in a fixed order.
    static func paymentMethods(_ company: Company) -> [String] {
        ["tarjeta"] + PaymentMethod.payLater.filter(company.payLater.methods.contains).map(\.rawValue)
    }

    public static func configPublic(_ grant: AccessGrant) -> JSONValue {
        .object([
            (
                "empresa",
                .object([
                    ("id", .integer(grant.company.id)),
                    ("nombre", .string(grant.company.name)),
                    ("conekta_public_key", .optional(grant.company.conektaPublicKey)),
                    ("metodos_pago", .array(paymentMethods(grant.company).map { .string($0) })),
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
