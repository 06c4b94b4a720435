import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine

/// The morning page as a person sees it: rendered by headless Chromium (Debian's package), with a
/// probe script that measures what is on screen, clicks a column heading and follows an order
/// link. The screenshot is kept in `.build/test-output/` (and attached to the test).
@Suite("The HTML report in a real browser", .serialized)
struct HTMLReportTests {
    /// Twelve days of the story without a factory: exceptions for every owner but logistics, and
    /// an event for an order no sale introduced (no timeline to link to).
    static func storyReport() throws -> (box: Sandbox, html: String) {
        let box = try Sandbox()
        let byDay = ReplayTests.filesByDay()
        for day in ReplayTests.days.prefix(12) {
            try box.drop(byDay[day.replacingOccurrences(of: "-", with: "")] ?? [])
            _ = try box.run(asOf: day + "T23:00:00Z")
        }
        return (box, box.config.reportsDir + "/2026-10-12/report.html")
    }

    /// Runs headless Chromium; its standard output and error, or nil when it did not finish.
    static func chromium(_ args: [String], in dir: String) throws -> String? {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let log = dir + "/chromium.log"
        let p = try ChildProcess(
            [
                "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(dir)/profile",
                "--hide-scrollbars",
            ] + args, log: log)
        guard p.waitForExit(timeout: 90) == 0 else { return nil }
        return try String(contentsOfFile: log, encoding: .utf8)
    }

    /// Measures the page after its script ran and writes the findings into the page itself, where
    /// `--dump-dom` shows them.
    static let probe = """
        <script>
        (function () {
          var out = {};
          var svgs = Array.from(document.querySelectorAll('svg'));
          out.charts = svgs.map(function (s) { var b = s.getBoundingClientRect();
            return {label: s.getAttribute('aria-label'), width: Math.round(b.width), height: Math.round(b.height),
                    bars: s.querySelectorAll('rect').length}; });
          out.owners = Array.from(document.querySelectorAll('h3[id^=owner-]')).filter(function (h) { return h.offsetHeight > 0; })
            .map(function (h) { return h.textContent; });
          var table = Array.from(document.querySelectorAll('h3[id^=owner-] + .scroll table'))
            .sort(function (a, b) { return b.rows.length - a.rows.length; })[0];
          function ages() { return Array.from(table.querySelectorAll('tr')).slice(1).map(function (tr) { return +tr.children[0].textContent; }); }
          var th = table.querySelector('th');
          th.click(); out.ascending = ages(); th.click(); out.descending = ages();
          var links = Array.from(document.querySelectorAll('a[href^="#timeline-"]'));
          out.links = links.length;
          out.brokenLinks = links.filter(function (a) { return !document.getElementById(a.getAttribute('href').slice(1)); }).length;
          links[0].click();
          var target = document.querySelector(':target');
          out.followed = target ? target.querySelector('h3').textContent : null;
          out.externalRequests = performance.getEntriesByType('resource').length;
          out.text = document.body.innerText.slice(0, 400);
          var pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
          document.body.appendChild(pre);
        })();
        </script>
        """

    @Test func thePageShowsItsChartsExceptionsByOwnerAndTimelines() throws {
        let (box, html) = try Self.storyReport()
        let page = try String(contentsOfFile: html, encoding: .utf8)
        // Self-contained: nothing to fetch, so it opens offline and from a mail attachment.
        for outside in ["src=\"http", "href=\"http", "url(", "@import", "<link"] { #expect(!page.contains(outside), "\(outside)") }

        let dir = Fixtures.tempDir(#function)
        let probed = dir + "/probed.html"
        try page.replacingOccurrences(of: "</body>", with: Self.probe + "</body>").write(toFile: probed, atomically: true, encoding: .utf8)
        let dom = try #require(try Self.chromium(["--dump-dom", "file://" + probed], in: dir), "chromium did not finish")
        let json = try #require(
            dom.range(of: "<pre id=\"probe\">").flatMap { start in
                dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex).map { String(dom[start.upperBound..<$0.lowerBound]) }
            })
        let seen = try JSONSerialization.jsonObject(with: Data(json.replacingOccurrences(of: "&quot;", with: "\"").utf8)) as! [String: Any]

        let charts = seen["charts"] as! [[String: Any]]
        #expect(
            charts.map { $0["label"] as! String } == [
                "lifecycle funnel", "open orders by days in state", "open exceptions by age and owner",
            ])
        for c in charts {
            #expect((c["width"] as! Int) > 300 && (c["height"] as! Int) > 100, "\(c)")
            #expect((c["bars"] as! Int) > 0, "\(c)")
        }
        // Exceptions grouped by owner, each heading on screen with its count.
        let owners = seen["owners"] as! [String]
        #expect(owners.map { $0.split(separator: " ")[0] } == ["dealership", "finance", "integration"])
        // A click on "age (days)" sorts the largest group, a second click reverses it.
        let up = seen["ascending"] as! [Int], down = seen["descending"] as! [Int]
        #expect(up == up.sorted() && down == up.sorted(by: >) && Set(up).count > 1, "\(up) \(down)")
        // Every order reference leads to its timeline. The page shows the orders that need a
        // person, not every order (orders.csv has them all).
        #expect((seen["links"] as! Int) > 0)
        let report =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: (html as NSString).deletingLastPathComponent + "/report.json")))
            as! [String: Any]
        let shown = (report["orders"] as! [[String: Any]]).map { $0["ref"] as! String }
        #expect(!shown.isEmpty && shown.count < (report["orders_total"] as! Int), "\(shown)")
        let csvLines = try String(contentsOfFile: (html as NSString).deletingLastPathComponent + "/orders.csv", encoding: .utf8)
            .split(separator: "\r\n")
        #expect(csvLines.count == (report["orders_total"] as! Int) + 1)
        #expect(seen["brokenLinks"] as? Int == 0)
        #expect((seen["followed"] as? String)?.hasPrefix("S-2026-") == true || (seen["followed"] as? String)?.hasPrefix("VD/") == true)
        #expect(seen["externalRequests"] as? Int == 0)
        #expect((seen["text"] as! String).contains("caas-gateway: report for 2026-10-12"))

        // The screenshot, kept for a person to look at.
        let outDir = Fixtures.repoRoot.appendingPathComponent(".build/test-output").path
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let shot = outDir + "/report-2026-10-12.png"
        try? FileManager.default.removeItem(atPath: shot)
        _ = try #require(
            try Self.chromium(["--window-size=1280,2000", "--screenshot=\(shot)", "file://" + html], in: dir), "no screenshot")
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(png.count > 40_000, "a blank page compresses to a few kilobytes")
        Attachment.record(png, named: "report-2026-10-12.png")
        _ = box
    }

    /// Measures, at the window's width, what sticks out of the page: every element outside a
    /// scrolling box must end inside the viewport. Also lists the section headings in order.
    static let overflowProbe = """
        <script>
        (function () {
          var w = document.documentElement.clientWidth, out = {width: w, scrollWidth: document.documentElement.scrollWidth};
          out.overflowing = Array.from(document.body.querySelectorAll('*')).filter(function (e) {
            if (e.parentElement && e.parentElement.closest('.scroll')) return false;
            var b = e.getBoundingClientRect(); return b.width > 0 && b.right > w + 1;
          }).slice(0, 10).map(function (e) { return e.tagName + (e.className ? '.' + e.className : '') + ' ' + Math.round(e.getBoundingClientRect().right); });
          out.headings = Array.from(document.querySelectorAll('h2')).map(function (h) { return h.textContent; });
          out.keys = document.querySelectorAll('code.key').length;
          // In the phone-sized frame: the result goes to the top page, which --dump-dom prints.
          var top = window.parent.document;
          var pre = top.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
          top.body.appendChild(pre);
        })();
        </script>
        """

    /// On a phone (390 px wide) nothing is cut off: wide tables scroll in their own box, charts
    /// shrink. What needs a person comes before the charts, with the keys `dismiss` takes.
    @Test func onAPhoneNothingOverflowsAndWhatNeedsAPersonComesFirst() throws {
        let (box, html) = try Self.storyReport()
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))
        let dir = Fixtures.tempDir(#function)
        let probed = dir + "/probed.html"
        try page.replacingOccurrences(of: "</body>", with: Self.overflowProbe + "</body>").write(
            toFile: probed, atomically: true, encoding: .utf8)
        // Headless Chromium's window is at least 500 px wide: the page is measured in a frame
        // of the phone's width, as a phone's viewport would be.
        for width in [390, 1280] {
            let frame = dir + "/frame-\(width).html"
            try """
            <!DOCTYPE html><html><body style="margin:0">\
            <iframe src="probed.html" style="width:\(width)px;height:3000px;border:0"></iframe></body></html>
            """.write(toFile: frame, atomically: true, encoding: .utf8)
            let dom = try #require(
                try Self.chromium(
                    ["--window-size=1400,2000", "--allow-file-access-from-files", "--dump-dom", "file://" + frame], in: dir + "/\(width)"),
                "chromium did not finish")
            let start = try #require(dom.range(of: "<pre id=\"probe\">"))
            let end = try #require(dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex))
            let json = String(dom[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "&quot;", with: "\"")
            let seen = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
            #expect(seen["width"] as? Int == width, "\(seen)")
            #expect((seen["scrollWidth"] as! Int) <= width, "the page scrolls sideways at \(width) px: \(seen)")
            #expect((seen["overflowing"] as! [String]).isEmpty, "at \(width) px: \(seen["overflowing"]!)")
            let headings = seen["headings"] as! [String]
            #expect(headings.first == "What needs a person", "\(headings)")
            #expect((seen["keys"] as! Int) > 0)
        }
        let shot = Fixtures.repoRoot.appendingPathComponent(".build/test-output/report-2026-10-12-390px.png").path
        try? FileManager.default.removeItem(atPath: shot)
        let shotFrame = dir + "/shot.html"
        try """
        <!DOCTYPE html><html><body style="margin:0;background:#888">\
        <iframe src="file://\(html)" style="width:390px;height:1600px;border:0;background:#fff"></iframe></body></html>
        """.write(toFile: shotFrame, atomically: true, encoding: .utf8)
        _ = try #require(
            try Self.chromium(
                ["--window-size=500,1600", "--allow-file-access-from-files", "--screenshot=\(shot)", "file://" + shotFrame],
                in: dir + "/shot"))
        Attachment.record(try Data(contentsOf: URL(fileURLWithPath: shot)), named: "report-2026-10-12-390px.png")
        _ = box
    }

    /// docs/report-schema.md documents exactly the top-level keys report.json writes, and every
    /// exception and rejection carries the keys the doc names for them (null when unknown).
    @Test func theSchemaDocMatchesWhatReportJSONWrites() throws {
        let (box, html) = try Self.storyReport()
        let json =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: (html as NSString).deletingLastPathComponent + "/report.json")))
            as! [String: Any]
        let doc = try String(contentsOf: Fixtures.repoRoot.appendingPathComponent("docs/report-schema.md"), encoding: .utf8)
        // The first table: `| key | type | meaning |`, a row per top-level key (or keys).
        let first = doc.components(separatedBy: "| key | type | meaning |")[1].components(separatedBy: "\n\n")[0]
        var documented: Set<String> = []
        for line in first.split(separator: "\n") where line.hasPrefix("| `") {
            let cell = line.split(separator: "|")[0]
            for part in cell.split(separator: "`").enumerated() where part.offset % 2 == 1 {
                documented.insert(String(part.element).replacingOccurrences(of: "[]", with: ""))
            }
        }
        #expect(
            documented == Set(json.keys),
            "documented but not written: \(documented.subtracting(json.keys)); written but not documented: \(Set(json.keys).subtracting(documented))"
        )
        let exceptions = try #require(json["exceptions"] as? [[String: Any]])
        for e in exceptions {
            #expect(
                Set(e.keys).isSuperset(of: ["key", "rule", "owner", "order", "subject", "since", "age_days", "detail", "todo", "is_new"]))
        }
        _ = box
    }

    /// Cells a spreadsheet would run as a formula are neutralised; amounts stay numbers.
    @Test func csvCellsASpreadsheetWouldRunAreNeutralised() {
        #expect(CSVText.cell("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"")
        #expect(CSVText.cell("+34 600") == "'+34 600")
        #expect(CSVText.cell("-1+2") == "'-1+2")
        #expect(CSVText.cell("@SUM(A1)") == "'@SUM(A1)")
        #expect(CSVText.cell("\tx") == "'\tx")
        #expect(CSVText.cell("-150.00") == "-150.00")
        #expect(CSVText.cell("S-2026-000101") == "S-2026-000101")
    }
}
