import Domain
import Testing

@Suite struct AuthorizationTests {
    let company = Company(id: 1, name: "Café")
    let router = Router(id: 7, companyID: 1, name: "Terraza")

    func record(revoked: Bool = false, expiresAt: Int64? = nil, companyActive: Bool = true, routerActive: Bool = true) -> APIKeyRecord {
        var company = self.company
        company.active = companyActive
        var router = self.router
        router.active = routerActive
        return APIKeyRecord(keyID: "key_1", fingerprint: "fp", revoked: revoked, expiresAt: expiresAt, company: company, router: router)
    }

    let claims = APIKeyClaims(keyID: "key_1", routerID: 7, companyID: 1, issuedAt: 100)

    @Test func presentedKeyFromEitherHeader() {
        #expect(Authorization.presentedKey(apiKeyHeader: "jwt_a", authorizationHeader: nil) == "jwt_a")
        #expect(Authorization.presentedKey(apiKeyHeader: nil, authorizationHeader: "Bearer jwt_b") == "jwt_b")
        #expect(Authorization.presentedKey(apiKeyHeader: nil, authorizationHeader: "bearer   jwt_b ") == "jwt_b")
        #expect(Authorization.presentedKey(apiKeyHeader: "jwt_a", authorizationHeader: "Bearer jwt_b") == "jwt_a")
        #expect(Authorization.presentedKey(apiKeyHeader: nil, authorizationHeader: "Basic abc") == nil)
        #expect(Authorization.presentedKey(apiKeyHeader: " ", authorizationHeader: nil) == nil)
    }

    @Test func grantsTheDatabaseIdentity() {
        let grant = Authorization.grant(claims: claims, fingerprint: "fp", record: record(), now: 200)
        #expect(grant == .success(AccessGrant(keyID: "key_1", company: company, router: router)))
    }

    @Test func refusals() {
        #expect(Authorization.grant(claims: claims, fingerprint: "fp", record: nil, now: 200) == .failure(.unknownKey))
        #expect(Authorization.grant(claims: claims, fingerprint: "other", record: record(), now: 200) == .failure(.unknownKey))
        #expect(Authorization.grant(claims: claims, fingerprint: "fp", record: record(revoked: true), now: 200) == .failure(.revoked))
        #expect(Authorization.grant(claims: claims, fingerprint: "fp", record: record(expiresAt: 150), now: 200) == .failure(.expired))
        #expect(
            Authorization.grant(claims: claims, fingerprint: "fp", record: record(companyActive: false), now: 200)
                == .failure(.companyInactive))
        #expect(
            Authorization.grant(claims: claims, fingerprint: "fp", record: record(routerActive: false), now: 200)
                == .failure(.routerInactive))
        var otherRouter = claims
        otherRouter.routerID = 8
        #expect(Authorization.grant(claims: otherRouter, fingerprint: "fp", record: record(), now: 200) == .failure(.unknownKey))
    }

    @Test func constantTimeEqual() {
        #expect(Authorization.constantTimeEqual("abc", "abc"))
        #expect(!Authorization.constantTimeEqual("abc", "abd"))
        #expect(!Authorization.constantTimeEqual("abc", "abcd"))
    }
}

@Suite struct PresentedKeyTests {
    @Test(
        arguments: [
            ("jwt_abc", nil, "jwt_abc"),
            (" \tjwt_abc \t", nil, "jwt_abc"),
            ("   ", "Bearer jwt_x", "jwt_x"),
            (nil, "  bearer   jwt_x  ", "jwt_x"),
            (nil, "Basic jwt_x", nil),
            (nil, "Bearer", nil),
            (nil, nil, nil),
            ("", "", nil),
        ] as [(String?, String?, String?)])
    func headersGiveTheKeyWithoutSurroundingSpaces(apiKey: String?, authorization: String?, expected: String?) {
        #expect(Authorization.presentedKey(apiKeyHeader: apiKey, authorizationHeader: authorization) == expected)
    }
}
