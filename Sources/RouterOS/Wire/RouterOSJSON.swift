import Domain
import JSON
import ReplyJSON

/// Reading and writing RouterOS's JSON. Replies are read as `ReplyJSON` reads them, once two of
/// RouterOS's habits are undone (see `parse`).
enum RouterOSJSON {
    /// The document in `bytes` once raw control characters inside strings are escaped and bytes
    /// that are not UTF-8 are replaced (U+FFFD); nil when it is not JSON.
    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        guard let utf8 = ReplyJSON.utf8(sanitised(bytes)) else { return nil }
        // RouterOS writes names and comments in the codepage they were typed in (WinBox on a
        // Windows machine: CP1252 for "ñ"), not UTF-8. Such a field reads with U+FFFD in place of
        // the letter rather than failing the whole list it is in.
        let text = String(decoding: utf8, as: UTF8.self)
        return try? JSONParser.parse(Array(text.utf8), maxDepth: ReplyJSON.maxDepth)
    }

    /// `bytes` with every byte below 0x20 inside a JSON string written as `\u00XX`.
    static func sanitised(_ bytes: [UInt8]) -> [UInt8] {
        // RouterOS copies raw control characters (an ESC in a DHCP host name, a newline in a
        // comment) into JSON strings, which strict parsers reject; terraform-provider-routeros
        // re-escapes them the same way (docs/sources.md A2;
        // https://github.com/terraform-routeros/terraform-provider-routeros/issues/165).
        guard bytes.contains(where: { $0 < 0x20 }) else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                } else if byte < 0x20 {
                    out.append(contentsOf: Array("\\u00".utf8))
                    out.append(hexDigit(byte >> 4))
                    out.append(hexDigit(byte & 0x0F))
                    continue
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            }
            out.append(byte)
        }
        return out
    }

    /// A JSON object of string values, in the given order: RouterOS wants every value as a string
    /// (docs/sources.md A2: bare numbers may be read as octal or hex).
    static func object(_ fields: [(name: String, value: String)]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (index, field) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendString(field.name, to: &out)
            out.append(UInt8(ascii: ":"))
            appendString(field.value, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// A JSON object of string lists, such as a print's `{".proplist":[".id","name"]}` (the list
    /// form of MikroTik's own examples, docs/sources.md A8).
    static func object(_ fields: [(name: String, values: [String])]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (index, field) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendString(field.name, to: &out)
            out.append(contentsOf: Array(":[".utf8))
            for (position, value) in field.values.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                appendString(value, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    private static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case ..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 0x0F))
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}

/// Percent-encoding for query values (RFC 3986 unreserved characters stay as they are).
enum QueryEncoding {
    static func encode(_ value: String, keeping extra: Set<UInt8> = []) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case _ where extra.contains(byte):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(Hex.digit(byte >> 4, uppercase: true)))
                out.unicodeScalars.append(Unicode.Scalar(Hex.digit(byte & 0x0F, uppercase: true)))
            }
        }
        return out
    }
}
