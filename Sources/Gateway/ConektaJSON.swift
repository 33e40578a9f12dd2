import Domain
import JSON
import ReplyJSON

extension JSONValue {
    /// A metadata value as text: Conekta allows strings, numbers and booleans; anything else is nil.
    var scalarText: String? {
        switch self {
        case .string(let text): return text
        case .bool(let value): return String(value)
        case .number:
            if let integer = int64Value { return String(integer) }
            return doubleValue.map { String($0) }
        default: return nil
        }
    }

    /// An object's members that have a `scalarText`; of a repeated key, only the first counts.
    var scalarTexts: [String: String]? {
        guard case .object(let members) = self else { return nil }
        var texts: [String: String] = [:]
        var keys: Set<String> = []
        for (key, value) in members where keys.insert(key).inserted {
            texts[key] = value.scalarText
        }
        return texts
    }
}
