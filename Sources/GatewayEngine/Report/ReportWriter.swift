import Foundation
import GatewayCore
import GatewayStore

/// Writes `outbox/reports/<day>/report.{json,csv,html}`, `orders.csv` and `rejections.csv`, each atomically.
enum ReportWriter {
    /// `store` streams orders.csv: every order, one row at a time, from the store's columns.
    static func write(_ report: DailyReport, to dir: String, store: any GatewayStore) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try AtomicFile.write(try encoder.encode(report), to: dir + "/report.json")
        try AtomicFile.write(exceptionsCSV(report), to: dir + "/report.csv")
        // Every order, so written only when a fold changed some since this folder's copy: an idle
        // run costs the same at any number of orders.
        let version = String(try store.projectionsVersion())
        let marker = dir + "/.orders.csv.version"
        if (try? String(contentsOfFile: marker, encoding: .utf8)) != version || !FileManager.default.fileExists(atPath: dir + "/orders.csv")
        {
            try writeOrders(to: dir + "/orders.csv", store: store)
            try AtomicFile.write(version, to: marker)
        }
        try AtomicFile.write(rejectionsCSV(report), to: dir + "/rejections.csv")
        let html = dir + "/report.html"
        try AtomicFile.write(HTMLReport.render(report), to: html)
        return html
    }

    static func writeOrders(to path: String, store: any GatewayStore) throws {
        try AtomicFile.stream(to: path) { write in
            try write(Data(CSVText.render([ordersHeader]).utf8))
            var batch: [[String]] = []
            try store.forEachOrderRow { o in
                batch.append(ordersCSVRow(o))
                if batch.count == 1000 {
                    try write(Data(CSVText.render(batch).utf8))
                    batch.removeAll(keepingCapacity: true)
                }
            }
            if !batch.isEmpty { try write(Data(CSVText.render(batch).utf8)) }
        }
    }

    /// One row per exception, in the page's order: owner, then oldest first.
    static func exceptionsCSV(_ r: DailyReport) -> String {
        var rows: [[String]] = [["owner", "rule", "order", "subject", "age_days", "since", "new", "new_today", "detail", "what_to_do"]]
        for e in r.exceptions {
            rows.append([
                e.owner.rawValue, e.rule, e.order ?? "", e.subject, String(e.ageDays), e.since, e.isNew ? "yes" : "no",
                e.isNewToday ? "yes" : "no", e.detail, e.todo,
            ])
        }
        return CSVText.render(rows)
    }

    /// Every rejected record of the day's files, for whoever corrects them with the partner.
    static func rejectionsCSV(_ r: DailyReport) -> String {
        var rows: [[String]] = [["file", "record", "line", "field", "reason"]]
        for x in r.rejections { rows.append([x.file, String(x.record), String(x.line), x.field ?? "", x.reason]) }
        return CSVText.render(rows)
    }

    static let ordersHeader = [
        "order_ref", "dealer", "country", "state", "state_since", "currency", "total", "deposit", "received", "amount_due",
        "final_payment_due_at", "anomalies",
    ]

    static func ordersCSVRow(_ o: OrderListing) -> [String] {
        [
            o.ref, o.dealer ?? "", o.country ?? "", o.state, o.stateSince.map(Timestamp.iso) ?? "", o.currency ?? "",
            Money.format(o.totalMinor, nil), Money.format(o.depositMinor, nil), Money.format(o.receivedMinor, nil),
            Money.format(o.amountDueMinor, nil), o.finalPaymentDueAt.map(Timestamp.iso) ?? "", String(o.anomalies),
        ]
    }
}

/// CSV for spreadsheets: RFC 4180 quoting, and a cell that a spreadsheet would run as a formula
/// (starting with =, +, -, @, tab or CR) is prefixed with an apostrophe.
enum CSVText {
    static func render(_ rows: [[String]]) -> String {
        rows.map { $0.map(cell).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    static func cell(_ raw: String) -> String {
        // Bytes, not characters: every byte that matters here is ASCII.
        let bytes = raw.utf8
        var v = raw
        if let first = bytes.first, formulaStarts.contains(first), Double(v) == nil { v = "'" + v }
        if bytes.contains(where: { needsQuotes.contains($0) }) {
            return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return v
    }

    /// =, +, -, @, tab, CR.
    static let formulaStarts: Set<UInt8> = [0x3D, 0x2B, 0x2D, 0x40, 0x09, 0x0D]
    /// comma, quote, LF, CR.
    static let needsQuotes: Set<UInt8> = [0x2C, 0x22, 0x0A, 0x0D]
}
