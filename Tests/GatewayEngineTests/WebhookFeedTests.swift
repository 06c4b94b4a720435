import Foundation
import GatewayCore
import GatewayFormats
import GatewayTestSupport
import Testing

@testable import GatewayEngine

/// The factory's pushed status events, as the receiver writes them into inbox/factory-webhooks/:
/// read through `format: json`, the same facts as the plant's status files, and one fact for an
/// event that came both ways.
@Suite("Factory webhooks as a JSON feed")
struct WebhookFeedTests {
    static func delivery(order: String = "S-2026-000103", code: String = "ORDER_CONFIRMED", at: String = "2026-10-04T07:00:00Z") -> String {
        """
        {"type": "manufacturing.status", "id": "evt_\(code)", "occurred_at": "\(at)",
         "data": {"plant": "VLC1", "order_ref": "\(order)", "factory_order": "FO-VLC1-0004703",
                  "code": "\(code)", "estimated_completion": "2026-11-07"}}
        """
    }

    @Test func aDeliveryIsTheSameFactAsTheStatusFileEvent() throws {
        let box = try Sandbox()
        try box.drop(["factory/MFGSTATUS_VLC1_20261004200000_00002.xml"])
        // The same event, pushed: its time in UTC where the file wrote +01:00.
        try FileManager.default.createDirectory(atPath: box.inbox + "/factory-webhooks", withIntermediateDirectories: true)
        try Self.delivery().write(
            toFile: box.inbox + "/factory-webhooks/wh_20261004070001_msg_1.json", atomically: true, encoding: .utf8)
        let files = try box.gateway().ingest(asOf: Timestamp.parseISO("2026-10-04T23:00:00Z")!).files
        #expect(files.count == 2 && files.allSatisfy { $0.outcome == .ingested && $0.counts?.rejected == 0 }, "\(files)")
        let facts = try box.gateway().storeForQueries.facts(orderRef: "S-2026-000103").filter { $0.kind == .manufacturingEvent }
        #expect(facts.count == 1, "\(facts.map(\.id))")
        #expect(files.map { $0.counts?.factsNew ?? 0 }.reduce(0, +) == 1)
    }

    @Test func deliveriesAloneMoveTheOrderAsTheFilesWould() throws {
        let byFile = try Sandbox("byFile"), byHook = try Sandbox("byHook")
        let sales = ["intranet/SALES_ES-MAD-01_20261001233000.xml"]
        try byFile.drop(sales)
        try byHook.drop(sales)
        try byFile.drop(["factory/MFGSTATUS_VLC1_20261004200000_00002.xml"])
        try FileManager.default.createDirectory(atPath: byHook.inbox + "/factory-webhooks", withIntermediateDirectories: true)
        try Self.delivery().write(toFile: byHook.inbox + "/factory-webhooks/wh_20261004070001_m1.json", atomically: true, encoding: .utf8)
        for box in [byFile, byHook] { _ = try box.run(asOf: "2026-10-04T23:00:00Z") }
        let a = try byFile.gateway().storeForQueries.projection(ref: "S-2026-000103")
        let b = try byHook.gateway().storeForQueries.projection(ref: "S-2026-000103")
        #expect(
            a?.state == b?.state && a?.factoryOrder == b?.factoryOrder && a?.eta == b?.eta,
            "\(String(describing: a?.state)) \(String(describing: b?.state))")
    }

    @Test func jsonRecordsPathsAndNDJSON() throws {
        let dir = Fixtures.tempDir()
        let m = try MappingLoader.parse(
            """
            feed: events
            match: {name: '^e.*\\\\.ndjson$'}
            format: json
            json: {record: items, lines: true}
            facts: [{kind: app_link_event}]
            key: [order_ref, event]
            fields:
              order_ref: {path: ref}
              event: {path: what, transforms: [lower]}
              vin: {path: /vehicle/vin}
              detail: {path: tags}
              occurred_at: {path: /at, transforms: [{datetime: iso8601}]}
            """, file: "e.yaml")
        try """
        {"at": "2026-11-10T11:00:00Z", "vehicle": {"vin": "WC9CAE105V3012010"}, "items": [{"ref": "S-1", "what": "LINKED", "tags": ["a", "b"]}, {"ref": "S-2", "what": "UNLINKED", "tags": 7}]}

        {"at": "2026-11-10T12:00:00Z", "vehicle": {"vin": "WC9CAE105V3012010"}, "items": {"ref": "S-3", "what": "LINK_FAILED", "tags": true}}
        {"at": not json}
        """.write(toFile: dir + "/e1.ndjson", atomically: true, encoding: .utf8)
        var facts: [Fact] = []
        let e = #expect(throws: FileProblem.self) {
            try FeedReader.read(path: dir + "/e1.ndjson", mapping: m, fileHash: "h", fileName: "e1.ndjson") { o in
                if case .fact(let f) = o { facts.append(f) }
            }
        }
        #expect(e?.line == 4 && e?.message.contains("not valid JSON") == true, "\(String(describing: e))")
        #expect(facts.map(\.orderRef) == ["S-1", "S-2", "S-3"])
        #expect(facts.map { $0.string("vin") } == Array(repeating: "WC9CAE105V3012010", count: 3))
        #expect(facts.map { $0.string("detail") } == ["a|b", "7", "true"])  // several values, as for XML
        #expect(facts.map(\.provenance.line) == [1, 1, 3])
    }
}
