import Domain
import JSON

/// Reads a payment request from a JSON or form body, accepting each field under its canonical
/// (English) name or its Spanish alias. Unknown fields are ignored.
public enum PaymentRequestDecoder {
    /// (canonical, alias)
    static let names: [(String, String)] = [
        ("product_id", "producto_id"), ("card_token", "token_tarjeta"), ("customer_name", "nombre_cliente"),
        ("customer_email", "email_cliente"), ("customer_phone", "telefono_cliente"), ("user_type", "tipo_usuario"),
        ("mac_address", "mac_cliente"), ("ip_address", "ip_cliente"), ("device_info", "info_dispositivo"),
        ("auto_connect", "conexion_automatica"), ("payment_method", "metodo_pago"),
    ]

    /// `metodo_pago` values, Spanish and English (CONTRACT §12): card now, or cash at OXXO or a
    /// SPEI transfer later.
    static let methods: [String: PaymentMethod] = [
        "tarjeta": .card, "card": .card, "oxxo": .oxxo, "cash": .oxxo, "efectivo": .oxxo, "spei": .spei,
    ]

    public enum Failure: Error, Equatable, Sendable {
        case unsupportedMediaType
        case invalid([FieldProblem])
    }

    public static func decode(body: [UInt8], contentType: String?) throws(Failure) -> PaymentRequest {
        try validate(fields(body: body, contentType: contentType, names: names))
    }

    /// A JSON or form body's fields, a field of `names` sent twice refused.
    static func fields(body: [UInt8], contentType: String?, names: [(String, String)]) throws(Failure) -> [String: Field] {
        let mediaType = contentType.map { String($0.split(separator: ";").first ?? "").trimmingSpaces().lowercased() } ?? ""
        switch mediaType {
        case "application/json", "":
            return try jsonFields(body, names: names)
        case "application/x-www-form-urlencoded":
            return try formFields(body, names: names)
        default:
            throw .unsupportedMediaType
        }
    }

    /// A field's value as sent: JSON keeps its type; forms are always text.
    enum Field: Equatable {
        case text(String)
        case number(String)
        case bool(Bool)
        case null
        case other
    }

    static func jsonFields(_ body: [UInt8], names: [(String, String)] = names) throws(Failure) -> [String: Field] {
        let document: JSONValue
        do {
            document = try JSONParser.parse(body)
        } catch {
            throw .invalid([FieldProblem(field: "body", message: "El cuerpo no es JSON válido.")])
        }
        guard case .object(let members) = document else {
            throw .invalid([FieldProblem(field: "body", message: "El cuerpo debe ser un objeto JSON.")])
        }
        var fields: [String: Field] = [:]
        for (key, value) in members {
            if fields[key] != nil, let problem = repeated(key, names: names) { throw .invalid([problem]) }
            switch value {
            case .string(let text): fields[key] = .text(text)
            case .number(let text): fields[key] = .number(text)
            case .bool(let flag): fields[key] = .bool(flag)
            case .null: fields[key] = .null
            case .array, .object: fields[key] = .other
            }
        }
        return fields
    }

    static func formFields(_ body: [UInt8], names: [(String, String)] = names) throws(Failure) -> [String: Field] {
        var fields: [String: Field] = [:]
        for pair in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = percentDecode(parts[0]), let value = percentDecode(parts.count > 1 ? parts[1] : []) else {
                throw .invalid([FieldProblem(field: "body", message: "El formulario no está codificado correctamente.")])
            }
            if fields[key] != nil, let problem = repeated(key, names: names) { throw .invalid([problem]) }
            fields[key] = .text(value)
        }
        return fields
    }

    /// A field of the payment sent twice is refused (named by its Spanish name), not read
    /// last-wins: a proxy or firewall that reads the first value would see another request than
    /// the one charged. Unknown names are ignored, repeated or not.
    static func repeated(_ name: String, names: [(String, String)] = names) -> FieldProblem? {
        guard let alias = names.first(where: { $0.0 == name || $0.1 == name })?.1 else { return nil }
        return FieldProblem(field: alias, message: "Campo repetido: envíelo una sola vez.")
    }

    /// Characters no field may carry: C0 and C1 controls, and the invisible ones that change how
    /// text around them is shown (bidi overrides such as U+202E, zero-width characters, line
    /// and paragraph separators), which would reach Conekta and the operator's listings.
    public static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F...0x9F, 0x2028, 0x2029: return true
        // Printable ASCII has no format character: spared the Unicode table look-up, which ran for
        // every character of every text field.
        case 0x20..<0x7F: return false
        default: return scalar.properties.generalCategory == .format
        }
    }

    /// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; UTF-8 only.
    static func percentDecode(_ bytes: ArraySlice<UInt8>) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex, let high = Hex.value(bytes[index + 1]), let low = Hex.value(bytes[index + 2])
                else { return nil }
                out.append(high << 4 | low)
                index += 2
            } else {
                out.append(byte)
            }
            index += 1
        }
        return String(validating: out, as: UTF8.self)
    }

    /// Each field of `names` under its canonical name (its alias's value when only that was
    /// sent; JSON null counts as absent), and a problem for each field sent under both names with
    /// different values.
    static func merged(_ fields: [String: Field], names: [(String, String)], problems: inout [FieldProblem]) -> [String: Field] {
        var values: [String: Field] = [:]
        for (canonical, alias) in names {
            let first = fields[canonical]
            let second = fields[alias]
            if let first, let second, first != second {
                problems.append(FieldProblem(field: alias, message: "'\(canonical)' y '\(alias)' tienen valores distintos."))
            }
            if let value = first ?? second, value != .null { values[canonical] = value }
        }
        return values
    }

    /// A text field, trimmed, without forbidden characters and within `max` characters; nil
    /// (with a problem named `label` when required or malformed) otherwise.
    static func text(
        _ values: [String: Field], _ name: String, _ label: String, required: Bool, max: Int, problems: inout [FieldProblem]
    ) -> String? {
        switch values[name] {
        case nil:
            if required { problems.append(FieldProblem(field: label, message: "Campo requerido.")) }
            return nil
        case .text(let value)?:
            let trimmed = value.trimmingSpaces()
            if trimmed.isEmpty {
                if required { problems.append(FieldProblem(field: label, message: "Campo requerido.")) }
                return nil
            }
            guard trimmed.count <= max, !trimmed.unicodeScalars.contains(where: isForbidden) else {
                problems.append(FieldProblem(field: label, message: "Valor demasiado largo o con caracteres no permitidos."))
                return nil
            }
            return trimmed
        default:
            problems.append(FieldProblem(field: label, message: "Debe ser texto."))
            return nil
        }
    }

    /// The device fields a payment and a claim share: MAC, IPv4 address, auto-connect.
    static func device(_ values: [String: Field], problems: inout [FieldProblem]) -> (MACAddress?, IPv4Address?, Bool) {
        var mac: MACAddress?
        if let macText = text(values, "mac_address", "mac_cliente", required: false, max: 32, problems: &problems) {
            mac = MACAddress(macText)
            if mac == nil { problems.append(FieldProblem(field: "mac_cliente", message: "Dirección MAC inválida (AA:BB:CC:DD:EE:FF).")) }
        }
        var ip: IPv4Address?
        if let ipText = text(values, "ip_address", "ip_cliente", required: false, max: 32, problems: &problems) {
            ip = IPv4Address(ipText)
            if ip == nil { problems.append(FieldProblem(field: "ip_cliente", message: "Dirección IPv4 inválida.")) }
        }
        var autoConnect = false
        switch values["auto_connect"] {
        case nil: break
        case .bool(let flag)?: autoConnect = flag
        case .text(let value)?, .number(let value)?:
            switch value.trimmingSpaces().lowercased() {
            case "true", "1", "on", "yes": autoConnect = true
            case "false", "0", "off", "no", "": autoConnect = false
            default: problems.append(FieldProblem(field: "conexion_automatica", message: "Debe ser verdadero o falso."))
            }
        default:
            problems.append(FieldProblem(field: "conexion_automatica", message: "Debe ser verdadero o falso."))
        }
        return (mac, ip, autoConnect)
    }

    static func validate(_ fields: [String: Field]) throws(Failure) -> PaymentRequest {
        var problems: [FieldProblem] = []
        let values = merged(fields, names: names, problems: &problems)

        func text(_ name: String, _ label: String, required: Bool, max: Int) -> String? {
            Self.text(values, name, label, required: required, max: max, problems: &problems)
        }

        var method = PaymentMethod.card
        if let methodText = text("payment_method", "metodo_pago", required: false, max: 32) {
            if let known = methods[methodText.lowercased()] {
                method = known
            } else {
                problems.append(FieldProblem(field: "metodo_pago", message: "Método de pago desconocido: tarjeta, oxxo o spei."))
            }
        }

        var productID: Int64 = 0
        switch values["product_id"] {
        case nil:
            problems.append(FieldProblem(field: "producto_id", message: "Campo requerido."))
        case .number(let digits)?, .text(let digits)?:
            if let id = Int64(digits.trimmingSpaces()), id > 0 {
                productID = id
            } else {
                problems.append(FieldProblem(field: "producto_id", message: "Debe ser un entero positivo."))
            }
        default:
            problems.append(FieldProblem(field: "producto_id", message: "Debe ser un entero positivo."))
        }

        // A pay-later request carries no card: a token with it is a mistake that must not pass
        // unnoticed (the customer would believe a card was charged).
        var token = text("card_token", "token_tarjeta", required: !method.isPayLater, max: 128)
        if method.isPayLater, token != nil {
            problems.append(
                FieldProblem(field: "token_tarjeta", message: "No envíe un token de tarjeta con pago en efectivo o por transferencia."))
            token = nil
        } else if let checked = token, !checked.utf8.allSatisfy({ isTokenByte($0) }) {
            problems.append(FieldProblem(field: "token_tarjeta", message: "Token de tarjeta inválido."))
        }
        let name = text("customer_name", "nombre_cliente", required: true, max: 120)
        let email = text("customer_email", "email_cliente", required: true, max: 200)
        if let email, !isEmail(email) {
            problems.append(FieldProblem(field: "email_cliente", message: "Correo electrónico inválido."))
        }
        let phone = text("customer_phone", "telefono_cliente", required: false, max: 32)
        if let phone, !isPhone(phone) {
            problems.append(FieldProblem(field: "telefono_cliente", message: "Teléfono inválido."))
        }
        // Any value other than the two known types (or none) becomes usuario_contrasena (docs/seed-api.md).
        let userTypeText = text("user_type", "tipo_usuario", required: false, max: 64)
        let userType = userTypeText.flatMap(PaymentRequest.UserType.init(rawValue:)) ?? .userAndPassword
        let (mac, ip, autoConnect) = Self.device(values, problems: &problems)
        let device = text("device_info", "info_dispositivo", required: false, max: 500)

        guard problems.isEmpty, token != nil || method.isPayLater, let name, let email else { throw .invalid(problems) }
        return PaymentRequest(
            productID: productID, cardToken: token ?? "", customerName: name, customerEmail: email, customerPhone: phone,
            userType: userType, mac: mac, ip: ip, deviceInfo: device, autoConnect: autoConnect, method: method)
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    /// A pragmatic check: one `@`, a non-empty local part, a dotted domain, no spaces.
    static func isEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !text.contains(" "),
            !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), !parts[1].contains("..")
        else { return false }
        return true
    }

    /// Digits with optional `+`, spaces, dashes, dots and parentheses; 7 to 15 digits.
    static func isPhone(_ text: String) -> Bool {
        let digits = text.filter { $0.isASCII && $0.isNumber }.count
        return (7...15).contains(digits) && text.allSatisfy { ($0.isASCII && $0.isNumber) || "+ -().".contains($0) }
    }
}
