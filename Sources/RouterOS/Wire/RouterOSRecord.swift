#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One RouterOS item as REST prints it: property name to text.
///
/// RouterOS sends every value as a JSON string (NOTES.md A2); numbers and booleans are still
/// accepted and kept as their text, and nested values are ignored.
struct RouterOSRecord: Decodable, Equatable {
    var fields: [String: String]

    init(_ fields: [String: String]) {
        self.fields = fields
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: PropertyName.self)
        var fields: [String: String] = [:]
        for key in container.allKeys {
            if let text = try? container.decode(String.self, forKey: key) {
                fields[key.stringValue] = text
            } else if let number = try? container.decode(Int64.self, forKey: key) {
                fields[key.stringValue] = String(number)
            } else if let flag = try? container.decode(Bool.self, forKey: key) {
                fields[key.stringValue] = String(flag)
            }
        }
        self.fields = fields
    }

    subscript(_ name: String) -> String? { fields[name] }

    /// RouterOS booleans: `true`/`false` in replies, `yes`/`no` also seen.
    func flag(_ name: String) -> Bool { fields[name] == "true" || fields[name] == "yes" }
}

/// A 2xx reply's JSON: a list of items (print, commands) or one item (read one, add, set).
enum RouterOSPayload: Decodable, Equatable {
    case list([RouterOSRecord])
    case item(RouterOSRecord)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let records = try? container.decode([RouterOSRecord].self) {
            self = .list(records)
        } else {
            self = .item(try container.decode(RouterOSRecord.self))
        }
    }
}

/// RouterOS's error body, `{"error":400,"message":"Bad Request","detail":"…"}`; keys in any order,
/// `detail` often absent (NOTES.md A2, A3).
struct RouterOSErrorBody: Decodable {
    var error: Int?
    var message: String?
    var detail: String?
}

private struct PropertyName: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
