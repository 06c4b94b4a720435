import Foundation
import GatewayCore
import GatewayFiles
import GatewayStore

/// Writes `outbox/reports/<day>/report.{json,csv,html}`, `orders.csv` and `rejections.csv`, each atomically.
enum ReportWriter {
    /// `store` streams orders.csv: every order, one row at a time, from the store's columns.
    static func write(_ report: DailyReport, to dir: String, store: any GatewayStore, output: ReportOutput = ReportOutput()) throws
        -> String
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Times are ISO 8601 in report.json, like every time the schema names.
        encoder.dateEncodingStrategy = .iso8601
        let mode = output.fileMode
        let csv = CSVText(dialect: output.csv)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Readable where the files are: the folders get the read bits the files have, plus search.
        let dirMode = mode | ((mode & 0o444) >> 2)
        chmod(dir, dirMode)
        chmod((dir as NSString).deletingLastPathComponent, dirMode)
        try AtomicFile.write(try encoder.encode(report), to: dir + "/report.json", mode: mode)
        try AtomicFile.write(Data(csv.render(exceptionsRows(report)).utf8), to: dir + "/report.csv", mode: mode)
        // Every order, so written only when a fold changed some since this folder's copy: an idle
        // run costs the same at any number of orders.
        let version = String(try store.projectionsVersion())
        let marker = dir + "/.orders.csv.version"
        let stamp = "\(version) \(output.csv.delimiter) \(output.csv.bom) \(output.csv.decimalComma) \(mode)"
        if (try? String(contentsOfFile: marker, encoding: .utf8)) != stamp || !FileManager.default.fileExists(atPath: dir + "/orders.csv") {
            try writeOrders(to: dir + "/orders.csv", store: store, csv: csv, mode: mode)
            try AtomicFile.write(stamp, to: marker)
        }
        try AtomicFile.write(Data(csv.render(rejectionsRows(report)).utf8), to: dir + "/rejections.csv", mode: mode)
        let html = dir + "/report.html"
        try AtomicFile.write(Data(HTMLReport.render(report).utf8), to: html, mode: mode)
        return html
    }

    static func writeOrders(to path: String, store: any ProjectionStore, csv: CSVText = CSVText(), mode: mode_t = 0o644) throws {
        try AtomicFile.stream(to: path, mode: mode) { write in
            try write(Data(csv.render([ordersHeader]).utf8))
            var batch: [[String]] = []
            try store.forEachOrderRow { o in
                batch.append(ordersCSVRow(o, csv: csv))
                if batch.count == 1000 {
                    try write(Data(csv.render(batch, header: false).utf8))
                    batch.removeAll(keepingCapacity: true)
                }
            }
            if !batch.isEmpty { try write(Data(csv.render(batch, header: false).utf8)) }
        }
    }

    /// One row per exception, in the page's order: owner, then oldest first. `key` is what
    /// `caas-gateway exceptions dismiss` takes.
    static func exceptionsRows(_ r: DailyReport) -> [[String]] {
        var rows: [[String]] = [
            ["owner", "rule", "order", "subject", "age_days", "since", "new", "new_today", "detail", "what_to_do", "key"]
        ]
        for e in r.exceptions {
            rows.append([
                e.owner.rawValue, e.rule, e.order ?? "", e.subject, String(e.ageDays), e.since, e.isNew ? "yes" : "no",
                e.isNewToday ? "yes" : "no", e.detail, e.todo, e.key,
            ])
        }
        return rows
    }

    /// Every rejected record of the day's files, for whoever corrects them with the partner.
    /// `record_ref` is the record's business reference when it has one (a sale's reference,
    /// never personal data).
    static func rejectionsRows(_ r: DailyReport) -> [[String]] {
        var rows: [[String]] = [["file", "record", "line", "record_ref", "field", "reason"]]
        for x in r.rejections { rows.append([x.file, String(x.record), String(x.line), x.recordRef ?? "", x.field ?? "", x.reason]) }
        return rows
    }

    static let ordersHeader = [
        "order_ref", "dealer", "country", "state", "state_since", "currency", "total", "deposit", "received", "amount_due",
        "final_payment_due_at", "anomalies",
    ]

    static func ordersCSVRow(_ o: OrderListing, csv: CSVText = CSVText()) -> [String] {
        [
            o.ref, o.dealer ?? "", o.country ?? "", o.state, o.stateSince.map(Timestamp.iso) ?? "", o.currency ?? "",
            csv.amount(o.totalMinor), csv.amount(o.depositMinor), csv.amount(o.receivedMinor),
            csv.amount(o.amountDueMinor), o.finalPaymentDueAt.map(Timestamp.iso) ?? "", String(o.anomalies),
        ]
    }
}

/// CSV for spreadsheets in the configured dialect: RFC 4180 quoting, and a cell that a
/// spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) is prefixed with an
/// apostrophe. The BOM, when asked for, starts the header row (the file's first bytes).
struct CSVText {
    var dialect = ReportCSVDialect()

    func render(_ rows: [[String]], header: Bool = true) -> String {
        let sep = String(UnicodeScalar(dialect.delimiter))
        let body =
            rows.map { $0.map { Self.cell($0, delimiter: dialect.delimiter) }.joined(separator: sep) }.joined(separator: "\r\n") + "\r\n"
        return header && dialect.bom ? "\u{FEFF}" + body : body
    }

    /// An amount in minor units as the dialect writes decimals.
    func amount(_ minor: Int64) -> String {
        let text = Money.format(minor, nil)
        return dialect.decimalComma ? text.replacingOccurrences(of: ".", with: ",") : text
    }

    static func cell(_ raw: String, delimiter: UInt8 = 0x2C) -> String {
        // Bytes, not characters: every byte that matters here is ASCII.
        let bytes = raw.utf8
        var v = raw
        if let first = bytes.first, formulaStarts.contains(first), Double(v) == nil { v = "'" + v }
        if bytes.contains(where: { $0 == delimiter || needsQuotes.contains($0) }) {
            return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return v
    }

    /// =, +, -, @, tab, CR.
    static let formulaStarts: Set<UInt8> = [0x3D, 0x2B, 0x2D, 0x40, 0x09, 0x0D]
    /// comma, quote, LF, CR (and the dialect's delimiter).
    static let needsQuotes: Set<UInt8> = [0x2C, 0x22, 0x0A, 0x0D]
}
