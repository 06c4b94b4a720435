import Foundation
import GatewayFormats
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine
@testable import GatewayStore

extension SSHDServer {
    var serverConfig: SFTPServerConfig {
        var s = SFTPServerConfig(host: "127.0.0.1", user: user, key: clientKey, knownHosts: knownHosts)
        s.port = port
        s.connectTimeout = 3
        s.ioTimeout = 10
        return s
    }

    func source(_ name: String, dir: String, pattern: String, feed: String, stable: Int = 0) throws -> SourceConfig {
        var s = SourceConfig(name: name, server: serverConfig, remoteDir: dir, pattern: try Pattern(pattern), feed: feed)
        s.stableSeconds = stable
        return s
    }
}

/// Counts calls from any thread: for crash hooks that act on the n-th call.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        n += 1
        return n
    }
}

/// Flips once, from any thread: for crash hooks that must act on the first call only.
final class Once: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    func first() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if done { return false }
        done = true
        return true
    }
}

@Suite("Pull and push over SFTP, against a real OpenSSH server", .serialized)
final class SFTPTransferTests {
    let server: SSHDServer
    let remote: String

    init() throws {
        server = try SSHDServer()
        remote = Fixtures.tempDir("remote")
    }

    deinit { server.stop() }

    func copyStory(_ dir: String, _ files: [String]) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in files {
            try FileManager.default.copyItem(atPath: Fixtures.story(f), toPath: dir + "/" + (f as NSString).lastPathComponent)
        }
    }

    @Test func theWholeStoryIsPulledIngestedAndNotPulledTwice() throws {
        try copyStory(remote + "/exports/sales", Sandbox.storySales.filter { $0.hasPrefix("intranet/") })
        try copyStory(remote + "/exports/dms", Sandbox.storySales.filter { $0.hasPrefix("dealer-dms/") })
        var box = try Sandbox()
        var sales = try server.source("intranet", dir: remote + "/exports/sales", pattern: "^SALES_.*\\.xml$", feed: "intranet-sales")
        sales.after = .move(remote + "/exports/sales/done")
        box.config.sources = [
            sales, try server.source("dms", dir: remote + "/exports/dms", pattern: "^VENDAS_.*\\.csv$", feed: "dms-sales-pt"),
        ]
        let s = try box.run()
        #expect(s.failedEndpoints.isEmpty, "\(s.failedEndpoints)")
        #expect(s.pulled == 14)
        #expect(s.count(.ingested) == 13 && s.count(.duplicate) == 1 && s.recordsRejected == 1)
        #expect(try box.gateway().orders().filter { $0.state == .awaitingReservation }.count == 13)
        // After-actions: moved once the local copy was durable; the DMS files stay where they were.
        #expect(box.files(under: remote + "/exports/sales").allSatisfy { $0.hasPrefix("done/") })
        #expect(box.files(under: remote + "/exports/dms").count == 2)
        #expect(box.files(under: box.inbox).isEmpty)

        let again = try box.run(asOf: "2026-10-03T23:30:00Z")
        #expect(again.pulled == 0 && again.files.isEmpty && again.changedNothing)
    }

    @Test func aGrowingFileIsNotTakenUntilItIsStable() throws {
        let dir = remote + "/caas/events"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/VENDAS_PT-LIS-01_20261010.csv"
        try Fixtures.write("ref_venda;data_registo\r\n", path)
        var box = try Sandbox()
        box.config.sources = [try server.source("dms", dir: dir, pattern: "^VENDAS_", feed: "dms-sales-pt", stable: 1)]
        let g = try box.gateway()
        #expect(try g.pull(asOf: Date()).pullWaiting == 1)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        h.seekToEndOfFile()
        h.write(Data("VD/2026/000099;10/10/2026 10:00\r\n".utf8))
        try h.close()
        let second = try g.pull(asOf: Date())
        #expect(second.pulled == 0 && second.pullWaiting == 1)  // it grew since the first look
        #expect(box.files(under: box.inbox).isEmpty)
        Thread.sleep(forTimeInterval: 1.2)
        #expect(try g.pull(asOf: Date()).pulled == 1)
        let local = try String(contentsOfFile: box.inbox + "/dms-sales-pt/VENDAS_PT-LIS-01_20261010.csv", encoding: .utf8)
        #expect(local.hasSuffix("VD/2026/000099;10/10/2026 10:00\r\n"))
    }

    @Test func aDoneMarkerGatesTheFileAndIsNotItselfPulled() throws {
        let dir = remote + "/status"
        try copyStory(dir, ["intranet/SALES_FR-LYO-01_20261001233000.xml"])
        var box = try Sandbox()
        var src = try server.source("factory", dir: dir, pattern: "^SALES_", feed: "intranet-sales")
        src.doneMarker = ".done"
        box.config.sources = [src]
        let g = try box.gateway()
        #expect(try g.pull(asOf: Date()).pulled == 0)
        try Fixtures.write("", dir + "/SALES_FR-LYO-01_20261001233000.xml.done")
        #expect(try g.pull(asOf: Date()).pulled == 1)
        #expect(box.files(under: box.inbox) == ["intranet-sales/SALES_FR-LYO-01_20261001233000.xml"])
    }

    @Test func aConnectionCutMidTransferLeavesNoPartialFileAndTheNextPullCompletes() throws {
        let dir = remote + "/big"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var bytes = [UInt8](repeating: 0, count: 48 << 20)
        for i in stride(from: 0, to: bytes.count, by: 4096) { bytes[i] = UInt8(truncatingIfNeeded: i >> 12) }
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/VENDAS_PT-LIS-01_20261011.csv"))
        var box = try Sandbox()
        box.config.sources = [try server.source("dms", dir: dir, pattern: "^VENDAS_", feed: "dms-sales-pt")]
        box.config.retry = RetryPolicy(attempts: 2, firstDelay: 0, maxDelay: 0)
        let once = Once()
        let server = self.server
        let cut = try box.gateway(crash: { point in
            if point == "pull.transferring" && once.first() { server.stop() }
        }).pull(asOf: Date())
        #expect(cut.pulled == 0)
        #expect(cut.failedEndpoints["source dms"] != nil)
        #expect(box.files(under: box.inbox).isEmpty)  // no partial file, hidden or not
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.inbox + "/dms-sales-pt").isEmpty)

        try server.start()
        let resumed = try box.gateway().pull(asOf: Date())
        #expect(resumed.pulled == 1 && resumed.failedEndpoints.isEmpty)
        let local = box.inbox + "/dms-sales-pt/VENDAS_PT-LIS-01_20261011.csv"
        #expect(try Data(contentsOf: URL(fileURLWithPath: local)) == Data(bytes))
        #expect(try box.gateway().pull(asOf: Date()).pulled == 0)  // never twice
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.inbox + "/dms-sales-pt") == ["VENDAS_PT-LIS-01_20261011.csv"])
    }

    @Test func aSourceThatFailsMidwayKeepsWhatItAlreadyFetched() throws {
        let dir = remote + "/many"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for i in 1...3 { try Fixtures.write("file \(i)\n", dir + "/VENDAS_PT-LIS-01_2026101\(i).csv") }
        var box = try Sandbox()
        box.config.sources = [try server.source("dms", dir: dir, pattern: "^VENDAS_", feed: "dms-sales-pt")]
        box.config.retry = RetryPolicy(attempts: 1, firstDelay: 0, maxDelay: 0)
        let calls = Counter()
        let server = self.server
        let first = try box.gateway(crash: { point in
            if point == "pull.transferring" && calls.next() == 2 { server.stop() }
        }).pull(asOf: Date())
        #expect(first.failedEndpoints["source dms"] != nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.inbox + "/dms-sales-pt") == ["VENDAS_PT-LIS-01_20261011.csv"])
        try server.start()
        let second = try box.gateway().pull(asOf: Date())
        #expect(second.pulled == 2)  // the first file is in the ledger: not fetched again
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.inbox + "/dms-sales-pt").count == 3)
    }

    @Test func aChangedHostKeyIsRefusedAndTheOtherSourcesCarryOn() throws {
        let other = try SSHDServer()
        defer { other.stop() }
        try copyStory(remote + "/a", ["intranet/SALES_FR-LYO-01_20261001233000.xml"])
        try copyStory(remote + "/b", ["intranet/SALES_DE-MUC-01_20261001233000.xml"])
        var box = try Sandbox()
        box.config.sources = [
            try server.source("bank", dir: remote + "/a", pattern: "^SALES_", feed: "intranet-sales"),
            try other.source("psp", dir: remote + "/b", pattern: "^SALES_", feed: "intranet-sales"),
        ]
        let known = try String(contentsOfFile: server.knownHosts, encoding: .utf8)
        try server.replaceHostKey()
        try known.write(toFile: server.knownHosts, atomically: true, encoding: .utf8)
        let s = try box.run()
        #expect(s.pulled == 1)
        let why = try #require(s.failedEndpoints["source bank"])
        #expect(why.contains("has CHANGED") && why.contains("SHA256:"))
        #expect(box.files(under: box.config.archiveDir) == ["intranet-sales/2026/10/SALES_DE-MUC-01_20261001233000.xml"])
        let report = try String(contentsOfFile: box.config.reportsDir + "/2026-10-03/report.csv", encoding: .utf8)
        #expect(report.contains("integration,pull_failed,,bank"))
    }

    @Test func remoteNamesThatCouldEscapeOrHideAreRefused() throws {
        let dir = remote + "/weird"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in [".SALES_hidden.xml", "..SALES_up.xml", "SALES_new\nline.xml", "SALES_ok.xml"] {
            try Fixtures.write("<x/>", dir + "/" + name)
        }
        var box = try Sandbox()
        box.config.sources = [try server.source("intranet", dir: dir, pattern: ".*", feed: "intranet-sales")]
        let s = try box.gateway().pull(asOf: Date())
        #expect(s.transfersRefused == 3)
        #expect(s.pulled == 1)
        #expect(box.files(under: box.inbox) == ["intranet-sales/SALES_ok.xml"])
        #expect(Puller.unsafeNameReason("../etc/passwd") != nil)
        #expect(Puller.unsafeNameReason("a\u{7F}b") != nil)
        #expect(Puller.unsafeNameReason("SALES_ES-MAD-01_20261001233000.xml") == nil)
    }

    @Test func aCrashBeforeTheLedgerCommitLosesNothingAndDoublesNothing() throws {
        try copyStory(remote + "/sales", ["intranet/SALES_FR-LYO-01_20261001233000.xml"])
        var box = try Sandbox()
        var src = try server.source("intranet", dir: remote + "/sales", pattern: "^SALES_", feed: "intranet-sales")
        src.after = .delete
        box.config.sources = [src]
        #expect(throws: SimulatedCrash.self) {
            try box.run(crash: { if $0 == "pull.inInbox" { throw SimulatedCrash() } })
        }
        // The file is in the inbox, but not in the ledger: the remote copy must still be there.
        #expect(box.files(under: remote + "/sales") == ["SALES_FR-LYO-01_20261001233000.xml"])
        let s = try box.run()
        #expect(s.failedEndpoints.isEmpty)
        #expect(box.files(under: remote + "/sales").isEmpty)  // deleted only now, after the ledger commit
        let g = try box.gateway()
        #expect(try g.orders().map(\.ref) == ["S-2026-000201"])
        #expect(try g.storeForQueries.facts(orderRef: "S-2026-000201").filter { $0.kind == .saleRegistered }.count == 1)
        #expect(box.files(under: box.inbox).isEmpty)
    }

    @Test func aFileWhoseTrailerCountIsShortWaitsUntilItIsComplete() throws {
        let dir = remote + "/sales"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let full = try String(contentsOfFile: Fixtures.story("intranet/SALES_ES-MAD-01_20261001233000.xml"), encoding: .utf8)
        let partial = full.replacingOccurrences(of: #"count="2""#, with: #"count="3""#)
        try Fixtures.write(partial, dir + "/SALES_ES-MAD-01_20261001233000.xml")
        var box = try Sandbox()
        var src = try server.source("intranet", dir: dir, pattern: "^SALES_", feed: "intranet-sales")
        src.trailerCount = true
        box.config.sources = [src]
        let g = try box.gateway()
        let first = try g.pull(asOf: Date())
        #expect(first.pulled == 0 && first.pullWaiting == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.inbox + "/intranet-sales").isEmpty)
        try Fixtures.write(full, dir + "/SALES_ES-MAD-01_20261001233000.xml")
        #expect(try g.pull(asOf: Date()).pulled == 1)
    }

    @Test func aDryRunNeitherPullsNorPushes() throws {
        try copyStory(remote + "/sales", ["intranet/SALES_FR-LYO-01_20261001233000.xml"])
        var box = try Sandbox()
        var src = try server.source("intranet", dir: remote + "/sales", pattern: "^SALES_", feed: "intranet-sales")
        src.after = .delete
        box.config.sources = [src]
        box.config.destinations = [
            DestinationConfig(name: "crm", server: server.serverConfig, remoteDir: remote + "/crm", outbox: "reports")
        ]
        let s = try box.gateway().run(asOf: Timestamp.parseISO("2026-10-03T23:00:00Z")!, dryRun: true)
        #expect(s.pulled == 0 && s.pushed == 0)
        #expect(box.files(under: remote + "/sales") == ["SALES_FR-LYO-01_20261001233000.xml"])  // not deleted
        #expect(!FileManager.default.fileExists(atPath: remote + "/crm"))
    }

    @Test func pushFollowsEachExistsPolicyAndNeverPushesTwice() throws {
        var box = try Sandbox()
        try Fixtures.write("{\"n\":1}\n", box.config.outbox + "/notifications/run-1.ndjson")
        for policy in ["fail", "overwrite", "keep_both"] {
            try Fixtures.write("already there\n", remote + "/\(policy)/run-1.ndjson")
        }
        box.config.destinations = [DestinationConfig.IfExists.fail, .overwrite, .keepBoth].map { p in
            var d = DestinationConfig(
                name: p.rawValue, server: server.serverConfig, remoteDir: remote + "/" + p.rawValue, outbox: "notifications")
            d.ifExists = p
            return d
        }
        let g = try box.gateway()
        let s = try g.push(asOf: Date())
        #expect(s.pushed == 2 && s.transfersRefused == 1 && s.failedEndpoints.isEmpty)
        let read = { (p: String) in try String(contentsOfFile: self.remote + "/" + p, encoding: .utf8) }
        #expect(try read("fail/run-1.ndjson") == "already there\n")
        #expect(try read("overwrite/run-1.ndjson") == "{\"n\":1}\n")
        #expect(try read("keep_both/run-1.ndjson") == "already there\n")
        #expect(try read("keep_both/run-1~2.ndjson") == "{\"n\":1}\n")
        #expect(!box.files(under: remote).contains { $0.contains(".part") })
        let again = try g.push(asOf: Date())
        #expect(again.pushed == 0 && again.transfersRefused == 1)  // the refused one is tried, and refused, again
    }
}
