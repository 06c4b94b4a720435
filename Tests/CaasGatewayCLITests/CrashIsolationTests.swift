import Foundation
import GatewayTestSupport
import Testing

/// Crash-only isolation (issue 25): a process that dies while it handles one file or one order
/// leaves the run's working-on mark naming it; the next run sets that item aside, goes on with
/// everything else, and exits 2 naming it. The deaths are real: a trap instruction, a write
/// through a null pointer, abort() or SIGKILL, injected by Tests/CrashShim/trapon.c while the mark
/// names the item.
@Suite("A crash on one item sets it aside, never stops every run", .serialized)
struct CrashIsolationTests {
    /// Three days of four dealerships' sales, their payments and the DMS: several orders and files.
    static let files = [
        "intranet/SALES_ES-MAD-01_20261001233000.xml", "intranet/SALES_DE-MUC-01_20261001233000.xml",
        "intranet/SALES_FR-LYO-01_20261001233000.xml", "intranet/SALES_IT-MIL-01_20261001233000.xml",
        "intranet/SALES_ES-MAD-01_20261002233000.xml", "dealer-dms/VENDAS_PT-LIS-01_20261002.csv", "psp/settlement_20261002.csv",
        "psp/settlement_20261003.csv",
    ]
    static let asOf = "2026-10-03T23:00:00Z"

    func trap() throws -> String {
        switch CrashShim.trap {
        case .success(let path): return path
        case .failure(let e): throw e
        }
    }

    /// Every order as `orders --json` shows it, by reference.
    func orders(_ cli: CLI) throws -> [String: String] {
        let r = try cli.run(["orders", "--json", "--as-of", Self.asOf])
        guard r.code == 0, let list = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]] else {
            throw StoryError("orders failed: \(r.err)")
        }
        var out: [String: String] = [:]
        for o in list {
            let data = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])
            out[o["ref"] as? String ?? "?"] = String(decoding: data, as: UTF8.self)
        }
        return out
    }

    /// The same files, run without any crash: what every order must end as.
    func reference(without skipped: String? = nil) throws -> [String: String] {
        let cli = try CLI("crash-isolation-reference-\(skipped ?? "all")")
        try cli.drop(Self.files.filter { $0 != skipped })
        let r = try cli.run(["run", "--as-of", Self.asOf])
        guard r.code == 0 || r.code == 2 else { throw StoryError("reference run failed: \(r.err)") }
        return try orders(cli)
    }

    /// A home on a PostgreSQL store of its own, as runners sharing one have.
    func onPostgres(_ cli: CLI) throws {
        let pg = try TestPostgres.shared()
        try FileManager.default.createDirectory(atPath: cli.home + "/secrets", withIntermediateDirectories: true)
        try pg.password.write(toFile: cli.home + "/secrets/pg", atomically: true, encoding: .utf8)
        try Fixtures.write(
            "store: {postgres: {url: '\(try pg.newDatabase("crash"))', password: {file: secrets/pg}}}\n", cli.home + "/caas-gateway.yaml")
    }

    @Test("an order whose fold dies is set aside; the others come through", arguments: [
        ("trap", [SIGILL, SIGTRAP], false), ("segv", [SIGSEGV], false), ("abort", [SIGABRT], false), ("trap", [SIGILL, SIGTRAP], true),
    ])
    func orderSetAside(how: String, signals: [Int32], postgres: Bool) throws {
        let victim = "S-2026-000103"
        let cli = try CLI("crash-order-\(how)-\(postgres ? "pg" : "sqlite")")
        if postgres { try onPostgres(cli) }
        try cli.drop(Self.files)
        let crashed = try cli.run(
            ["run", "--as-of", Self.asOf], environment: ["LD_PRELOAD": try trap(), "CAAS_TRAP_ON": "\t\(victim)\tfold\t", "CAAS_TRAP_HOW": how])
        #expect(crashed.signal.map(signals.contains) == true, "the run died of the trap: \(crashed.code) \(crashed.err.suffix(400))")

        let next = try cli.run(["run", "--as-of", Self.asOf])
        #expect(next.code == 2, "a person is needed: \(next.err)")
        #expect(FileManager.default.fileExists(atPath: cli.home + "/var/gateway.sqlite") == !postgres, "the store the case names")
        #expect(next.err.contains("fold_failed") && next.err.contains(victim), "names the order set aside: \(next.err)")
        let signalName = ["trap": "SIG", "segv": "SIGSEGV", "abort": "SIGABRT"][how]!
        let listed = try cli.run(["exceptions", "--owner", "integration", "--as-of", Self.asOf])
        #expect(listed.out.contains("fold_failed:\(victim)") && listed.out.contains(signalName), "\(listed.out)")
        #expect(listed.out.contains("retry fold:\(victim)"), "says how to bring it back: \(listed.out)")

        let reference = try reference()
        var got = try orders(cli)
        #expect(got[victim] == nil, "never folded, so not shown as some other state")
        got[victim] = reference[victim]
        #expect(got == reference, "every other order came through as without the crash")

        let quiet = try cli.run(["run", "--as-of", Self.asOf])
        #expect(quiet.code == 0, "reported once, and not tried again: \(quiet.err)")
        #expect(try orders(cli)[victim] == nil)

        let retry = try cli.run(["retry", "fold:\(victim)", "--note", "fixed in the next release", "--as-of", Self.asOf])
        #expect(retry.code == 0 && retry.out.contains("brought back: fold:\(victim)"), "\(retry.out)\(retry.err)")
        let again = try cli.run(
            ["run", "--as-of", Self.asOf], environment: ["LD_PRELOAD": try trap(), "CAAS_TRAP_ON": "\t\(victim)\tfold\t", "CAAS_TRAP_HOW": how])
        #expect(again.signal.map(signals.contains) == true, "brought back, it is tried again and dies again")
        #expect(try cli.run(["run", "--as-of", Self.asOf]).code == 0, "set aside again at once; already reported")
        #expect(try orders(cli)[victim] == nil)

        #expect(try cli.run(["retry", "fold:\(victim)", "--note", "fixed", "--as-of", Self.asOf]).code == 0)
        let healed = try cli.run(["run", "--as-of", Self.asOf])
        #expect(healed.code == 0 || healed.code == 2, "\(healed.err)")
        #expect(try orders(cli) == reference, "folded once brought back and no longer crashing")
        let after = try cli.run(["exceptions", "--owner", "integration", "--as-of", Self.asOf])
        #expect(!after.out.contains("fold_failed"), "resolved: \(after.out)")
        #expect(try cli.run(["retry", "fold:\(victim)", "--note", "again", "--as-of", Self.asOf]).code == 1, "not set aside any more")
    }

    @Test func aFileWhoseReadDiesIsQuarantinedAndTheOthersComeThrough() throws {
        let victim = "psp/settlement_20261002.csv"
        let name = (victim as NSString).lastPathComponent
        let cli = try CLI()
        try cli.drop(Self.files)
        let crashed = try cli.run(["run", "--as-of", Self.asOf], environment: ["LD_PRELOAD": try trap(), "CAAS_TRAP_ON": "\t\(name)\tread\t"])
        #expect(crashed.signal == SIGILL || crashed.signal == SIGTRAP, "\(crashed.code) \(crashed.err.suffix(400))")
        #expect(FileManager.default.fileExists(atPath: cli.home + "/inbox/" + name), "a dead run moved nothing")

        let next = try cli.run(["run", "--as-of", Self.asOf])
        #expect(next.code == 2, "\(next.err)")
        #expect(next.err.contains(name), "names the file set aside: \(next.err)")
        #expect(!FileManager.default.fileExists(atPath: cli.home + "/inbox/" + name))
        let quarantined = cli.home + "/var/quarantine/2026-10-03/" + name
        #expect(FileManager.default.fileExists(atPath: quarantined), "kept whole in quarantine")
        let reason = try String(contentsOfFile: quarantined + ".reason.txt", encoding: .utf8)
        #expect(reason.contains("the gateway died (signal") && reason.contains("requeue"), "\(reason)")
        #expect(try orders(cli) == reference(without: victim), "every other file came through")

        let requeued = try cli.run(["requeue", name, "--as-of", Self.asOf])
        #expect(requeued.code == 0, "\(requeued.err)")
        let healed = try cli.run(["run", "--as-of", Self.asOf])
        #expect(healed.code == 0 || healed.code == 2, "\(healed.err)")
        #expect(try orders(cli) == reference(), "taken in once brought back")
    }

    /// SIGKILL leaves no signal: it may have come from outside (an operator, the OOM killer), so
    /// the item is tried once more, and set aside only when it dies again.
    @Test func aDeathWithoutASignalIsTriedOnceMore() throws {
        let victim = "S-2026-000102"
        let cli = try CLI()
        try cli.drop(Self.files)
        let kill = ["LD_PRELOAD": try trap(), "CAAS_TRAP_ON": "\t\(victim)\tfold\t", "CAAS_TRAP_HOW": "kill"]
        #expect(try cli.run(["run", "--as-of", Self.asOf], environment: kill).signal == SIGKILL)
        #expect(try cli.run(["run", "--as-of", Self.asOf], environment: kill).signal == SIGKILL, "tried again")
        let next = try cli.run(["run", "--as-of", Self.asOf])
        #expect(next.code == 2 && next.err.contains("fold_failed"), "set aside after its second death: \(next.err)")
        #expect(try orders(cli)[victim] == nil)

        let once = try CLI("crash-kill-once")
        try once.drop(Self.files)
        #expect(try once.run(["run", "--as-of", Self.asOf], environment: kill).signal == SIGKILL)
        let rerun = try once.run(["run", "--as-of", Self.asOf])
        #expect(rerun.code == 0 || rerun.code == 2, "\(rerun.err)")
        #expect(!rerun.err.contains("fold_failed"), "one death without a signal sets nothing aside")
        #expect(try orders(once) == reference())
    }
}
