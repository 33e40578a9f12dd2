import Domain
import Testing

@testable import FCGIEntry

@Suite struct RenderedCataloguesTests {
    @Test func aCatalogueIsRenderedAgainOnlyWhenItsProductsChange() throws {
        let rendered = RenderedCatalogues()
        var products = [
            Product(id: 1, companyID: 1, routerID: 7, name: "1 Hora", price: Money(cents: 1500, currency: "MXN"), profileName: "1hora")
        ]
        let first = rendered.body(routerID: 7, products: products)
        #expect(String(decoding: first, as: UTF8.self).contains(#""nombre_venta":"1 Hora""#))
        #expect(rendered.body(routerID: 7, products: products) == first)
        products[0].name = "1 Hora \"promo\""
        let changed = String(decoding: rendered.body(routerID: 7, products: products), as: UTF8.self)
        #expect(changed.contains(#""nombre_venta":"1 Hora \"promo\"""#))
        #expect(rendered.body(routerID: 8, products: []) == Array("[]".utf8))
    }
}
