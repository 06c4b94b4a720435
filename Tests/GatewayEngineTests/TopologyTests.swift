import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayEngine
@testable import GatewayStore

/// What depends on the deployment is decided once, by `Topology` (issue 26): nothing else in the
/// engine asks which store it has.
@Suite("The deployment's topology")
struct TopologyTests {
    @Test func aSingleRunnerFoldsAndClaimsInWholeBatches() throws {
        let box = try Sandbox()
        try FileManager.default.createDirectory(
            atPath: (box.config.storePath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let t = try Topology.open(box.config, access: .write)
        #expect(t.store is SQLiteStore && t.shared == nil)
        #expect(t.foldBatch == 500 && t.claim(1_000) == 1_000 && t.claimsPerPass == 1)
    }

    @Test func runnersSharingPostgreSQLTakeSmallBatchesAndComeBack() throws {
        var box = try Sandbox()
        try PostgresStoryTests.usePostgres(&box)
        let t = try Topology.open(box.config, access: .write)
        #expect(t.shared != nil && t.store is PostgresStore)
        #expect(t.foldBatch == Topology.sharedFoldBatch && t.claim(1_000) == Topology.sharedClaim && t.claim(20) == 20)
        #expect(t.claimsPerPass == Topology.maxClaimsPerPass)
    }

    /// The topology is the only place that looks at the configured backend.
    @Test func nothingElseAsksWhichStoreItHas() throws {
        let patterns = ["config.postgres", "as? PostgresStore", "as? SQLiteStore", "as! PostgresStore", "as! SQLiteStore"]
        var offenders: [String] = []
        let sources = Fixtures.repoRoot.appendingPathComponent("Sources").path
        let files = try #require(FileManager.default.enumerator(atPath: sources)).compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        #expect(files.count > 50)
        for file in files where file != "GatewayEngine/Run/Topology.swift" {
            let text = try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
            for p in patterns where text.contains(p) { offenders.append("\(file): \(p)") }
        }
        #expect(offenders.isEmpty, "ask the Topology: \(offenders)")
    }
}
