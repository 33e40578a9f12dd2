import Domain
import JSON
import ReplyJSON

// RouterOS's replies, read from Domain's `JSONValue` the way `JSONDecoder` read them before (what
// is now refused instead: RouterOSJSON.swift).

/// A value read from a reply: nil when the JSON does not have its shape.
protocol RouterOSDecodable {
    init?(json: JSONValue)
}

extension RouterOSDecodable {
    /// A reply body read as `Self`; nil when it is not JSON (raw control characters in strings
    /// allowed) or not of that shape.
    static func decode(from bytes: [UInt8]) -> Self? {
        RouterOSJSON.parse(bytes).flatMap(Self.init(json:))
    }
}

/// One RouterOS item as REST prints it: property name to text.
///
/// RouterOS sends every value as a JSON string (docs/sources.md A2); numbers that are integral in Int64's
/// range and booleans are still accepted and kept as their text, other values are ignored, and of
/// a repeated property only the first counts.
struct RouterOSRecord: RouterOSDecodable, Equatable {
    var fields: [String: String]

    init(_ fields: [String: String]) {
        self.fields = fields
    }

    init?(json: JSONValue) {
        guard case .object(let members) = json else { return nil }
        var fields: [String: String] = [:]
        var names: Set<String> = []
        for (name, value) in members where names.insert(name).inserted {
            switch value {
            case .string(let text): fields[name] = text
            case .number: fields[name] = value.int64Value.map { String($0) }
            case .bool(let flag): fields[name] = String(flag)
            default: break
            }
        }
        self.fields = fields
    }

    subscript(_ name: String) -> String? { fields[name] }

    /// RouterOS booleans: `true`/`false` in replies, `yes`/`no` also seen.
    func flag(_ name: String) -> Bool { fields[name] == "true" || fields[name] == "yes" }
}

/// A 2xx reply's JSON: a list of items (print, commands) or one item (read one, add, set).
enum RouterOSPayload: RouterOSDecodable, Equatable {
    case list([RouterOSRecord])
    case item(RouterOSRecord)

    /// An array of objects is a list; an array holding anything else is neither.
    init?(json: JSONValue) {
        switch json {
        case .array(let items):
            var records: [RouterOSRecord] = []
            records.reserveCapacity(items.count)
            for item in items {
                guard let record = RouterOSRecord(json: item) else { return nil }
                records.append(record)
            }
            self = .list(records)
        default:
            guard let record = RouterOSRecord(json: json) else { return nil }
            self = .item(record)
        }
    }
}

/// RouterOS's error body, `{"error":400,"message":"Bad Request","detail":"…"}`; keys in any order,
/// `detail` often absent (docs/sources.md A2, A3).
///
/// Strict, as `JSONDecoder` was: a member that is present, not null and not of its type (an
/// `error` that is a string or not an integer, a `message` that is a number) makes the body
/// unreadable, and so the reply not RouterOS's.
struct RouterOSErrorBody: RouterOSDecodable {
    var error: Int?
    var message: String?
    var detail: String?

    init?(json: JSONValue) {
        guard case .object = json else { return nil }
        do {
            error = try Self.member(json["error"]) { $0.int64Value.flatMap { Int(exactly: $0) } }
            message = try Self.member(json["message"], \.stringValue)
            detail = try Self.member(json["detail"], \.stringValue)
        } catch {
            return nil
        }
    }

    private struct Mistyped: Error {}

    /// nil for an absent or null member; `read`'s value, or `Mistyped` when it has none.
    private static func member<T>(_ value: JSONValue?, _ read: (JSONValue) -> T?) throws(Mistyped) -> T? {
        guard let value, value != .null else { return nil }
        guard let typed = read(value) else { throw Mistyped() }
        return typed
    }
}
