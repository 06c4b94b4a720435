import Foundation
import GatewayCore

/// The page operations read in the morning: self-contained (inline CSS, SVG charts and one small
/// script that sorts tables; no external assets), so it opens offline and from a mail attachment.
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

    /// The page's one script: click a column heading to sort the table by it. Everything is
    /// readable without it.
    static let sortScript = """
        document.querySelectorAll('table.sortable th').forEach(function (th) {
          th.addEventListener('click', function () {
            var i = Array.prototype.indexOf.call(th.parentNode.children, th);
            var table = th.closest('table'), rows = Array.from(table.querySelectorAll('tr')).slice(1);
            var down = th.dataset.dir !== 'asc'; th.dataset.dir = down ? 'asc' : 'desc';
            function key(tr) { var c = tr.children[i]; return c.dataset.sort !== undefined ? c.dataset.sort : c.textContent; }
            rows.sort(function (a, b) {
              var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
              var d = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
              return down ? d : -d;
            });
            rows.forEach(function (tr) { table.appendChild(tr); });
          });
        });
        """

    /// `#timeline-…` target of an order reference: letters, digits and dashes only.
    static func anchor(_ ref: String) -> String {
        "timeline-" + String(ref.map { $0.isLetter || $0.isNumber ? $0 : "-" })
    }

    static let ownerColours: [ExceptionOwner: String] = [
        .dealership: "#d08a2c", .finance: "#3b8a4a", .logistics: "#4a7bd0", .integration: "#9a4ac0",
    ]

    static func render(_ r: DailyReport) -> String {
        // An order reference links to its timeline; one no sale introduced has none to link to.
        let known = Set(r.orders.map(\.ref))
        func orderLink(_ ref: String) -> String {
            known.contains(ref) ? "<a href=\"#\(anchor(ref))\">\(esc(ref))</a>" : esc(ref)
        }
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>caas-gateway report \(esc(r.day))</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
            @media (max-width:600px){body{margin:.6em} .tiles{gap:.4em} .tile{min-width:5.5em;padding:.3em .6em} .tile b{font-size:1.2em} td,th{min-width:7em} td.num,th.num{min-width:0}}
            .scroll{max-width:100%;overflow-x:auto} svg{max-width:100%;height:auto} figure{margin:.5em 0;max-width:100%}
            td{overflow-wrap:break-word;max-width:32em} code.key{font-size:.85em;color:#555;overflow-wrap:anywhere}
            h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ccc} h3{font-size:1em;margin:1.2em 0 .3em}
            table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
            th{background:#f3f3f3} table.sortable th{cursor:pointer} table.sortable th:after{content:" \\2195";color:#999}
            .num{text-align:right} .name{white-space:nowrap} .bad{color:#a00} .ok{color:#070} .muted{color:#777}
            .new{background:#fff3c4;font-weight:bold;padding:0 4px;border-radius:3px}
            .tiles{display:flex;gap:1em;flex-wrap:wrap} .tile{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:8em}
            .tile b{display:block;font-size:1.6em} .charts{display:flex;gap:2em;flex-wrap:wrap;align-items:flex-start}
            .timeline{margin-bottom:1em} .timeline:target{outline:2px solid #4a7bd0}
            </style></head><body>
            <h1>caas-gateway: report for \(esc(r.day))</h1>
            <p class="muted">As of \(esc(r.asOf)); \(r.runs.count) run(s) this day\(r.writtenBy.map { "; written by runner " + esc($0) } ?? ""). Schema \(esc(r.schema)).</p>
            <div class="tiles">
            """
        func tile(_ label: String, _ n: Int, bad: Bool = false) {
            h += "<div class=\"tile\"><b class=\"\(bad && n > 0 ? "bad" : "")\">\(n)</b>\(esc(label))</div>"
        }
        tile("files seen", r.files.seen)
        tile("ingested", r.files.ingested)
        tile("quarantined", r.files.quarantined + r.files.unrecognised, bad: true)
        tile("records accepted", r.recordsAccepted)
        tile("records rejected", r.recordsRejected, bad: true)
        tile("orders", r.ordersTotal)
        tile("open exceptions", r.exceptions.count, bad: true)
        tile("new today", r.newToday.count, bad: true)
        tile("resolved today", r.resolvedToday.count)
        tile("new since last run", r.exceptions.filter(\.isNew).count, bad: true)
        tile("resolved since last run", r.resolvedExceptions.count)
        h += "</div>"

        h += "<h2>What needs a person</h2>"
        h += "<p class=\"muted\">By owner, oldest first; <span class=\"new\">new</span> since the previous run. "
        h += "The key is what <code>caas-gateway exceptions dismiss</code> takes.</p>"
        if r.exceptions.isEmpty { h += "<p class=\"ok\">Nothing needs a person.</p>" }
        for owner in ExceptionOwner.allCases {
            let mine = r.exceptions.filter { $0.owner == owner }
            guard !mine.isEmpty else { continue }
            h += "<h3 id=\"owner-\(owner.rawValue)\">\(esc(owner.rawValue)) (\(mine.count))</h3>"
            h += table(
                [
                    Cell("age (days)", "num"), Cell("rule"), Cell("order"), Cell("subject"), Cell("what"), Cell("what to do"),
                    Cell("since"),
                    Cell("key"),
                ],
                mine.map { e in
                    Row([
                        Cell(String(e.ageDays), "num", sort: String(e.ageDays)),
                        Cell(
                            e.rule, "name",
                            html: esc(e.rule)
                                + (e.isNew
                                    ? " <span class=\"new\">new</span>" : e.isNewToday ? " <span class=\"new\">new today</span>" : "")),
                        Cell(e.order ?? "", "name", html: e.order.map(orderLink) ?? ""), Cell(e.order == e.subject ? "" : e.subject),
                        Cell(e.detail), Cell(e.todo), Cell(e.since, "name"), Cell(e.key, html: "<code class=\"key\">\(esc(e.key))</code>"),
                    ])
                }, sortable: true)
        }
        if !r.resolvedToday.isEmpty {
            // Across all of the day's runs: with cron every ten minutes, "since the previous run"
            // would show only the last ten minutes.
            h += "<h3>Resolved today</h3>"
            h += table(
                [Cell("owner"), Cell("rule"), Cell("subject"), Cell("resolved"), Cell("how")],
                r.resolvedToday.map {
                    Row([Cell($0.owner), Cell($0.rule), Cell($0.subject, "name"), Cell($0.at), Cell($0.event)])
                }, sortable: true)
        }
        let cameAndWent = r.newToday.filter { !$0.open }
        if !cameAndWent.isEmpty {
            h += "<h3>Opened and resolved today</h3>"
            h += table(
                [Cell("owner"), Cell("rule"), Cell("subject"), Cell("opened")],
                cameAndWent.map { Row([Cell($0.owner), Cell($0.rule), Cell($0.subject, "name"), Cell($0.at)]) }, sortable: true)
        }

        h += "<h2>Orders</h2><div class=\"charts\">"
        h += "<figure><figcaption>Lifecycle funnel: orders that reached each stage</figcaption>" + funnelChart(r) + "</figure>"
        h += "<figure><figcaption>Open orders by days in their current state</figcaption>" + orderAgeingChart(r) + "</figure>"
        h += "<figure><figcaption>Open exceptions by age and owner</figcaption>" + exceptionAgeingChart(r) + "</figure>"
        h += "</div>"

        h += "<h2>Runs</h2>"
        h += table(
            [Cell("run"), Cell("runner"), Cell("command"), Cell("status"), Cell("as of"), Cell("started"), Cell("finished")],
            r.runs.map {
                Row([
                    Cell($0.id, "name"), Cell($0.runner ?? ""), Cell($0.command),
                    Cell($0.status, $0.status == "ok" ? "ok" : $0.status == "running" ? "" : "bad"),
                    Cell($0.asOf), Cell($0.startedAt), Cell($0.finishedAt ?? ($0.status == "running" ? "running" : "this run")),
                ])
            })

        if !r.registrations.isEmpty {
            h += "<h2>Registrations not done</h2>"
            h += table(
                [Cell("order"), Cell("country"), Cell("submission"), Cell("phase"), Cell("field"), Cell("reason"), Cell("since")],
                r.registrations.map {
                    Row([
                        Cell($0.order, "name", html: orderLink($0.order)), Cell($0.country), Cell($0.submissionId, "name"),
                        Cell($0.phase, $0.phase == "rejected" ? "bad" : ""), Cell($0.field ?? ""), Cell($0.reason ?? ""), Cell($0.since),
                    ])
                }, sortable: true)
        }

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
                }, sortable: true)

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
                }, sortable: true)
        }

        h += "<h2>Rejected records</h2>"
        h +=
            r.rejections.isEmpty
            ? "<p class=\"muted\">None.</p>"
            : table(
                [Cell("file"), Cell("record", "num"), Cell("line", "num"), Cell("reference"), Cell("field"), Cell("reason")],
                r.rejections.map {
                    Row([
                        Cell($0.file, "name"), Cell(String($0.record), "num"), Cell(String($0.line), "num"),
                        Cell($0.recordRef ?? "-", "name"),
                        Cell($0.field ?? "-"), Cell($0.reason),
                    ])
                }, sortable: true)

        h += "<h2>Orders that need a person</h2>"
        h += "<p>\(r.orders.count) of \(r.ordersTotal) orders. orders.csv beside this page lists every order; every order's "
        h += "timeline is in its expediente (outbox/expedientes/) and in <code>caas-gateway explain</code>.</p>"
        h += table(
            [
                Cell("order"), Cell("dealer"), Cell("state"), Cell("since"), Cell("plate"), Cell("due", "num"), Cell("received", "num"),
                Cell("final payment due"),
            ],
            r.orders.map { o in
                Row([
                    Cell(o.ref, "name", html: orderLink(o.ref)), Cell(o.dealer ?? ""), Cell(o.state), Cell(o.stateSince ?? ""),
                    Cell(o.plate ?? "", "name"), Cell(Money.format(o.amountDueMinor, o.currency), "num", sort: String(o.amountDueMinor)),
                    Cell(Money.format(o.receivedMinor, o.currency), "num", sort: String(o.receivedMinor)), Cell(o.finalPaymentDueAt ?? ""),
                ])
            }, sortable: true)

        h += "<h2>Timelines</h2>"
        for o in r.orders {
            h += "<section class=\"timeline\" id=\"\(anchor(o.ref))\"><h3>\(esc(o.ref)): \(esc(o.state))</h3>"
            h += table(
                [Cell("when"), Cell("event"), Cell("state after"), Cell("note")],
                o.timeline.map { Row([Cell($0.at, "name"), Cell($0.event), Cell($0.stateAfter ?? "-"), Cell($0.note ?? "")]) })
            h += "</section>"
        }
        h += "<script>\n\(sortScript)</script>\n</body></html>\n"
        return h
    }

    /// A table cell, or a column heading: its text, escaped when written, and its CSS class.
    struct Cell {
        let text: String
        let cls: String?
        /// The value to sort by, when the text does not sort right (amounts with currencies).
        let sort: String?
        /// Markup built by this file from escaped parts (a link), written instead of the text.
        let html: String?
        init(_ text: String, _ cls: String? = nil, sort: String? = nil, html: String? = nil) {
            self.text = text
            self.cls = cls
            self.sort = sort
            self.html = html
        }
    }

    struct Row {
        let cells: [Cell]
        init(_ cells: [Cell]) { self.cells = cells }
    }

    /// One table: a heading row, then a row per item. Every section of the page is one of these.
    static func table(_ columns: [Cell], _ rows: [Row], sortable: Bool = false) -> String {
        func cells(_ tag: String, _ cells: [Cell]) -> String {
            cells.map { c in
                let attributes = (c.cls.map { " class=\($0)" } ?? "") + (c.sort.map { " data-sort=\"\(esc($0))\"" } ?? "")
                return "<\(tag)\(attributes)>\(c.html ?? esc(c.text))</\(tag)>"
            }.joined()
        }
        // In a scrolling box: a wide table scrolls on a phone instead of widening the page.
        var h = "<div class=\"scroll\"><table\(sortable ? " class=\"sortable\"" : "")><tr>" + cells("th", columns) + "</tr>"
        for row in rows {
            h += "<tr>" + cells("td", row.cells) + "</tr>"
        }
        return h + "</table></div>"
    }

    /// Horizontal bars: a label, a bar and its count per row, or several coloured segments.
    static func barChart(
        _ label: String, rows: [(label: String, segments: [(value: Int, colour: String)])], legend: [(String, String)] = []
    ) -> String {
        let total = rows.map { $0.segments.reduce(0) { $0 + $1.value } }
        guard let maxCount = total.max(), maxCount > 0 else { return "<p class=\"muted\">Nothing to show.</p>" }
        let rowH = 22, labelW = 170, barW = 300, legendH = legend.isEmpty ? 0 : 24
        // Legend entries side by side under the bars; about 8 px per character at 12 px.
        let legendX = legend.reduce(into: [labelW]) { xs, entry in xs.append(xs.last! + 16 + 8 * entry.0.count + 14) }
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(max(labelW + barW + 50, legendX.last!))\" height=\"\(rows.count * rowH + 10 + legendH)\" viewBox=\"0 0 \(max(labelW + barW + 50, legendX.last!)) \(rows.count * rowH + 10 + legendH)\" role=\"img\" aria-label=\"\(esc(label))\">"
        for (i, row) in rows.enumerated() {
            let y = i * rowH + 5
            s += "<text x=\"\(labelW - 6)\" y=\"\(y + 15)\" text-anchor=\"end\" font-size=\"13\">\(esc(row.label))</text>"
            var x = labelW
            for seg in row.segments where seg.value > 0 {
                let w = max(2, barW * seg.value / maxCount)
                s +=
                    "<rect x=\"\(x)\" y=\"\(y + 3)\" width=\"\(w)\" height=\"\(rowH - 6)\" fill=\"\(seg.colour)\"><title>\(seg.value)</title></rect>"
                x += w
            }
            s += "<text x=\"\(x + 6)\" y=\"\(y + 15)\" font-size=\"13\">\(total[i])</text>"
        }
        for ((name, colour), x) in zip(legend, legendX) {
            let y = rows.count * rowH + 12
            s += "<rect x=\"\(x)\" y=\"\(y)\" width=\"12\" height=\"12\" fill=\"\(colour)\"/>"
            s += "<text x=\"\(x + 16)\" y=\"\(y + 11)\" font-size=\"12\">\(esc(name))</text>"
        }
        return s + "</svg>"
    }

    /// How many orders reached each stage of the main line. A branch counts as having reached
    /// the stage it left from (stock: the final-payment wait; a returned vehicle: transit).
    /// Orders that reached each stage of the main line, from the counts by state.
    static func funnelChart(_ r: DailyReport) -> String {
        let ranks = r.ordersByState.compactMap { state, n in
            OrderState(rawValue: state).flatMap { $0 == .cancelled ? nil : ($0.rank, n) }
        }
        return barChart(
            "lifecycle funnel",
            rows: OrderState.mainLine.map { stage in
                (stage.rawValue, [(ranks.filter { $0.0 >= stage.rank }.map(\.1).reduce(0, +), "#4a7bd0")])
            })
    }

    static var ageBuckets: [(label: String, upTo: Int)] { DailyReport.ageBuckets }

    static func bucket(_ days: Int) -> Int { DailyReport.bucket(days) }

    /// Orders still moving (not operational, cancelled or stock), by days in their current state.
    static func orderAgeingChart(_ r: DailyReport) -> String {
        barChart(
            "open orders by days in state",
            rows: ageBuckets.indices.map {
                (ageBuckets[$0].label, [(r.openOrdersByAge.indices.contains($0) ? r.openOrdersByAge[$0] : 0, "#6a9ad8")])
            })
    }

    /// Open exceptions by age, each bar split by owner.
    static func exceptionAgeingChart(_ r: DailyReport) -> String {
        barChart(
            "open exceptions by age and owner",
            rows: ageBuckets.indices.map { b in
                (
                    ageBuckets[b].label,
                    ExceptionOwner.allCases.map { owner in
                        (r.exceptions.filter { $0.owner == owner && bucket($0.ageDays) == b }.count, ownerColours[owner]!)
                    }
                )
            }, legend: ExceptionOwner.allCases.map { ($0.rawValue, ownerColours[$0]!) })
    }
}
