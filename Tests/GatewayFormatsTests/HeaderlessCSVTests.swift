import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayFormats

@Suite("CSV without a header row")
struct HeaderlessCSVTests {
    static let mapping = """
        feed: legacy-cancellations
        source: dealership
        match: {name: '^CANCEL_[0-9]{8}\\.txt$'}
        format: csv
        csv: {delimiter: '|', header: false, encoding: iso-8859-1}
        facts: [{kind: sale_cancelled}]
        fields:
          order_ref: {column: 1, transforms: [trim], checks: [required]}
          occurred_at: {column: 3, transforms: [{datetime: {format: 'yyyyMMddHHmm', zone: Europe/Madrid}}]}
          reason: {column: 4, transforms: [trim]}
        """

    @Test func columnsAreBoundByPosition() throws {
        let m = try MappingLoader.parse(Self.mapping, file: "legacy.yaml")
        let dir = Fixtures.tempDir()
        // Latin-1 bytes: "Desistió" with 0xF3.
        var bytes = Array("S-2026-000102|ES-MAD-01|202610031015|Desisti".utf8) + [0xF3] + Array("\n".utf8)
        bytes += Array("S-2026-000104|ES-MAD-01|202611031200|\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/CANCEL_20261003.txt"))
        let r = try MappingTests.read(dir + "/CANCEL_20261003.txt", m)
        #expect(r.rejections.isEmpty)
        #expect(r.facts.map(\.orderRef) == ["S-2026-000102", "S-2026-000104"])
        #expect(r.facts[0].string("reason") == "Desistió")
        #expect(Timestamp.iso(r.facts[0].occurredAt) == "2026-10-03T08:15:00Z")
        #expect(r.facts[0].provenance.record == 1 && r.facts[0].provenance.line == 1)
    }

    @Test func withoutAHeaderAColumnMustBeAPosition() {
        let text = Self.mapping.replacingOccurrences(of: "order_ref: {column: 1,", with: "order_ref: {column: ref,")
        let e = MappingLoaderErrorTests().error(text)
        #expect(e?.line == 8)
        #expect(e?.message.contains("must be a position") == true)
    }
}
