import Domain
import JSON
import Persistence

/// A sales report's rows as CSV (RFC 4180), a text table or JSON.
struct SalesReport {
    let from: String
    let to: String
    let grouping: PostgresStore.SalesGrouping
    let companyID: Int64?
    let rows: [PostgresStore.SalesRow]

    /// The columns naming a group: the day, or the router's or product's id and name.
    var groupColumns: [String] {
        switch grouping {
        case .day: ["day"]
        case .router: ["router_id", "router"]
        case .product: ["product_id", "product"]
        }
    }

    static let countColumns = ["attempts", "delivered", "declined", "failed", "refunded", "in_progress"]

    var header: [String] { groupColumns + ["currency"] + Self.countColumns + ["gross_sales"] }

    /// A header row, then one record per group and currency; CRLF line ends.
    func csv() -> String {
        ([header] + rows.map(fields)).map { $0.map(Self.csvField).joined(separator: ",") + "\r\n" }.joined()
    }

    /// A field as RFC 4180 wants it: quoted when it holds a comma, a quote, CR or LF, with its
    /// quotes doubled.
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    /// Aligned columns, money as `150.00 MXN`, and a total line per currency.
    func table() -> String {
        guard !rows.isEmpty else { return "no payment attempts from \(from) to \(to) (UTC)" }
        let head = groupColumns + Self.countColumns + ["gross_sales"]
        func line(_ group: [String], _ row: PostgresStore.SalesRow) -> [String] {
            group + counts(row).map(String.init) + ["\(Money.decimalText(cents: row.grossCents)) \(row.currency)"]
        }
        var table = [head] + rows.map { line(groupFields($0), $0) }
        for total in totals() {
            table.append(line(["total"] + Array(repeating: "", count: groupColumns.count - 1), total))
        }
        var widths = Array(repeating: 0, count: head.count)
        for row in table { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        let numeric = Set(groupColumns.count..<head.count)
        return table.map { row in
            row.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return numeric.contains(index) ? pad + cell : cell + pad
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n")
    }

    func json() -> JSONValue {
        func object(_ group: [(String, JSONValue)], _ row: PostgresStore.SalesRow) -> JSONValue {
            .object(
                group + [("currency", .string(row.currency))]
                    + zip(Self.countColumns, counts(row)).map { ($0, JSONValue.integer(Int64($1))) }
                    + [("gross_sales", .money(cents: row.grossCents))])
        }
        return .object([
            ("from", .string(from)), ("to", .string(to)), ("by", .string(grouping.rawValue)),
            ("company_id", companyID.map { .integer($0) } ?? .null),
            (
                "rows",
                .array(
                    rows.map { row in
                        switch grouping {
                        case .day: object([("day", .string(row.key))], row)
                        case .router: object([("router_id", .integer(Int64(row.key) ?? 0)), ("router", .optional(row.name))], row)
                        case .product: object([("product_id", .integer(Int64(row.key) ?? 0)), ("product", .optional(row.name))], row)
                        }
                    })
            ),
            ("totals", .array(totals().map { object([], $0) })),
        ])
    }

    /// The rows added up per currency.
    func totals() -> [PostgresStore.SalesRow] {
        var totals: [String: PostgresStore.SalesRow] = [:]
        for row in rows {
            var total =
                totals[row.currency]
                ?? PostgresStore.SalesRow(
                    key: "total", name: nil, currency: row.currency, attempts: 0, delivered: 0, declined: 0, failed: 0,
                    refunded: 0, inProgress: 0, grossCents: 0)
            total.attempts += row.attempts
            total.delivered += row.delivered
            total.declined += row.declined
            total.failed += row.failed
            total.refunded += row.refunded
            total.inProgress += row.inProgress
            total.grossCents += row.grossCents
            totals[row.currency] = total
        }
        return totals.keys.sorted().map { totals[$0]! }
    }

    private func groupFields(_ row: PostgresStore.SalesRow) -> [String] {
        grouping == .day ? [row.key] : [row.key, row.name ?? ""]
    }

    private func fields(_ row: PostgresStore.SalesRow) -> [String] {
        groupFields(row) + [row.currency] + counts(row).map(String.init) + [Money.decimalText(cents: row.grossCents)]
    }

    private func counts(_ row: PostgresStore.SalesRow) -> [Int] {
        [row.attempts, row.delivered, row.declined, row.failed, row.refunded, row.inProgress]
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        String(self[..<(lastIndex { $0 != " " }.map(index(after:)) ?? startIndex)])
    }
}
