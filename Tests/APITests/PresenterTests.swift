import API
import Domain
import JSON
import Testing

/// The portal endpoints' JSON shapes (CONTRACT §4), absent values included.
@Suite struct PresenterTests {
    static func text(_ value: JSONValue) -> String { String(decoding: value.serialized(), as: UTF8.self) }

    @Test func aProductWithEveryFieldAndOneWithNone() {
        let full = Product(
            id: 1, companyID: 1, routerID: 7, name: "1 Día", description: "Todo el día", price: Money(cents: 4990, currency: "MXN"),
            profileName: "1dia", limitUptime: "1d", limitBytesTotal: 1_073_741_824,
            validity: AccessValidity(seconds: 172_800, from: .purchase), details: ["5 Mbps", "1 dispositivo"],
            imageURL: "https://example.com/1dia.png", featured: true, displayOrder: 2)
        #expect(
            Self.text(Presenter.product(full))
                == #"{"id":1,"nombre_venta":"1 Día","descripcion":"Todo el día","precio":49.90,"moneda":"MXN","perfil_mikrotik_nombre":"1dia","tiempo_uso":"1d","datos_bytes":1073741824,"vigencia":{"segundos":172800,"texto":"2d","desde":"compra"},"detalles":["5 Mbps","1 dispositivo"],"imagen_url":"https://example.com/1dia.png","destacado":true,"orden":2}"#
        )
        let bare = Product(
            id: 3, companyID: 1, routerID: 7, name: "1 Hora", price: Money(cents: 1500, currency: "MXN"), profileName: "1hora")
        #expect(
            Self.text(Presenter.product(bare))
                == #"{"id":3,"nombre_venta":"1 Hora","descripcion":null,"precio":15.00,"moneda":"MXN","perfil_mikrotik_nombre":"1hora","tiempo_uso":null,"datos_bytes":null,"vigencia":null,"detalles":[],"imagen_url":null,"destacado":false,"orden":0}"#
        )
    }

    @Test func aValidityFromTheFirstLoginReadsAsRouterOSIntervalText() {
        let pass = Product(
            id: 4, companyID: 1, routerID: 7, name: "Semana", price: Money(cents: 9900, currency: "MXN"), profileName: "semana",
            validity: AccessValidity(seconds: 691_200, from: .firstLogin))
        #expect(
            Self.text(Presenter.product(pass)["vigencia"] ?? .null) == #"{"segundos":691200,"texto":"1w1d","desde":"primer_acceso"}"#)
    }

    @Test func thePublicConfigurationWithoutTheOptionalFields() {
        let grant = AccessGrant(keyID: "key_1", company: Company(id: 1, name: "Café"), router: Router(id: 7, companyID: 1, name: "Terraza"))
        #expect(
            Self.text(Presenter.configPublic(grant))
                == #"{"empresa":{"id":1,"nombre":"Café","conekta_public_key":null,"metodos_pago":["tarjeta"]},"router":{"id":7,"nombre":"Terraza","ubicacion":null}}"#
        )
    }

    /// The page offers only what the company accepts (CONTRACT §12): cards, then its pay-later
    /// methods in a fixed order whatever order they were turned on in.
    @Test func thePublicConfigurationNamesThePayLaterMethodsTurnedOn() {
        let router = Router(id: 7, companyID: 1, name: "Terraza")
        for (methods, expected) in [
            ([PaymentMethod.spei, .oxxo], #"["tarjeta","oxxo","spei"]"#), ([.spei], #"["tarjeta","spei"]"#),
            ([.oxxo], #"["tarjeta","oxxo"]"#), ([], #"["tarjeta"]"#),
        ] {
            let company = Company(id: 1, name: "Café", payLater: PayLaterSettings(methods: Set(methods)))
            let config = Presenter.configPublic(AccessGrant(keyID: "key_1", company: company, router: router))
            #expect(Self.text(config["empresa"]?["metodos_pago"] ?? .null) == expected)
        }
    }
}
