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
        if r.fileList.isEmpty {
            h += "<p class=\"muted\">No files this day.</p>"
        } else {
            h +=
                "<table><tr><th>file</th><th>feed</th><th>outcome</th><th class=num>records</th><th class=num>accepted</th><th class=num>rejected</th><th>detail</th></tr>"
            for f in r.fileList {
                let cls = f.outcome == "ingested" ? "ok" : "bad"
                h +=
                    "<tr><td class=name>\(esc(f.name))</td><td class=name>\(esc(f.feed ?? "-"))</td><td class=\(cls)>\(esc(f.outcome))</td>"
                h += "<td class=num>\(f.records.map(String.init) ?? "")</td><td class=num>\(f.accepted.map(String.init) ?? "")</td>"
                h += "<td class=num>\(f.rejected.map(String.init) ?? "")</td><td>\(esc(f.detail ?? ""))</td></tr>"
            }
            h += "</table>"
        }

        if !r.transfers.isEmpty {
            h +=
                "<h2>Transfers</h2><table><tr><th>when</th><th>direction</th><th>source or destination</th><th>file</th><th>outcome</th><th class=num>bytes</th><th>detail</th></tr>"
            for t in r.transfers {
                let cls = t.outcome == .failed || t.outcome == .refused ? "bad" : t.outcome == .waiting ? "muted" : "ok"
                h += "<tr><td>\(esc(Timestamp.iso(t.at)))</td><td>\(esc(t.direction))</td><td class=name>\(esc(t.endpoint))</td>"
                h +=
                    "<td class=name>\(esc(t.name ?? ""))</td><td class=\(cls)>\(esc(t.outcome.rawValue))</td><td class=num>\(t.bytes)</td><td>\(esc(t.detail ?? ""))</td></tr>"
            }
            h += "</table>"
        }

        if !r.paymentIssues.isEmpty {
            h += "<h2>Payments to look at</h2><table><tr><th>order</th><th>what</th><th>detail</th></tr>"
            for p in r.paymentIssues {
                h += "<tr><td class=name>\(esc(p.order))</td><td>\(esc(p.issue))</td><td>\(esc(p.detail))</td></tr>"
            }
            h += "</table>"
        }

        if !r.failedActions.isEmpty {
            h +=
                "<h2 class=bad>Actions that need a person</h2><table><tr><th>order</th><th>action</th><th class=num>attempts</th><th>why</th></tr>"
            for f in r.failedActions {
                h +=
                    "<tr><td class=name>\(esc(f.order))</td><td>\(esc(f.action))</td><td class=num>\(f.attempts)</td><td>\(esc(f.error))</td></tr>"
            }
            h += "</table>"
        }

        if !r.lostFiles.isEmpty {
            h += "<h2 class=bad>Lost files</h2><table><tr><th>feed</th><th>sequence of</th><th>numbers that never arrived</th></tr>"
            for g in r.lostFiles {
                h +=
                    "<tr><td>\(esc(g.feed))</td><td>\(esc(g.scope))</td><td>\(esc(g.missing.map(String.init).joined(separator: ", ")))</td></tr>"
            }
            h += "</table>"
        }

        h += "<h2>Rejected records</h2>"
        if r.rejections.isEmpty {
            h += "<p class=\"muted\">None.</p>"
        } else {
            h += "<table><tr><th>file</th><th class=num>record</th><th class=num>line</th><th>field</th><th>reason</th></tr>"
            for x in r.rejections {
                h +=
                    "<tr><td class=name>\(esc(x.file))</td><td class=num>\(x.record)</td><td class=num>\(x.line)</td><td>\(esc(x.field ?? "-"))</td><td>\(esc(x.reason))</td></tr>"
            }
            h += "</table>"
        }

        h += "<h2>Anomalies</h2>"
        if r.anomalies.isEmpty {
            h += "<p class=\"muted\">None.</p>"
        } else {
            h += "<table><tr><th>order</th><th>code</th><th>when</th><th>what</th></tr>"
            for a in r.anomalies {
                h += "<tr><td>\(esc(a.order))</td><td>\(esc(a.code))</td><td>\(esc(a.occurredAt))</td><td>\(esc(a.message))</td></tr>"
            }
            h += "</table>"
        }

        h +=
            "<h2>Orders</h2><table><tr><th>order</th><th>dealer</th><th>state</th><th>since</th><th class=num>due</th><th class=num>received</th><th>final payment due</th></tr>"
        for o in r.orders {
            h +=
                "<tr id=\"order-\(esc(o.ref))\"><td>\(esc(o.ref))</td><td>\(esc(o.dealer ?? ""))</td><td>\(esc(o.state))</td><td>\(esc(o.stateSince ?? ""))</td>"
            h +=
                "<td class=num>\(esc(Money.format(o.amountDueMinor, o.currency)))</td><td class=num>\(esc(Money.format(o.receivedMinor, o.currency)))</td>"
            h += "<td>\(esc(o.finalPaymentDueAt ?? ""))</td></tr>"
        }
        h += "</table></body></html>\n"
        return h
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
