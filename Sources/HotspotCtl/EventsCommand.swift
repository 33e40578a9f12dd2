import ArgumentParser
import Domain
import Foundation
import JSON
import Persistence

struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Conekta webhook events: received, applied, and what each did.",
        subcommands: [List.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List webhook events (newest first): received, deliveries, type, order, attempt, outcome.",
            discussion: "A pending event (not applied yet) is applied by the server's reconciler within seconds.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this company's.") var company: Int64?
        @Flag(help: "Only events not applied yet.") var pending = false
        @Option(help: "How many.") var limit = 50

        func run() throws {
            let (store, _) = try global.store()
            let events = try attempt("events list") { () throws(StoreFailure) in
                try store.webhookEvents(companyID: company, pendingOnly: pending, limit: limit)
            }
            global.emit(.array(events.map(EventsCommand.json)), text: events.map(EventsCommand.line).joined(separator: "\n"))
        }
    }

    static func json(_ event: WebhookEventRecord) -> JSONValue {
        .object([
            ("event_id", .string(event.eventID)), ("company_id", .integer(event.companyID)), ("type", .string(event.type)),
            ("order_id", .optional(event.orderID)), ("attempt_id", .optional(event.attemptID)),
            ("received_at", .string(timestamp(event.receivedAt))), ("deliveries", .integer(event.deliveries)),
            ("applied_at", .optional(event.appliedAt.map(timestamp))), ("outcome", .optional(event.outcome)),
        ])
    }

    /// received, event, type, order, attempt, deliveries, outcome (or `pending`).
    static func line(_ event: WebhookEventRecord) -> String {
        [
            timestamp(event.receivedAt), event.eventID, event.type, event.orderID ?? "-", event.attemptID ?? "-",
            "\(event.deliveries)x", event.outcome ?? "pending",
        ].joined(separator: "\t")
    }

    /// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`, as the other commands print times.
    static func timestamp(_ seconds: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(.iso8601)
    }
}
