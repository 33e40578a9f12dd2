import ArgumentParser
import Domain
import Foundation
import JSON
import Persistence
import Wiring

struct CompanyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "company", abstract: "Companies (tenants).",
        subcommands: [Add.self, List.self, Settings.self, SetConekta.self, Webhook.self, Disable.self, Enable.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a company.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Display name.") var name: String
        @Option(help: "Contact e-mail.") var email: String?
        @Option(help: "Contact phone, sent to Conekta when a customer gives none.") var phone: String?

        func run() throws {
            let (store, _) = try global.store()
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw CommandFailure("company add: --name is empty") }
            let id = try attempt("company add") { () throws(StoreFailure) in
                try store.addCompany(name: name, contactEmail: email, contactPhone: phone)
            }
            global.emit(.object([("id", .integer(id)), ("name", .string(name))]), text: "company \(id) added")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List companies.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let (store, _) = try global.store()
            let companies = try attempt("company list") { () throws(StoreFailure) in try store.companies() }
            global.emit(
                .array(
                    companies.map { company in
                        .object([
                            ("id", .integer(company.id)), ("name", .string(company.name)), ("active", .bool(company.active)),
                            ("contact_email", .optional(company.contactEmail)), ("contact_phone", .optional(company.contactPhone)),
                            ("conekta_public_key", .optional(company.conektaPublicKey)),
                            ("pay_later", CompanyCommand.json(company.payLater)),
                        ])
                    }),
                text: companies.map { company in
                    "\(company.id)\t\(company.active ? "active" : "inactive")\t\(company.name)"
                        + (company.payLater.methods.isEmpty ? "" : "\tpay later: \(CompanyCommand.text(company.payLater))")
                }.joined(separator: "\n"))
        }
    }

    struct Settings: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Change a company's settings: what it offers to pay later (cash at OXXO, SPEI transfers).",
            discussion: """
                --pay-later oxxo,spei (or one of them) lets the company's customers order now and pay in cash at an \
                OXXO store or by SPEI transfer; their access is made when the money arrives (CONTRACT §12). Turn it \
                on only once the company's Conekta account takes cash and SPEI payments. --pay-later none turns it \
                off (orders already made keep their terms). --pay-later-expiry is how long a reference or CLABE can \
                be paid: 15m to 72h (default 4h), as 90m, 4h, 1h30m or seconds.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Company id.") var id: Int64
        @Option(name: .customLong("pay-later"), help: "oxxo, spei, oxxo,spei, or none.") var payLater: String?
        @Option(name: .customLong("pay-later-expiry"), help: "How long a reference stays payable: 15m to 72h.") var payLaterExpiry: String?

        func validate() throws {
            guard payLater != nil || payLaterExpiry != nil else {
                throw ValidationError("nothing to set: give --pay-later or --pay-later-expiry")
            }
            if let payLater { _ = try CompanyCommand.methods(payLater) }
            if let payLaterExpiry { _ = try CompanyCommand.expirySeconds(payLaterExpiry) }
        }

        func run() throws {
            let methods = try payLater.map(CompanyCommand.methods)
            let expiry = try payLaterExpiry.map(CompanyCommand.expirySeconds)
            let (store, _) = try global.store()
            let company = try attempt("company set") { () throws(StoreFailure) -> Company? in
                guard try store.setPayLater(companyID: id, methods: methods, expirySeconds: expiry) else { return nil }
                return try store.company(id: id)
            }
            guard let company else { throw CommandFailure("company set: no company \(id)") }
            global.emit(
                .object([("id", .integer(id)), ("pay_later", CompanyCommand.json(company.payLater))]),
                text: "company \(id): pay later \(CompanyCommand.text(company.payLater))")
        }
    }

    /// `oxxo,spei`, `spei`, `none`… as a set of pay-later methods (`cash` and `efectivo` name OXXO).
    static func methods(_ text: String) throws -> Set<PaymentMethod> {
        let words = text.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if words == ["none"] || words == ["off"] { return [] }
        var methods: Set<PaymentMethod> = []
        for word in words {
            switch word {
            case "oxxo", "cash", "efectivo": methods.insert(.oxxo)
            case "spei": methods.insert(.spei)
            default: throw ValidationError("--pay-later: \(word) is not oxxo, spei or none")
            }
        }
        guard !methods.isEmpty else { throw ValidationError("--pay-later: give oxxo, spei, oxxo,spei or none") }
        return methods
    }

    /// `90m`, `4h`, `1h30m`, `3600s` or `3600` (seconds), within 15 minutes and 72 hours.
    static func expirySeconds(_ text: String) throws -> Int {
        var total = 0
        var digits = ""
        for character in text.lowercased() {
            if character.isASCII, character.isNumber {
                digits.append(character)
                continue
            }
            let unit: Int
            switch character {
            case "d": unit = 86_400
            case "h": unit = 3_600
            case "m": unit = 60
            case "s": unit = 1
            default: throw ValidationError("--pay-later-expiry: \(text) is not a duration such as 90m or 4h")
            }
            guard let number = Int(digits), number <= 1_000_000 else {
                throw ValidationError("--pay-later-expiry: \(text) is not a duration such as 90m or 4h")
            }
            total += number * unit
            digits = ""
        }
        if !digits.isEmpty {
            guard let number = Int(digits), number <= 1_000_000 else {
                throw ValidationError("--pay-later-expiry: \(text) is not a duration such as 90m or 4h")
            }
            total += number
        }
        guard PayLaterSettings.allowedExpirySeconds.contains(total) else {
            throw ValidationError("--pay-later-expiry: \(text) is outside 15m to 72h (hours, not days)")
        }
        return total
    }

    /// `oxxo,spei (expiry 4h)`, or `off (expiry 4h)`.
    static func text(_ settings: PayLaterSettings) -> String {
        let methods = PaymentMethod.payLater.filter(settings.methods.contains).map(\.rawValue)
        return "\(methods.isEmpty ? "off" : methods.joined(separator: ",")) (expiry \(duration(settings.expirySeconds)))"
    }

    static func json(_ settings: PayLaterSettings) -> JSONValue {
        .object([
            ("methods", .array(PaymentMethod.payLater.filter(settings.methods.contains).map { .string($0.rawValue) })),
            ("expiry_seconds", .integer(settings.expirySeconds)),
        ])
    }

    /// `4h`, `90m`, `1h30m`, `45s`.
    static func duration(_ seconds: Int) -> String {
        let parts = [(seconds / 3_600, "h"), (seconds % 3_600 / 60, "m"), (seconds % 60, "s")].filter { $0.0 > 0 }
        return parts.isEmpty ? "0s" : parts.map { "\($0.0)\($0.1)" }.joined()
    }

    struct SetConekta: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-conekta", abstract: "Set a company's Conekta keys (the private key is stored encrypted).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Company id.") var company: Int64
        @Option(help: "Public key (used by Conekta.js in the portal).") var publicKey: String
        @Option(help: "Private key. Prefer --private-key-stdin to keep it out of shell history.") var privateKey: String?
        @Flag(help: "Read the private key from standard input.") var privateKeyStdin = false

        func run() throws {
            let secret = try readSecret(option: privateKey, fromStdin: privateKeyStdin, what: "private key")
            let (store, _) = try global.store()
            let updated = try attempt("company set-conekta") { () throws(StoreFailure) in
                try store.setConektaKeys(companyID: company, publicKey: publicKey, privateKey: secret)
            }
            guard updated else { throw CommandFailure("company set-conekta: no company \(company)") }
            global.emit(.object([("id", .integer(company)), ("conekta", .string("set"))]), text: "company \(company): Conekta keys set")
        }
    }

    struct Webhook: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set up a company's Conekta webhooks: its key and the URL Conekta posts events to.",
            discussion: """
                Creates a webhook key at Conekta (POST /webhook_keys, with the company's private key) and registers \
                <url>/api/v1/webhooks/conekta/<endpoint> (POST /webhooks), where <endpoint> is the company's own \
                unguessable id; stores both and prints the URL. With --public-key-file, stores a public key made in \
                Conekta's dashboard instead, asks nothing of Conekta, and prints the URL to register there by hand. \
                Safe to run again: the endpoint, the key and the registered webhook are kept.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Company id.") var company: Int64
        @Option(help: "The public base URL of the API, as Conekta reaches it (https://pay.example.com).") var url: String
        @Option(help: "A webhook public key (PEM) made in Conekta's dashboard, instead of creating one.") var publicKeyFile: String?

        func run() throws {
            var pasted: String?
            if let publicKeyFile {
                guard let data = FileManager.default.contents(atPath: publicKeyFile) else {
                    throw CommandFailure("company webhook: cannot read \(publicKeyFile)")
                }
                pasted = String(decoding: data, as: UTF8.self)
            }
            let (store, configuration) = try global.store()
            PaymentWiring.initializeLibraries()
            let result: WebhookSetup.Result
            do {
                result = try WebhookSetup.run(
                    companyID: company, baseURL: url, pastedPublicKeyPEM: pasted, store: store, configuration: configuration)
            } catch {
                throw CommandFailure("company webhook: \(error)")
            }
            var lines = ["company \(company): webhook URL \(result.url)"]
            if result.pasted {
                lines.append("public key stored; register the URL in Conekta's dashboard (Webhooks) for the key's account")
            } else {
                lines.append("webhook key \(result.webhookKeyID ?? "-") (\(result.keyCreated ? "created" : "kept"))")
                lines.append("webhook \(result.webhookID ?? "-") (\(result.webhookRegistered ? "registered" : "already registered"))")
            }
            global.emit(
                .object([
                    ("company_id", .integer(company)), ("url", .string(result.url)), ("endpoint", .string(result.endpoint)),
                    ("webhook_key_id", .optional(result.webhookKeyID)), ("webhook_id", .optional(result.webhookID)),
                    ("key_created", .bool(result.keyCreated)), ("webhook_registered", .bool(result.webhookRegistered)),
                    ("pasted", .bool(result.pasted)),
                ]),
                text: lines.joined(separator: "\n"))
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a company's sales (its keys answer 403).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Company id.") var id: Int64
        func run() throws { try CompanyCommand.setActive(global, id, false) }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-enable a company.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Company id.") var id: Int64
        func run() throws { try CompanyCommand.setActive(global, id, true) }
    }

    static func setActive(_ global: GlobalOptions, _ id: Int64, _ active: Bool) throws {
        let (store, _) = try global.store()
        let updated = try attempt("company") { () throws(StoreFailure) in try store.setCompanyActive(id: id, active: active) }
        guard updated else { throw CommandFailure("company: no company \(id)") }
        global.emit(.object([("id", .integer(id)), ("active", .bool(active))]), text: "company \(id) \(active ? "enabled" : "disabled")")
    }
}

/// A secret from an option or standard input (first line), never echoed.
func readSecret(option: String?, fromStdin: Bool, what: String) throws -> String {
    if fromStdin {
        guard let line = Swift.readLine(strippingNewline: true), !line.isEmpty else {
            throw CommandFailure("no \(what) on standard input")
        }
        return line
    }
    guard let option, !option.isEmpty else { throw CommandFailure("give the \(what) with its option or the -stdin flag") }
    return option
}
