import Crypto
import Domain
import Foundation
import JSON

/// Portal API keys: `jwt_` + a JWT signed with HMAC-SHA256 under `HOTSPOT_KEY_SECRET`.
///
/// Only `alg: HS256` is accepted: no `none`, no algorithm switching (RFC 8725 §3.1). The
/// signature is checked in constant time before any claim is trusted.
public struct HS256KeyCodec: APIKeyVerifier {
    public static let prefix = "jwt_"
    private let key: SymmetricKey

    public init(secret: [UInt8]) {
        key = SymmetricKey(data: secret)
    }

    /// A new key for these claims.
    public func issue(_ claims: APIKeyClaims) -> String {
        let header = #"{"alg":"HS256","typ":"JWT"}"#
        var payload: [(String, JSONValue)] = [
            ("jti", .string(claims.keyID)),
            ("sub", .string(String(claims.routerID))),
            ("empresa", .string(String(claims.companyID))),
            ("iat", .integer(claims.issuedAt)),
        ]
        if let expiresAt = claims.expiresAt { payload.append(("exp", .integer(expiresAt))) }
        payload.append(("type", .string("router_api_key")))
        let signingInput = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(JSONValue.object(payload).serialized())
        let signature = HMAC<SHA256>.authenticationCode(for: Array(signingInput.utf8), using: key)
        return Self.prefix + signingInput + "." + Base64URL.encode(Array(signature))
    }

    public func verify(_ presentedKey: String, now: Int64) -> Result<APIKeyClaims, AuthFailure> {
        guard presentedKey.hasPrefix(Self.prefix), presentedKey.utf8.count <= 2048 else { return .failure(.malformed) }
        let token = presentedKey.dropFirst(Self.prefix.count)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerBytes = Base64URL.decode(parts[0]),
            let payloadBytes = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2]),
            let header = try? JSONParser.parse(headerBytes),
            let payload = try? JSONParser.parse(payloadBytes)
        else { return .failure(.malformed) }
        guard header["alg"]?.stringValue == "HS256" else { return .failure(.badSignature) }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signingInput, using: key) else {
            return .failure(.badSignature)
        }
        guard payload["type"]?.stringValue == "router_api_key",
            let keyID = payload["jti"]?.stringValue, !keyID.isEmpty,
            let routerID = Self.integerClaim(payload["sub"]),
            let companyID = Self.integerClaim(payload["empresa"]),
            let issuedAt = Self.integerClaim(payload["iat"])
        else { return .failure(.malformed) }
        var expiresAt: Int64?
        if let exp = payload["exp"], exp != .null {
            guard let value = Self.integerClaim(exp) else { return .failure(.malformed) }
            expiresAt = value
            if value <= now { return .failure(.expired) }
        }
        return .success(APIKeyClaims(keyID: keyID, routerID: routerID, companyID: companyID, issuedAt: issuedAt, expiresAt: expiresAt))
    }

    /// SHA-256 of the whole presented key, hex. Only this is stored.
    public func fingerprint(_ presentedKey: String) -> String {
        Hex.encode(SHA256.hash(data: Array(presentedKey.utf8)))
    }

    /// Claims are numbers or decimal strings (`sub` is a string in JWT practice).
    private static func integerClaim(_ value: JSONValue?) -> Int64? {
        switch value {
        case .number(let text)?: return Int64(text)
        case .string(let text)?: return Int64(text)
        default: return nil
        }
    }
}

/// base64url without padding (RFC 7515 §2).
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in text.utf8 {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            default: return nil
            }
            buffer = buffer << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        // A lone trailing character (6 bits) cannot encode a byte: not base64url.
        guard !text.isEmpty, bits < 6 else { return nil }
        return out
    }
}
