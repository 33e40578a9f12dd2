import Domain

/// An `APIKeyVerifier` without keys or signatures: `good:<keyID>` verifies as key `keyID` of router 7
/// of company 1; `bad:expired` is expired; anything else has a bad signature. A key's fingerprint is
/// `fp:` and the key.
public struct StubKeyVerifier: APIKeyVerifier {
    public init() {}

    public func verify(_ presentedKey: String, now: Int64) -> Result<APIKeyClaims, AuthFailure> {
        if presentedKey.hasPrefix("good:") {
            return .success(APIKeyClaims(keyID: String(presentedKey.dropFirst(5)), routerID: 7, companyID: 1, issuedAt: 0))
        }
        return .failure(presentedKey == "bad:expired" ? .expired : .badSignature)
    }

    public func fingerprint(_ presentedKey: String) -> String { "fp:" + presentedKey }
}
