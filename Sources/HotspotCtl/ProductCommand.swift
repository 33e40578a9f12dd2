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
        subcommands: [Add.self, List.self, Disable.self, Enable.self])

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
                limitUptime: uptime, limitBytesTotal: bytes, details: detail, imageURL: imageURL, featured: featured,
                displayOrder: order)
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
            global.emit(
                .array(
                    products.map { product in
                        .object([
                            ("id", .integer(product.id)), ("company_id", .integer(product.companyID)),
                            ("router_id", .integer(product.routerID)), ("name", .string(product.name)),
                            ("price", .money(cents: product.price.cents)), ("currency", .string(product.price.currency)),
                            ("profile", .string(product.profileName)), ("uptime", .optional(product.limitUptime)),
                            ("order", .integer(product.displayOrder)), ("active", .bool(product.active)),
                        ])
                    }),
                text: products.map {
                    "\($0.id)\trouter \($0.routerID)\t\($0.active ? "active" : "inactive")\t\(Money.decimalText(cents: $0.price.cents)) \($0.price.currency)\t\($0.profileName)\t\($0.name)"
                }.joined(separator: "\n"))
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
