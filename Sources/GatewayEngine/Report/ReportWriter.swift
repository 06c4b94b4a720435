import Foundation
import GatewayCore

/// Writes `outbox/reports/<day>/report.{json,csv,html}` and `orders.csv`, each atomically.
enum ReportWriter {
    static func write(_ report: DailyReport, to dir: String) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try AtomicFile.write(try encoder.encode(report), to: dir + "/report.json")
        try AtomicFile.write(exceptionsCSV(report), to: dir + "/report.csv")
        try AtomicFile.write(ordersCSV(report), to: dir + "/orders.csv")
        let html = dir + "/report.html"
        try AtomicFile.write(HTMLReport.render(report), to: html)
        return html
    }

    /// One row per thing a person must look at: quarantined and duplicate files, rejected
    /// records, order anomalies.
    static func exceptionsCSV(_ r: DailyReport) -> String {
        var rows: [[String]] = [["type", "subject", "line", "field", "reason"]]
        for f in r.fileList where f.outcome != "ingested" {
            rows.append([f.outcome == "duplicate" ? "duplicate_file" : "quarantined_file", f.name, "", "", f.detail ?? ""])
        }
        for x in r.rejections { rows.append(["rejected_record", x.file, String(x.line), x.field ?? "", x.reason]) }
        for a in r.anomalies { rows.append(["anomaly:\(a.code)", a.order, "", "", a.message]) }
        for p in r.paymentIssues { rows.append(["payment:\(p.issue)", p.order, "", "", p.detail]) }
        for f in r.failedActions {
            rows.append(["action_failed:\(f.action)", f.order, "", "", "\(f.error) (after \(f.attempts) attempt(s))"])
        }
        for g in r.registrations {
            switch g.phase {
            case "rejected":
                rows.append(["registration_rejected", g.order, "", g.field ?? "", "\(g.country): \(g.reason ?? "no reason given")"])
            case "manual":
                rows.append([
                    "registration_waiting_for_plate", g.order, "", "",
                    "\(g.submissionId) is in outbox/registrations/\(g.country.lowercased())/: upload it, then caas-gateway registrations record \(g.order) PLATE",
                ])
            case "sent":
                rows.append([
                    "registration_unsure", g.order, "", "", "\(g.submissionId): no answer yet; the body is asked before sending again",
                ])
            default: break
            }
        }
        for g in r.lostFiles {
            rows.append([
                "lost_file", "\(g.feed) \(g.scope)", "", "",
                "files numbered \(g.missing.map(String.init).joined(separator: ", ")) never arrived: ask the partner to send them again",
            ])
        }
        for t in r.transfers where t.outcome == .refused || t.outcome == .failed {
            rows.append([
                "\(t.direction)_\(t.outcome.rawValue)", t.name.map { "\(t.endpoint): \($0)" } ?? t.endpoint, "", "", t.detail ?? "",
            ])
        }
        return CSVText.render(rows)
    }

    static func ordersCSV(_ r: DailyReport) -> String {
        var rows: [[String]] = [
            [
                "order_ref", "dealer", "country", "state", "state_since", "currency", "total", "deposit", "received", "amount_due",
                "final_payment_due_at", "anomalies",
            ]
        ]
        for o in r.orders {
            rows.append([
                o.ref, o.dealer ?? "", o.country ?? "", o.state, o.stateSince ?? "", o.currency ?? "",
                Money.format(o.totalMinor, nil), Money.format(o.depositMinor, nil), Money.format(o.receivedMinor, nil),
                Money.format(o.amountDueMinor, nil), o.finalPaymentDueAt ?? "", String(o.anomalies),
            ])
        }
        return CSVText.render(rows)
    }
}

/// CSV for spreadsheets: RFC 4180 quoting, and a cell that a spreadsheet would run as a formula
/// (starting with =, +, -, @, tab or CR) is prefixed with an apostrophe.
enum CSVText {
    static func render(_ rows: [[String]]) -> String {
        rows.map { $0.map(cell).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    static func cell(_ raw: String) -> String {
        var v = raw
        if let first = v.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first), Double(v) == nil {
            v = "'" + v
        }
        if v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return v
    }
}
