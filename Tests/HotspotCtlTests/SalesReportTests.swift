import ArgumentParser
import Domain
import JSON
import Persistence
import Testing

@testable import HotspotCtl

@Suite struct SalesReportTests {
    func row(_ key: String, _ name: String?, currency: String = "MXN", gross: Int64 = 3000) -> PostgresStore.SalesRow {
        PostgresStore.SalesRow(
            key: key, name: name, currency: currency, attempts: 5, delivered: 2, declined: 1, failed: 1, refunded: 0, inProgress: 1,
            grossCents: gross)
    }

    @Test func csvFieldsAreQuotedOnlyWhenRFC4180AsksForIt() {
        #expect(SalesReport.csvField("Terraza") == "Terraza")
        #expect(SalesReport.csvField("Plan \"Pro\", 1 día") == "\"Plan \"\"Pro\"\", 1 día\"")
        #expect(SalesReport.csvField("two\nlines") == "\"two\nlines\"")
        #expect(SalesReport.csvField("cr\r\nlf") == "\"cr\r\nlf\"")
        #expect(SalesReport.csvField("\"") == "\"\"\"\"")
        #expect(SalesReport.csvField("") == "")
    }

    @Test func csvHasAHeaderRowAndCRLFRecords() {
        let report = SalesReport(
            from: "2026-01-01", to: "2026-01-31", grouping: .product, companyID: nil,
            rows: [row("7", "Plan \"Pro\", 1 día"), row("9", "1 Hora", currency: "USD", gross: 150)])
        #expect(
            report.csv()
                == "product_id,product,currency,attempts,delivered,declined,failed,refunded,in_progress,gross_sales\r\n"
                + "7,\"Plan \"\"Pro\"\", 1 día\",MXN,5,2,1,1,0,1,30.00\r\n"
                + "9,1 Hora,USD,5,2,1,1,0,1,1.50\r\n")
    }

    @Test func csvByDayHasOneGroupColumnAndEmptyReportsKeepTheHeader() {
        let report = SalesReport(from: "2026-01-01", to: "2026-01-01", grouping: .day, companyID: 3, rows: [])
        #expect(report.csv() == "day,currency,attempts,delivered,declined,failed,refunded,in_progress,gross_sales\r\n")
        #expect(report.table() == "no payment attempts from 2026-01-01 to 2026-01-01 (UTC)")
    }

    @Test func tableAlignsAndTotalsPerCurrency() {
        let report = SalesReport(
            from: "2026-01-01", to: "2026-01-02", grouping: .day, companyID: nil,
            rows: [row("2026-01-01", nil), row("2026-01-02", nil, gross: 123_456)])
        #expect(
            report.table() == """
                day         attempts  delivered  declined  failed  refunded  in_progress  gross_sales
                2026-01-01         5          2         1       1         0            1    30.00 MXN
                2026-01-02         5          2         1       1         0            1  1234.56 MXN
                total             10          4         2       2         0            2  1264.56 MXN
                """)
    }

    @Test func jsonNamesGroupsAndGivesMoneyTwoDecimals() {
        let report = SalesReport(
            from: "2026-01-01", to: "2026-01-31", grouping: .router, companyID: nil, rows: [row("3", "Terraza")])
        #expect(
            String(decoding: report.json().serialized(), as: UTF8.self)
                == #"{"from":"2026-01-01","to":"2026-01-31","by":"router","company_id":null,"rows":[{"router_id":3,"router":"Terraza","currency":"MXN","attempts":5,"delivered":2,"declined":1,"failed":1,"refunded":0,"in_progress":1,"gross_sales":30.00}],"totals":[{"currency":"MXN","attempts":5,"delivered":2,"declined":1,"failed":1,"refunded":0,"in_progress":1,"gross_sales":30.00}]}"#
        )
    }

    @Test(arguments: [
        ("2026-01-31", true), ("2024-02-29", true), ("2026-02-29", false), ("2026-13-01", false), ("2026-1-01", false),
        ("26-01-01", false), ("2026-01-32", false), ("2026-01-00", false), ("2026/01/01", false), ("", false),
        ("2026-01-01T00:00", false), ("1900-02-29", false), ("2000-02-29", true),
    ])
    func daysAreRealCalendarDays(text: String, valid: Bool) {
        #expect(ReportCommand.isDay(text) == valid)
    }

    @Test func optionsAreChecked() throws {
        #expect(throws: (any Error).self) { try ReportCommand.parse(["--from", "2026-02-01", "--to", "2026-01-01"]) }
        #expect(throws: (any Error).self) { try ReportCommand.parse(["--from", "2026-01-01", "--to", "2026-01-02", "--csv", "--json"]) }
        #expect(throws: (any Error).self) { try ReportCommand.parse(["--from", "2026-01-01", "--to", "2026-01-02", "--by", "week"]) }
        let report = try ReportCommand.parse(["--from", "2026-01-01", "--to", "2026-01-02", "--by", "router", "--company", "4"])
        #expect(report.by == .router && report.company == 4 && !report.csv)
    }
}
