import Testing

@testable import FCGIEntry

@Suite struct RouteTests {
    @Test(arguments: [
        ("GET", "/health", Route.health),
        ("GET", "/api/v1/config/public", .configPublic),
        ("GET", "/api/v1/catalogo_perfiles_venta", .catalogue),
        ("GET", "/api/v1/catalogo_perfiles_venta/", .catalogue),
        ("HEAD", "/api/v1/catalogo_perfiles_venta", .catalogue),
        ("GET", "/api/v1/catalogo_perfiles_venta/42", .catalogueItem(42)),
        ("POST", "/api/v1/payments/pagar-conekta", .payment),
        ("POST", "/api/v1/payments/canjear", .claim),
        ("POST", "/api/v1/payments/canjear/", .claim),
        ("GET", "/metrics", .metrics),
        (
            "POST", "/api/v1/webhooks/conekta/whe_0123456789abcdef0123456789abcdef",
            .conektaWebhook(endpoint: "whe_0123456789abcdef0123456789abcdef")
        ),
        ("POST", "/api/v1/webhooks/conekta/whe_x/", .conektaWebhook(endpoint: "whe_x")),
        ("POST", "/api/v1/webhooks/conekta/WHE_\u{84}", .conektaWebhook(endpoint: "WHE_\u{84}")),
    ])
    func matches(method: String, path: String, route: Route) {
        #expect(Route.match(method: method, path: path) == .success(route))
    }

    @Test(arguments: [
        "/", "/api", "/api/v1/catalogo_perfiles_venta/abc", "/api/v1/catalogo_perfiles_venta/0",
        "/api/v1/catalogo_perfiles_venta/1/2", "/api/v1/catalogo_perfiles_venta/-1", "/API/V1/config/public",
        "/api/v1/catalogo_perfiles_venta/99999999999999999999",
        "/api/v1/webhooks/conekta/", "/api/v1/webhooks/conekta/whe_x/y", "/api/v1/webhooks/conekta//",
    ])
    func unknownPaths(path: String) {
        #expect(Route.match(method: "GET", path: path) == .failure(.notFound))
    }

    @Test func aClaimIsPostedOnlyAndCountedAsClaim() {
        #expect(Route.match(method: "GET", path: "/api/v1/payments/canjear") == .failure(.methodNotAllowed(allowed: ["POST"])))
        #expect(Route.claim.name == "claim")
    }

    @Test func aWebhookIsPostedOnly() {
        #expect(Route.match(method: "GET", path: "/api/v1/webhooks/conekta/whe_x") == .failure(.methodNotAllowed(allowed: ["POST"])))
        #expect(Route.conektaWebhook(endpoint: "whe_secret").name == "conekta_webhook")
    }

    @Test func wrongMethods() {
        #expect(
            Route.match(method: "POST", path: "/api/v1/catalogo_perfiles_venta") == .failure(.methodNotAllowed(allowed: ["GET", "HEAD"])))
        #expect(Route.match(method: "GET", path: "/api/v1/payments/pagar-conekta") == .failure(.methodNotAllowed(allowed: ["POST"])))
        #expect(Route.match(method: "OPTIONS", path: "/health") == .failure(.methodNotAllowed(allowed: ["GET", "HEAD"])))
    }
}
