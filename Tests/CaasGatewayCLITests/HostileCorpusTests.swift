import Foundation
import GatewayEngine
import GatewayFormats
import GatewayTestSupport
import Testing

/// The generated hostile corpus (`HostileCorpus`), each input in a fresh store next to a good
/// control file, through the built binary: every input gets its expected outcome, the control
/// file is always taken in, no reason or log repeats what the input carried, and the process's
/// peak memory stays under one bound whatever the field sizes. Prints its tally.
@Suite("The hostile corpus", .serialized)
struct HostileCorpusTests {
    static let memoryBoundKiB = 96 * 1024

    struct Spawned {
        let code: Int32
        let out: String
        let err: String
        let maxRSSKiB: Int
    }

    /// Runs the binary under GNU time, which forks it from its own small process and reads its
    /// peak resident set from wait4: spawned from this test process directly, the child's peak
    /// would include the pages it shared with this process before exec.
    static func spawn(_ args: [String], in dir: String) throws -> Spawned {
        let rssPath = dir + "/.maxrss"
        let r = try Command.capture(["/usr/bin/time", "-f", "%M", "-o", rssPath, CLI.binary] + args)
        let rss = (try? String(contentsOfFile: rssPath, encoding: .utf8))?.split(separator: "\n").last.flatMap { Int($0) } ?? Int.max
        return Spawned(code: r.status, out: r.output, err: r.error, maxRSSKiB: rss)
    }

    static func story(_ p: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: Fixtures.story(p))) }

    static func feeds() throws -> [(CorpusFeed, [Int])] {
        [
            (
                CorpusFeed(
                    feed: "intranet-sales", fileName: "SALES_ES-MAD-01_20261001233000.xml",
                    base: try story("intranet/SALES_ES-MAD-01_20261001233000.xml"), format: .xml,
                    mapped: ["GivenName", "Email", "Street"], declaresCount: "count=\"2"), []
            ),
            (
                CorpusFeed(
                    feed: "bank-camt054", fileName: "camt054_20261006.xml", base: try story("bank/camt054_20261006.xml"), format: .xml,
                    mapped: ["Ustrd"]), []
            ),
            (
                CorpusFeed(
                    feed: "factory-vlc1", fileName: "MFGSTATUS_VLC1_20261004200000_00002.xml",
                    base: try story("factory/MFGSTATUS_VLC1_20261004200000_00002.xml"), format: .xml,
                    mapped: ["OrderRef", "Code", "FactoryOrder"], declaresCount: "eventCount=\"1",
                    sequence: (attribute: "sequence", laterName: "MFGSTATUS_VLC1_20261009200000_00002.xml")), []
            ),
            (
                CorpusFeed(
                    feed: "dms-sales-pt", fileName: "VENDAS_PT-LIS-01_20261002.csv",
                    base: try story("dealer-dms/VENDAS_PT-LIS-01_20261002.csv"), format: .csv(delimiter: UInt8(ascii: ";")),
                    mapped: ["ref_venda", "data_registo", "nome", "morada"]), [1 << 20, 8 << 20, 40 << 20]
            ),
            (
                CorpusFeed(
                    feed: "psp-settlement", fileName: "settlement_20261002.csv", base: try story("psp/settlement_20261002.csv"),
                    format: .csv(delimiter: UInt8(ascii: ",")), mapped: ["psp_reference", "merchant_reference", "event_date", "success"]),
                [1 << 20]
            ),
            (
                CorpusFeed(
                    feed: "carrier-trucklog", fileName: "TRANSPORT_TRUCKLOG_20261110.csv",
                    base: try story("carrier/TRANSPORT_TRUCKLOG_20261110.csv"), format: .csv(delimiter: UInt8(ascii: ";")),
                    mapped: ["order_ref", "event_time", "shipment_id", "event"]), [1 << 20]
            ),
            (
                CorpusFeed(
                    feed: "iot-links", fileName: "iot_links_20261110.csv", base: try story("iot/iot_links_20261110.csv"),
                    format: .csv(delimiter: UInt8(ascii: ",")), mapped: ["order_ref", "at", "event", "vin"]), [1 << 20]
            ),
            (
                CorpusFeed(
                    feed: "factory-zwk2", fileName: "mfg_status_ZWK2_20261003.csv", base: try story("factory/mfg_status_ZWK2_20261003.csv"),
                    format: .csv(delimiter: UInt8(ascii: ",")), mapped: ["order_ref", "status_at", "status", "factory_order"]), [1 << 20]
            ),
        ]
    }

    struct Verdict {
        let id, kind: String
        let ok: Bool
        let problem: String
        let maxRSSKiB: Int
    }

    @Test func everyHostileInputGetsItsOutcomeAndNothingElseIsHarmed() throws {
        let cases = try Self.feeds().flatMap { HostileCorpus.cases([$0.0], fieldCap: FeedMapping.defaultMaxFieldBytes, hugeSizes: $0.1) }
        #expect(cases.count >= 260, "\(cases.count) file cases")
        let root = Fixtures.tempDir(#function)
        let mappings = root + "/mappings"
        try FileManager.default.createDirectory(atPath: mappings, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.mappingsDir, toPath: mappings + "/feeds")
        let salesControl = ("SALES_FR-LYO-01_20261001233000.xml", try Self.story("intranet/SALES_FR-LYO-01_20261001233000.xml"))
        let dmsControl = ("VENDAS_PT-LIS-01_20261003.csv", try Self.story("dealer-dms/VENDAS_PT-LIS-01_20261003.csv"))

        let all = cases.enumerated().map { i, c in
            Self.check(c, index: i, root: root, mappings: mappings, control: c.feed == "intranet-sales" ? dmsControl : salesControl)
        }
        for v in all where !v.ok { Issue.record("\(v.id): \(v.problem)") }
        let peak = all.map(\.maxRSSKiB).max() ?? 0
        for v in all.sorted(by: { $0.maxRSSKiB > $1.maxRSSKiB }).prefix(3) { print("  peak \(v.maxRSSKiB / 1024) MiB: \(v.id)") }
        #expect(peak < Self.memoryBoundKiB, "peak \(peak) KiB")
        var byKind: [String: (Int, Int)] = [:]
        for v in all {
            byKind[v.kind, default: (0, 0)].0 += 1
            if v.ok { byKind[v.kind, default: (0, 0)].1 += 1 }
        }
        print(
            "hostile corpus: \(all.count) inputs over \(Set(cases.map(\.feed)).count) feeds, \(all.filter(\.ok).count) as expected; peak memory \(peak / 1024) MiB (bound \(Self.memoryBoundKiB / 1024) MiB)"
        )
        for (kind, (n, ok)) in byKind.sorted(by: { $0.key < $1.key }) { print("  \(kind): \(ok)/\(n)") }
    }

    /// Remote names a partner's server may list: every unsafe one the source's pattern takes is
    /// refused and reported (escaped), the good file beside them is pulled, nothing is written
    /// outside the feed's inbox folder.
    @Test func everyUnsafeRemoteNameIsRefusedAndReportedAndTheGoodFileIsPulled() throws {
        let server = try SSHDServer()
        defer { server.stop() }
        let cli = try CLI()
        let remote = Fixtures.tempDir("hostile-remote")
        let good = "SALES_ES-MAD-01_20261001233000.xml"
        try Self.story("intranet/" + good).write(to: URL(fileURLWithPath: remote + "/" + good))
        let hostile = [
            "-rf SALES_1.xml", "--help SALES_2.xml", ".SALES_3.xml", "SALES_4\u{7}.xml", "SALES_5\n.xml", "SALES_6\u{1B}[31m.xml",
            "SALES_7\\..\\x.xml", "SALES_8..xml", "SALES_9\u{202E}lmx.exe", "SALES_10\u{2066}.xml", "SALES_11\u{7F}.xml",
            "SALES_12\r.xml", "SALES_13\t\u{1}.xml", "SALES_14\u{9B}.xml",
        ]
        for name in hostile { try Data("x".utf8).write(to: URL(fileURLWithPath: remote + "/" + name)) }
        try """
        retry: {attempts: 1}
        sources:
          - {name: intranet, host: 127.0.0.1, port: \(server.port), user: \(server.user), key: \(server.clientKey), known_hosts: \(server.knownHosts), remote_dir: \(remote), pattern: 'SALES_', feed: intranet-sales, ready: {stable_seconds: 0}}

        """.write(toFile: cli.home + "/caas-gateway.yaml", atomically: true, encoding: .utf8)
        let r = try cli.run(["run", "--as-of", "2026-10-01T23:00:00Z"])
        #expect(r.code == 2, "\(r.err)")
        #expect(r.err.contains("\(hostile.count) transfer(s) refused"), "\(r.err)")
        let inbox = (FileManager.default.enumerator(atPath: cli.home + "/inbox")?.allObjects as? [String]) ?? []
        #expect(inbox.isEmpty || inbox == ["intranet-sales"], "only the good file, already ingested: \(inbox)")
        #expect(try cli.run(["orders", "--json"]).out.contains("S-2026-000101"))
        let report =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: cli.home + "/outbox/reports/2026-10-01/report.json"))) as! [String: Any]
        let refused = (report["transfers"] as! [[String: Any]]).filter { $0["outcome"] as? String == "refused" }
        #expect(refused.count == hostile.count, "\(refused)")
        for name in hostile {
            let shown = RemoteName.escaped(name)
            #expect(refused.contains { $0["name"] as? String == shown }, "\(shown)")
            #expect(shown.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) })
        }
        let html = try String(contentsOfFile: cli.home + "/outbox/reports/2026-10-01/report.html", encoding: .utf8)
        #expect(!html.contains("\u{1B}") && !html.contains("\u{202E}"), "names are escaped on the page")
        print("hostile remote names: \(hostile.count) refused and reported, the good file pulled")
    }

    static func check(_ c: HostileCase, index: Int, root: String, mappings: String, control: (String, Data)) -> Verdict {
        func verdict(_ ok: Bool, _ problem: String = "", _ rss: Int = 0) -> Verdict {
            Verdict(id: c.id, kind: c.kind, ok: ok, problem: problem, maxRSSKiB: rss)
        }
        do {
            let home = root + "/case-\(index)"
            let inbox = home + "/inbox"
            try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
            try "paths: {mappings: \(mappings)}\n".write(toFile: home + "/caas-gateway.yaml", atomically: true, encoding: .utf8)
            if let before = c.before {
                // Taken in first, by a run of its own: the case then meets it in the store.
                try before.data.write(to: URL(fileURLWithPath: inbox + "/" + before.name))
                let first = try spawn(["ingest", "--config", home + "/caas-gateway.yaml", "--as-of", "2026-10-09T23:00:00Z"], in: home)
                guard first.code == 0 else { return verdict(false, "the file before it was not taken: \(first.err)") }
            }
            try control.1.write(to: URL(fileURLWithPath: inbox + "/" + control.0))
            try c.data.write(to: URL(fileURLWithPath: inbox + "/" + c.fileName))
            let r = try spawn(["ingest", "--config", home + "/caas-gateway.yaml", "--json", "--as-of", "2026-10-10T23:00:00Z"], in: home)
            defer { try? FileManager.default.removeItem(atPath: home) }
            guard r.code == 0 || r.code == 2 else { return verdict(false, "exit \(r.code): \(r.err.prefix(300))", r.maxRSSKiB) }
            guard let json = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any],
                let files = json["files"] as? [[String: Any]]
            else { return verdict(false, "no JSON summary: \(r.out.prefix(300)) \(r.err.prefix(300))", r.maxRSSKiB) }
            let byName = Dictionary(files.map { ($0["name"] as? String ?? "", $0) }) { a, _ in a }
            // The control file is always taken in whole.
            guard let ctl = byName[control.0], ctl["outcome"] as? String == "ingested",
                let counts = ctl["counts"] as? [String: Any], (counts["accepted"] as? Int ?? 0) > 0, (counts["rejected"] as? Int ?? 1) == 0
            else { return verdict(false, "the control file was harmed: \(byName[control.0] ?? [:])", r.maxRSSKiB) }
            guard let f = byName[c.fileName] else { return verdict(false, "the input was not seen: \(files)", r.maxRSSKiB) }
            if let secret = c.secret, r.out.contains(secret) || r.err.contains(secret) {
                return verdict(false, "the output repeats what the input carried", r.maxRSSKiB)
            }
            let outcome = f["outcome"] as? String ?? ""
            let detail = f["detail"] as? String ?? ""
            let rejected = (f["counts"] as? [String: Any])?["rejected"] as? Int ?? 0
            let reasons = ((f["rejections"] as? [[String: Any]]) ?? []).compactMap { $0["reason"] as? String }
            let ok: Bool
            switch c.expected {
            case .quarantined(let text): ok = outcome == "quarantined" && (text.map { detail.contains($0) } ?? true)
            case .rejected(let text): ok = outcome == "ingested" && rejected > 0 && reasons.contains { $0.contains(text) }
            case .damaged: ok = outcome == "quarantined" || (outcome == "ingested" && rejected > 0)
            case .ingestedClean: ok = outcome == "ingested" && rejected == 0
            case .duplicate: ok = outcome == "duplicate"
            }
            return verdict(
                ok, ok ? "" : "expected \(c.expected), got \(outcome) \(detail.prefix(200)) rejected \(rejected) \(reasons.prefix(2))",
                r.maxRSSKiB)
        } catch {
            return verdict(false, "\(error)")
        }
    }
}
