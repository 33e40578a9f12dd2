import ArgumentParser
import Configuration
import Domain
import Foundation
import JSON
import Persistence
import Wiring

/// `hotspotctl`: how a hosting provider sets the product up without writing SQL.
struct HotspotCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hotspotctl",
        abstract:
            "Operate hotspot-pay: schema, companies, routers, products, API keys, payments, reports, webhook events, sold users.",
        discussion: """
            Reads the same HOTSPOT_* configuration as the server (environment, or --env-file). \
            The global options --env-file and --json go before or after the subcommand.
            """,
        subcommands: [
            Migrate.self, CompanyCommand.self, RouterCommand.self, ProductCommand.self, KeyCommand.self, PaymentsCommand.self,
            ReconcileCommand.self, ReportCommand.self, EventsCommand.self, UsersCommand.self,
        ]
    )
}

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "A file of KEY=value lines (HOTSPOT_* variables); the environment wins over it.")
    var envFile: String?

    @Flag(name: .long, help: "Print machine-readable JSON instead of text.")
    var json = false

    func configuration(require: Set<Configuration.Requirement> = [.database, .secretsKey]) throws -> Configuration {
        do {
            return try Configuration.load(envFile: envFile, require: require)
        } catch {
            throw CommandFailure("configuration: \(error)")
        }
    }

    /// The arguments with the global options an operator wrote before the subcommand
    /// (`hotspotctl --env-file FILE payments list`) moved after it, where each subcommand reads
    /// them: ArgumentParser gives a parent's options to no subcommand.
    static func movedAfterSubcommand(_ arguments: [String]) -> [String] {
        var globals: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex, arguments[index].hasPrefix("-") {
            let argument = arguments[index]
            if argument == "--json" || argument.hasPrefix("--env-file=") {
                globals.append(argument)
            } else if argument == "--env-file", index + 1 < arguments.endIndex {
                globals += [argument, arguments[index + 1]]
                index += 1
            } else {
                // --help, --version, or a mistake: ArgumentParser answers those as they are.
                return arguments
            }
            index += 1
        }
        guard !globals.isEmpty, index < arguments.endIndex else { return arguments }
        var rest = Array(arguments[index...])
        // Options after `--` would be read as positional arguments.
        rest.insert(contentsOf: globals, at: rest.firstIndex(of: "--") ?? rest.endIndex)
        return rest
    }

    /// A store on a fresh connection, with the secrets key ready.
    func store(require: Set<Configuration.Requirement> = [.database, .secretsKey]) throws -> (PostgresStore, Configuration) {
        let configuration = try configuration(require: require)
        do {
            return (try PaymentWiring.store(configuration, applicationName: "hotspotctl"), configuration)
        } catch {
            throw CommandFailure("configuration: \(error)")
        }
    }

    /// Prints `value` as JSON (with --json) or `text` otherwise.
    func emit(_ value: JSONValue, text: @autoclosure () -> String) {
        if json {
            print(String(decoding: value.serialized(), as: UTF8.self))
        } else {
            print(text())
        }
    }
}

/// A one-line error for the operator; exits non-zero.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a store call, turning its failure into one clear line.
func attempt<T>(_ what: String, _ body: () throws(StoreFailure) -> T) throws -> T {
    do {
        return try body()
    } catch {
        switch error {
        case .unavailable: throw CommandFailure("\(what): the database is not reachable (check HOTSPOT_DATABASE_URL)")
        case .failed(let message): throw CommandFailure("\(what): \(message)")
        }
    }
}

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending schema migrations (safe with running servers).")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let configuration = try global.configuration(require: [.database])
        let connection = PostgresConnection(url: configuration.databaseURL, applicationName: "hotspotctl")
        do {
            let applied = try Migrations.migrate(connection)
            let version = try Migrations.currentVersion(connection)
            global.emit(
                .object([("applied", .array(applied.map { .integer($0) })), ("version", .integer(version))]),
                text: applied.isEmpty
                    ? "schema is up to date (version \(version))"
                    : "applied \(applied.map(String.init).joined(separator: ", ")); schema version \(version)")
        } catch {
            throw CommandFailure("migrate: \(error)")
        }
    }
}

/// A warning for the operator on standard error (standard output stays the command's result).
func printWarning(_ line: String) {
    FileHandle.standardError.write(Data("warning: \(line)\n".utf8))
}
