import Domain

/// Remembers each distinct key's verification for one thread: a key's signature and claims never
/// change, so HMAC and JSON run once per key, while expiry is still checked on every call.
final class MemoizingKeyVerifier: APIKeyVerifier {
    private let base: any APIKeyVerifier
    private var memo: [String: (result: Result<APIKeyClaims, AuthFailure>, fingerprint: String)] = [:]
    /// The entry of the key seen last: a router's portal sends the same key again and again, and
    /// comparing it is cheaper than hashing it for the memo (twice per request).
    private var last: (key: String, result: Result<APIKeyClaims, AuthFailure>, fingerprint: String)?

    init(_ base: any APIKeyVerifier) {
        self.base = base
    }

    func verify(_ presentedKey: String, now: Int64) -> Result<APIKeyClaims, AuthFailure> {
        let entry: (result: Result<APIKeyClaims, AuthFailure>, fingerprint: String)
        if let last, last.key == presentedKey {
            entry = (last.result, last.fingerprint)
        } else {
            if let known = memo[presentedKey] {
                entry = known
            } else {
                let result = base.verify(presentedKey, now: now)
                if case .failure(.expired) = result { return result }
                if memo.count >= 1_000 { memo.removeAll(keepingCapacity: true) }
                entry = (result, base.fingerprint(presentedKey))
                memo[presentedKey] = entry
            }
            last = (presentedKey, entry.result, entry.fingerprint)
        }
        if case .success(let claims) = entry.result, let expiresAt = claims.expiresAt, expiresAt <= now {
            return .failure(.expired)
        }
        return entry.result
    }

    func fingerprint(_ presentedKey: String) -> String {
        if let last, last.key == presentedKey { return last.fingerprint }
        return memo[presentedKey]?.fingerprint ?? base.fingerprint(presentedKey)
    }
}
