import ArgumentParser
import Configuration
import Domain
import Foundation
import JSON
import Persistence
import Wiring

struct ProductCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "product", abstract: "Products: a hotspot user profile sold on a router at a price.",
        subcommands: [Add.self, Change.self, List.self, Disable.self, Enable.self])

    /// When a validity starts, as the operator writes it.
    enum ValidityStart: String, ExpressibleByArgument, CaseIterable {
        case firstLogin = "first-login"
        case purchase

        var start: AccessValidity.Start { self == .purchase ? .purchase : .firstLogin }
    }

    /// `--validity` text as a validity: a RouterOS interval of at least a second, or `none`
    /// (nil). Throws a `ValidationError` naming the option otherwise.
    static func validity(_ text: String, from start: ValidityStart?) throws -> AccessValidity? {
        if text == "none" {
            guard start == nil else { throw ValidationError("--validity-from needs a --validity other than none") }
            return nil
        }
        guard RouterOSInterval.isValid(text), let seconds = RouterOSInterval.seconds(text), seconds > 0 else {
            throw ValidationError("--validity must be a RouterOS interval such as 12h, 1d or 1w (or none)")
        }
        return AccessValidity(seconds: seconds, from: (start ?? .firstLogin).start)
    }

    /// How a validity reads in the product list: `1d from first login`, `-` for none.
    static func validityText(_ validity: AccessValidity?) -> String {
        guard let validity else { return "-" }
        return "\(validity.text) from \(validity.from == .purchase ? "purchase" : "first login")"
    }

    static func json(_ product: Product) -> JSONValue {
        .object([
            ("id", .integer(product.id)), ("company_id", .integer(product.companyID)),
            ("router_id", .integer(product.routerID)), ("name", .string(product.name)),
            ("price", .money(cents: product.price.cents)), ("currency", .string(product.price.currency)),
            ("profile", .string(product.profileName)), ("uptime", .optional(product.limitUptime)),
            ("bytes", product.limitBytesTotal.map { .integer($0) } ?? .null),
            ("validity", product.validity.map { .string($0.text) } ?? .null),
            ("validity_seconds", product.validity.map { .integer($0.seconds) } ?? .null),
            ("validity_from", product.validity.map { .string($0.from == .purchase ? "purchase" : "first-login") } ?? .null),
            ("order", .integer(product.displayOrder)), ("active", .bool(product.active)),
        ])
    }

    /// One product per line: id, router, active, price, profile, limits, validity, name.
    static func line(_ product: Product) -> String {
        let limits = [product.limitUptime.map { "uptime \($0)" }, product.limitBytesTotal.map { "bytes \($0)" }]
            .compactMap { $0 }.joined(separator: " ")
        return [
            "\(product.id)", "router \(product.routerID)", product.active ? "active" : "inactive",
            "\(Money.decimalText(cents: product.price.cents)) \(product.price.currency)", product.profileName,
            limits.isEmpty ? "-" : limits, "validity \(validityText(product.validity))", product.name,
        ].joined(separator: "\t")
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a product.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Company id.") var company: Int64
        @Option(help: "Router id (of that company).") var router: Int64
        @Option(help: "Name shown to customers (3–200 characters).") var name: String
        @Option(help: "Price as decimal text, such as 15 or 15.50.") var price: String
        @Option(help: "ISO 4217 currency.") var currency = "MXN"
        @Option(help: "The exact RouterOS hotspot user profile name.") var profile: String
        @Option(help: "Uptime limit as a RouterOS interval (1h, 1d2h).") var uptime: String?
        @Option(help: "Data limit in bytes.") var bytes: Int64?
        @Option(
            help: """
                Validity (vigencia) as a RouterOS interval (12h, 1d, 1w): the access ends this long after it starts, \
                however little of it was used.
                """)
        var validity: String?
        @Option(help: "When the validity starts: first-login (the default) or purchase.") var validityFrom: ValidityStart?
        @Option(help: "Display order (lower first).") var order = 0
        @Option(help: "Description.") var description: String?
        @Option(parsing: .singleValue, help: "A detail bullet (repeat for several).") var detail: [String] = []
        @Option(help: "Image URL.") var imageURL: String?
        @Flag(help: "Highlight it in the catalogue.") var featured = false
        @Flag(
            help: """
                Add it without looking the profile up on the router (for a router that is offline now); \
                payments answer perfil_no_disponible until the router has that exact profile.
                """)
        var skipRouterCheck = false

        func validate() throws {
            guard (3...200).contains(name.count) else { throw ValidationError("--name must have 3 to 200 characters") }
            guard let cents = Money.parseCents(price), cents > 0 else {
                throw ValidationError("--price must be a positive decimal with at most two decimals, such as 15.50")
            }
            guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
                throw ValidationError("--currency must be three capital letters, such as MXN")
            }
            guard !profile.isEmpty else { throw ValidationError("--profile is empty") }
            if let uptime, !RouterOSInterval.isValid(uptime) {
                throw ValidationError("--uptime must be a RouterOS interval such as 30m, 1h or 1d2h")
            }
            if let bytes, bytes <= 0 { throw ValidationError("--bytes must be positive") }
            if let validity {
                _ = try ProductCommand.validity(validity, from: validityFrom)
            } else if validityFrom != nil {
                throw ValidationError("--validity-from needs --validity")
            }
        }

        func run() throws {
            let (store, configuration) = try global.store()
            if skipRouterCheck {
                printWarning(
                    "product add: profile \"\(profile)\" not checked on router \(router); "
                        + "payments answer perfil_no_disponible until the router has a profile of exactly that name")
            } else {
                try checkProfile(store: store, configuration: configuration)
            }
            let product = Product(
                id: 0, companyID: company, routerID: router, name: name, description: description,
                price: Money(cents: Money.parseCents(price)!, currency: currency), profileName: profile,
                limitUptime: uptime, limitBytesTotal: bytes,
                validity: try validity.flatMap { try ProductCommand.validity($0, from: validityFrom) }, details: detail,
                imageURL: imageURL, featured: featured, displayOrder: order)
            let id = try attempt("product add") { () throws(StoreFailure) in try store.addProduct(product) }
            global.emit(.object([("id", .integer(id))]), text: "product \(id) added")
        }

        /// CONTRACT §5 step 2 at provisioning: the router must have the profile by its exact name.
        private func checkProfile(store: PostgresStore, configuration: Configuration) throws {
            let endpoint = try attempt("product add") { () throws(StoreFailure) in try store.routerEndpoint(routerID: router) }
            guard let endpoint else { throw CommandFailure("product add: no router \(router)") }
            PaymentWiring.initializeLibraries()
            let client = PaymentWiring.routerClient(endpoint, configuration: configuration)
            let profiles: [HotspotProfile]
            do {
                if try client.findProfile(named: profile)?.name == profile { return }
                profiles = try client.listProfiles()
            } catch {
                throw CommandFailure(
                    "product add: could not read router \(router)'s hotspot profiles to check \"\(profile)\" (\(error)); "
                        + "--skip-router-check adds the product without the check")
            }
            if let refusal = profileRefusal(profile, routerID: router, among: profiles) {
                throw CommandFailure("product add: \(refusal)")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List products.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this company's.") var company: Int64?
        @Option(help: "Only this router's.") var router: Int64?

        func run() throws {
            let (store, _) = try global.store()
            let products = try attempt("product list") { () throws(StoreFailure) in try store.products(companyID: company, routerID: router)
            }
            global.emit(.array(products.map(ProductCommand.json)), text: products.map(ProductCommand.line).joined(separator: "\n"))
        }
    }

    struct Change: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Change what a product sells from now on (sales made before keep what they sold).",
            discussion: """
                Only the options given change. --uptime, --bytes and --validity take none to remove the limit. \
                --validity-from alone changes when an existing validity starts. To sell another profile, add a \
                product and disable this one.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Product id.") var id: Int64
        @Option(help: "Name shown to customers (3–200 characters).") var name: String?
        @Option(help: "Price as decimal text, such as 15 or 15.50 (same currency).") var price: String?
        @Option(help: "Uptime limit as a RouterOS interval (1h, 1d2h), or none.") var uptime: String?
        @Option(help: "Data limit in bytes, or none.") var bytes: String?
        @Option(help: "Validity (vigencia) as a RouterOS interval (12h, 1d, 1w), or none.") var validity: String?
        @Option(help: "When the validity starts: first-login or purchase.") var validityFrom: ValidityStart?
        @Option(help: "Display order (lower first).") var order: Int?

        func validate() throws {
            if let name, !(3...200).contains(name.count) { throw ValidationError("--name must have 3 to 200 characters") }
            if let price, (Money.parseCents(price) ?? 0) <= 0 {
                throw ValidationError("--price must be a positive decimal with at most two decimals, such as 15.50")
            }
            if let uptime, uptime != "none", !RouterOSInterval.isValid(uptime) {
                throw ValidationError("--uptime must be a RouterOS interval such as 30m, 1h or 1d2h (or none)")
            }
            if let bytes, bytes != "none", (Int64(bytes) ?? 0) <= 0 { throw ValidationError("--bytes must be positive (or none)") }
            if let validity { _ = try ProductCommand.validity(validity, from: validityFrom) }
            guard name != nil || price != nil || uptime != nil || bytes != nil || validity != nil || validityFrom != nil || order != nil
            else { throw ValidationError("give at least one of --name, --price, --uptime, --bytes, --validity, --validity-from, --order") }
        }

        func run() throws {
            let (store, _) = try global.store()
            var changes = PostgresStore.ProductChanges()
            changes.name = name
            changes.priceCents = price.flatMap(Money.parseCents)
            changes.limitUptime = uptime.map { $0 == "none" ? nil : $0 }
            changes.limitBytesTotal = bytes.map { $0 == "none" ? nil : Int64($0) }
            changes.displayOrder = order
            if let validity {
                changes.validity = .some(try ProductCommand.validity(validity, from: validityFrom))
            } else if let validityFrom {
                let current = try attempt("product set") { () throws(StoreFailure) in try store.product(id: id) }
                guard let current else { throw CommandFailure("product set: no product \(id)") }
                guard var existing = current.validity else {
                    throw CommandFailure("product set: product \(id) has no validity; give --validity too")
                }
                existing.from = validityFrom.start
                changes.validity = .some(existing)
            }
            let product = try attempt("product set") { () throws(StoreFailure) -> Product? in
                guard try store.updateProduct(id: id, changes) else { return nil }
                return try store.product(id: id)
            }
            guard let product else { throw CommandFailure("product set: no product \(id)") }
            global.emit(ProductCommand.json(product), text: "product \(id) updated\n" + ProductCommand.line(product))
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop selling a product.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Product id.") var id: Int64
        func run() throws { try ProductCommand.setActive(global, id, false) }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sell a product again.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Product id.") var id: Int64
        func run() throws { try ProductCommand.setActive(global, id, true) }
    }

    static func setActive(_ global: GlobalOptions, _ id: Int64, _ active: Bool) throws {
        let (store, _) = try global.store()
        let updated = try attempt("product") { () throws(StoreFailure) in try store.setProductActive(id: id, active: active) }
        guard updated else { throw CommandFailure("product: no product \(id)") }
        global.emit(.object([("id", .integer(id)), ("active", .bool(active))]), text: "product \(id) \(active ? "enabled" : "disabled")")
    }
}
