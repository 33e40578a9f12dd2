import ArgumentParser
import Domain
import Persistence

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Sales and outcomes per UTC day, router or product.",
        discussion: """
            Counts the payment attempts created from the start of --from to the end of --to (UTC days, both \
            included): delivered, declined, failed, refunded and still in progress, and the gross sales (the \
            delivered amounts), per currency. Days without attempts are left out.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "First UTC day, YYYY-MM-DD.") var from: String
    @Option(help: "Last UTC day, YYYY-MM-DD (included).") var to: String
    @Option(help: "Group by day, router or product.") var by: PostgresStore.SalesGrouping = .day
    @Flag(help: "Print CSV (RFC 4180: a header row, CRLF line ends).") var csv = false
    @Option(help: "Only this company's.") var company: Int64?

    func validate() throws {
        for (name, day) in [("--from", from), ("--to", to)] where !Self.isDay(day) {
            throw ValidationError("\(name) must be a date as YYYY-MM-DD, such as 2026-01-31")
        }
        guard from <= to else { throw ValidationError("--from must not be after --to") }
        guard !(csv && global.json) else { throw ValidationError("give --csv or --json, not both") }
    }

    func run() throws {
        let (store, _) = try global.store()
        let rows = try attempt("report") { () throws(StoreFailure) in
            try store.salesReport(from: from, to: to, by: by, companyID: company)
        }
        let report = SalesReport(from: from, to: to, grouping: by, companyID: company, rows: rows)
        if csv {
            print(report.csv(), terminator: "")
        } else {
            global.emit(report.json(), text: report.table())
        }
    }

    /// A real calendar day written `YYYY-MM-DD` (so `2026-02-30` is refused here, not by SQL).
    static func isDay(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), year >= 1970, (1...12).contains(month)
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day)
    }
}

extension PostgresStore.SalesGrouping: ExpressibleByArgument {}
