import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine
@testable import GatewayStore

@Suite("The partner story through the factory feeds")
struct FactoryStoryTests {
    /// Every story file dated on or before `day` (yyyyMMdd), from the feeds that have mappings.
    static func storyFiles(through day: String) -> [String] {
        ["intranet", "dealer-dms", "psp", "bank", "factory", "carrier", "iot"].flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(atPath: Fixtures.story(dir))) ?? []).sorted().compactMap { name in
                guard let r = name.range(of: "2026[0-9]{4}", options: .regularExpression) else { return nil }
                return String(name[r]) <= day ? "\(dir)/\(name)" : nil
            }
        }
    }

    @Test func ordersFollowTheirFactoryFilesTheLostFileAndTheOrphanAreReported() throws {
        let box = try Sandbox()
        try box.drop(Self.storyFiles(through: "20261020"))
        let s = try box.run(asOf: "2026-10-20T23:00:00Z")
        #expect(s.count(.quarantined) == 0 && s.recordsRejected == 1)
        let state = Dictionary(uniqueKeysWithValues: try box.gateway().orders().map { ($0.ref, $0.state) })
        #expect(state["S-2026-000101"] == .readyToShip && state["S-2026-000301"] == .readyToShip)
        #expect(state["S-2026-000202"] == .inProduction && state["VD/2026/000045"] == .inProduction)
        #expect(state["S-2026-000103"] == .qualityControl && state["S-2026-000401"] == .qualityControl)
        #expect(state["S-2026-000303"] == .awaitingReservation)
        let views = try box.gateway().storeForQueries.projections()
        #expect(views.first { $0.ref == "S-2026-000101" }?.vin == "VSCCAE108V3047010")
        #expect(views.first { $0.ref == "S-2026-000101" }?.factoryOrder == "FO-VLC1-0004701")
        #expect(views.first { $0.ref == "S-2026-000999" }?.anomalies.map(\.code) == [.unknownOrder])
        #expect(try box.gateway().storeForQueries.sequenceGaps() == [SequenceGap(feed: "factory-vlc1", scope: "VLC1", missing: [5])])
        let report = try String(contentsOfFile: box.config.reportsDir + "/2026-10-20/report.csv", encoding: .utf8)
        #expect(report.contains("integration,file_lost,,factory-vlc1 VLC1,"))
        #expect(report.contains("files numbered 5 never arrived"))
        #expect(report.contains("integration,unknown_order,S-2026-000999,"))
    }

    @Test func aLateFileFillsItsGapAndAShortTrailerIsQuarantinedWhole() throws {
        let box = try Sandbox()
        try box.drop(["factory/MFGSTATUS_VLC1_20261003200000_00001.xml", "factory/MFGSTATUS_VLC1_20261005200000_00003.xml"])
        _ = try box.run()
        #expect(try box.gateway().storeForQueries.sequenceGaps().first?.missing == [2])
        try box.drop(["factory/MFGSTATUS_VLC1_20261004200000_00002.xml"])
        _ = try box.run(asOf: "2026-10-04T23:00:00Z")
        #expect(try box.gateway().storeForQueries.sequenceGaps().isEmpty)

        let full = try String(contentsOfFile: Fixtures.story("factory/MFGSTATUS_VLC1_20261007200000_00004.xml"), encoding: .utf8)
        let cut = full.replacingOccurrences(of: #"<Trailer eventCount=""#, with: #"<Trailer eventCount="9"#)
        #expect(cut != full)
        try Fixtures.write(cut, box.inbox + "/MFGSTATUS_VLC1_20261007200000_00004.xml")
        let s = try box.run(asOf: "2026-10-07T23:00:00Z")
        #expect(s.count(.quarantined) == 1 && s.factsNew == 0)
    }
}
