import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine

/// The expediente de compra: one JSON document per order in outbox/expedientes/, rewritten
/// atomically when, and only when, the order changes.
@Suite("The expediente de compra export")
struct ExpedienteTests {
    static func inode(_ path: String) throws -> UInt64 {
        (try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as! NSNumber).uint64Value
    }

    @Test func oneFilePerOrderRewrittenOnlyWhenTheOrderChanges() throws {
        let box = try Sandbox()
        try box.drop(Sandbox.storySales)
        _ = try box.run(asOf: "2026-10-03T23:00:00Z")
        let dir = box.config.outbox + "/expedientes"
        let names = box.files(under: dir)
        #expect(names.count == 13)
        #expect(names.contains("VD%2F2026%2F000046.json") && names.contains("S-2026-000101.json"))
        let paid = dir + "/S-2026-000101.json", unpaid = dir + "/S-2026-000104.json"
        let before = (try Self.inode(paid), try Self.inode(unpaid))

        // Nothing new: no file is touched.
        _ = try box.run(asOf: "2026-10-04T23:00:00Z")
        #expect((try Self.inode(paid), try Self.inode(unpaid)) == before)

        // The señal of S-2026-000101 arrives: its file is replaced, the unpaid order's is not.
        try box.drop(["psp/settlement_20261002.csv"])
        _ = try box.run(asOf: "2026-10-05T23:00:00Z")
        #expect(try Self.inode(paid) != before.0)
        #expect(try Self.inode(unpaid) == before.1)
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: paid))) as! [String: Any]
        #expect(doc["schema"] as? String == "caas-gateway/expediente/v1")
        #expect(doc["state"] as? String == "reserved")
        let history = (doc["payments"] as! [String: Any])["history"] as! [[String: Any]]
        #expect(history.map { $0["event"] as? String } == ["captured"])
        #expect(history.first?["amount_minor"] as? Int == 300_000)
        #expect(try FileManager.default.attributesOfItem(atPath: paid)[.posixPermissions] as? Int == 0o640)
    }

    @Test func fileNamesAreSafeAndDistinct() {
        #expect(ExpedienteWriter.fileName("S-2026-000101") == "S-2026-000101.json")
        #expect(ExpedienteWriter.fileName("VD/2026/000046") == "VD%2F2026%2F000046.json")
        #expect(ExpedienteWriter.fileName("../etc") == "%2E%2E%2Fetc.json")
        #expect(ExpedienteWriter.fileName("A_B") != ExpedienteWriter.fileName("A/B"))
    }
}
