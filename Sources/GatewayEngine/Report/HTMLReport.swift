import Foundation
import GatewayCore

/// The page operations read in the morning: self-contained (inline CSS and SVG, no scripts or
/// external assets), so it opens offline and from a mail attachment.
enum HTMLReport {
    static func esc(_ s: String) -> String {
        var o = ""
        o.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&#39;"
            default: o.append(c)
            }
        }
        return o
    }

    static func render(_ r: DailyReport) -> String {
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>caas-gateway report \(esc(r.day))</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
            h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ccc}
            table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
            th{background:#f3f3f3} .num{text-align:right} .name{white-space:nowrap} .bad{color:#a00} .ok{color:#070} .muted{color:#777}
            .tiles{display:flex;gap:1em;flex-wrap:wrap} .tile{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:8em}
            .tile b{display:block;font-size:1.6em}
            </style></head><body>
            <h1>caas-gateway: report for \(esc(r.day))</h1>
            <p class="muted">As of \(esc(r.asOf)); \(r.runs.count) run(s) this day. Schema \(esc(r.schema)).</p>
            <div class="tiles">
            """
        func tile(_ label: String, _ n: Int, bad: Bool = false) {
            h += "<div class=\"tile\"><b class=\"\(bad && n > 0 ? "bad" : "")\">\(n)</b>\(esc(label))</div>"
        }
        tile("files seen", r.files.seen)
        tile("ingested", r.files.ingested)
        tile("duplicates", r.files.duplicate)
        tile("quarantined", r.files.quarantined + r.files.unrecognised, bad: true)
        tile("records accepted", r.recordsAccepted)
        tile("records rejected", r.recordsRejected, bad: true)
        tile("orders", r.orders.count)
        tile("anomalies", r.anomalies.count, bad: true)
        h += "</div>"

        h += "<h2>Orders by state</h2>" + stateChart(r)

        h += "<h2>Files</h2>"
        h +=
            r.fileList.isEmpty
            ? "<p class=\"muted\">No files this day.</p>"
            : table(
                [
                    Cell("file"), Cell("feed"), Cell("outcome"), Cell("records", "num"), Cell("accepted", "num"), Cell("rejected", "num"),
                    Cell("detail"),
                ],
                r.fileList.map { f in
                    Row([
                        Cell(f.name, "name"), Cell(f.feed ?? "-", "name"), Cell(f.outcome, f.outcome == "ingested" ? "ok" : "bad"),
                        Cell(f.records.map(String.init) ?? "", "num"), Cell(f.accepted.map(String.init) ?? "", "num"),
                        Cell(f.rejected.map(String.init) ?? "", "num"), Cell(f.detail ?? ""),
                    ])
                })

        if !r.transfers.isEmpty {
            h += "<h2>Transfers</h2>"
            h += table(
                [
                    Cell("when"), Cell("direction"), Cell("source or destination"), Cell("file"), Cell("outcome"), Cell("bytes", "num"),
                    Cell("detail"),
                ],
                r.transfers.map { t in
                    let cls = t.outcome == .failed || t.outcome == .refused ? "bad" : t.outcome == .waiting ? "muted" : "ok"
                    return Row([
                        Cell(Timestamp.iso(t.at)), Cell(t.direction), Cell(t.endpoint, "name"), Cell(t.name ?? "", "name"),
                        Cell(t.outcome.rawValue, cls), Cell(String(t.bytes), "num"), Cell(t.detail ?? ""),
                    ])
                })
        }

        if !r.paymentIssues.isEmpty {
            h += "<h2>Payments to look at</h2>"
            h += table(
                [Cell("order"), Cell("what"), Cell("detail")],
                r.paymentIssues.map { Row([Cell($0.order, "name"), Cell($0.issue), Cell($0.detail)]) })
        }

        if !r.registrations.isEmpty {
            h += "<h2>Registrations not done</h2>"
            h += table(
                [Cell("order"), Cell("country"), Cell("submission"), Cell("phase"), Cell("field"), Cell("reason"), Cell("since")],
                r.registrations.map {
                    Row([
                        Cell($0.order, "name"), Cell($0.country), Cell($0.submissionId, "name"),
                        Cell($0.phase, $0.phase == "rejected" ? "bad" : ""), Cell($0.field ?? ""), Cell($0.reason ?? ""), Cell($0.since),
                    ])
                })
        }

        if !r.failedActions.isEmpty {
            h += "<h2 class=bad>Actions that need a person</h2>"
            h += table(
                [Cell("order"), Cell("action"), Cell("attempts", "num"), Cell("why")],
                r.failedActions.map { Row([Cell($0.order, "name"), Cell($0.action), Cell(String($0.attempts), "num"), Cell($0.error)]) })
        }

        if !r.lostFiles.isEmpty {
            h += "<h2 class=bad>Lost files</h2>"
            h += table(
                [Cell("feed"), Cell("sequence of"), Cell("numbers that never arrived")],
                r.lostFiles.map { Row([Cell($0.feed), Cell($0.scope), Cell($0.missing.map(String.init).joined(separator: ", "))]) })
        }

        h += "<h2>Rejected records</h2>"
        h +=
            r.rejections.isEmpty
            ? "<p class=\"muted\">None.</p>"
            : table(
                [Cell("file"), Cell("record", "num"), Cell("line", "num"), Cell("field"), Cell("reason")],
                r.rejections.map {
                    Row([
                        Cell($0.file, "name"), Cell(String($0.record), "num"), Cell(String($0.line), "num"), Cell($0.field ?? "-"),
                        Cell($0.reason),
                    ])
                })

        h += "<h2>Anomalies</h2>"
        h +=
            r.anomalies.isEmpty
            ? "<p class=\"muted\">None.</p>"
            : table(
                [Cell("order"), Cell("code"), Cell("when"), Cell("what")],
                r.anomalies.map { Row([Cell($0.order), Cell($0.code), Cell($0.occurredAt), Cell($0.message)]) })

        h += "<h2>Orders</h2>"
        h += table(
            [
                Cell("order"), Cell("dealer"), Cell("state"), Cell("since"), Cell("due", "num"), Cell("received", "num"),
                Cell("final payment due"),
            ],
            r.orders.map { o in
                Row(
                    id: "order-\(o.ref)",
                    [
                        Cell(o.ref), Cell(o.dealer ?? ""), Cell(o.state), Cell(o.stateSince ?? ""),
                        Cell(Money.format(o.amountDueMinor, o.currency), "num"), Cell(Money.format(o.receivedMinor, o.currency), "num"),
                        Cell(o.finalPaymentDueAt ?? ""),
                    ])
            })
        h += "</body></html>\n"
        return h
    }

    /// A table cell, or a column heading: its text, escaped when written, and its CSS class.
    struct Cell {
        let text: String
        let cls: String?
        init(_ text: String, _ cls: String? = nil) {
            self.text = text
            self.cls = cls
        }
    }

    struct Row {
        let id: String?
        let cells: [Cell]
        init(id: String? = nil, _ cells: [Cell]) {
            self.id = id
            self.cells = cells
        }
    }

    /// One table: a heading row, then a row per item. Every section of the page is one of these.
    static func table(_ columns: [Cell], _ rows: [Row]) -> String {
        func cells(_ tag: String, _ cells: [Cell]) -> String {
            cells.map { c in "<\(tag)\(c.cls.map { " class=\($0)" } ?? "")>\(esc(c.text))</\(tag)>" }.joined()
        }
        var h = "<table><tr>" + cells("th", columns) + "</tr>"
        for row in rows {
            h += "<tr\(row.id.map { " id=\"\(esc($0))\"" } ?? "")>" + cells("td", row.cells) + "</tr>"
        }
        return h + "</table>"
    }

    /// Horizontal bars, one per lifecycle state that has orders, in lifecycle order.
    static func stateChart(_ r: DailyReport) -> String {
        let states = (OrderState.mainLine + [.sinAsignar, .returnedToDealership, .cancelled]).filter {
            (r.ordersByState[$0.rawValue] ?? 0) > 0
        }
        guard let maxCount = states.map({ r.ordersByState[$0.rawValue]! }).max() else { return "<p class=\"muted\">No orders yet.</p>" }
        let rowH = 22, labelW = 190, barW = 360
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(labelW + barW + 60)\" height=\"\(states.count * rowH + 10)\" role=\"img\" aria-label=\"orders by state\">"
        for (i, st) in states.enumerated() {
            let n = r.ordersByState[st.rawValue]!
            let w = max(2, barW * n / maxCount)
            let y = i * rowH + 5
            s += "<text x=\"\(labelW - 6)\" y=\"\(y + 15)\" text-anchor=\"end\" font-size=\"13\">\(esc(st.rawValue))</text>"
            s += "<rect x=\"\(labelW)\" y=\"\(y + 3)\" width=\"\(w)\" height=\"\(rowH - 6)\" fill=\"#4a7bd0\"/>"
            s += "<text x=\"\(labelW + w + 6)\" y=\"\(y + 15)\" font-size=\"13\">\(n)</text>"
        }
        return s + "</svg>"
    }
}
