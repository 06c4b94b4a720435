import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayFormats

@Suite("Records inside records, parent steps, namespace versions, skips")
struct NestedRecordTests {
    static let mapping = """
        feed: statements
        match: {name: '^stmt_.*\\.xml$'}
        format: xml
        xml:
          namespaces: {b: ['urn:bank:v1', 'urn:bank:v2']}
          record: /b:Doc/b:Entry
          each: b:Items/b:Item
        facts:
          - {skip: not a credit, when: {field: direction, not_equals: CRDT}}
          - kind: payment
        key: [payment_id]
        fields:
          direction: {path: ../../b:Dir}
          payment_id: {path: [b:Ref, ../../@id]}
          order_ref: {path: b:Ref}
          occurred_at: {path: ../../b:Date, transforms: [{datetime: iso8601}]}
          event: {value: captured}
          amount_minor: {path: b:Amt, transforms: [{decimal: {separator: '.', minor_units: 2}}]}
          currency: {path: b:Amt/@ccy}
        """

    static func doc(_ ns: String) -> String {
        """
        <Doc xmlns="\(ns)">
          <Entry id="E1"><Dir>CRDT</Dir><Date>2026-10-06</Date>
            <Items><Item><Ref>S-2026-000101</Ref><Amt ccy="EUR">10.50</Amt></Item><Item><Ref>S-2026-000102</Ref><Amt ccy="EUR">2.00</Amt></Item></Items>
          </Entry>
          <Entry id="E2"><Dir>DBIT</Dir><Date>2026-10-06</Date><Items><Item><Ref>S-2026-000103</Ref><Amt ccy="EUR">1.00</Amt></Item></Items></Entry>
        </Doc>
        """
    }

    @Test(arguments: ["urn:bank:v1", "urn:bank:v2"])
    func eachItemIsARecordThatSeesItsEntry(_ ns: String) throws {
        let m = try MappingLoader.parse(Self.mapping, file: "s.yaml")
        let dir = Fixtures.tempDir()
        try Fixtures.write(Self.doc(ns), dir + "/stmt_1.xml")
        var facts: [Fact] = []
        var skipped: [String] = []
        let summary = try FeedReader.read(path: dir + "/stmt_1.xml", mapping: m, fileHash: "h", fileName: "stmt_1.xml") {
            switch $0 {
            case .fact(let f): facts.append(f)
            case .skipped(let why): skipped.append(why)
            case .rejected(let r): Issue.record("rejected: \(r)")
            }
        }
        #expect(facts.map(\.orderRef) == ["S-2026-000101", "S-2026-000102"])
        #expect(facts.map { $0.int("amount_minor") } == [1050, 200])
        #expect(facts.allSatisfy { Timestamp.iso($0.occurredAt) == "2026-10-06T00:00:00Z" })
        #expect(facts.map(\.provenance.record) == [1, 2] && facts.map(\.provenance.line) == [3, 3])
        #expect(skipped == ["not a credit"])
        #expect(summary == FeedReader.Summary(records: 3, accepted: 2, rejected: 0, skipped: 1))
    }

    @Test func anotherNamespaceIsNotMatched() throws {
        let m = try MappingLoader.parse(Self.mapping, file: "s.yaml")
        let dir = Fixtures.tempDir()
        try Fixtures.write(Self.doc("urn:bank:v3"), dir + "/stmt_1.xml")
        // Not silently empty: the file is another version of the format, and the reason says so.
        let e = #expect(throws: FileProblem.self) {
            try FeedReader.read(path: dir + "/stmt_1.xml", mapping: m, fileHash: "h", fileName: "stmt_1.xml") { _ in }
        }
        #expect(e?.message.contains("is in namespace urn:bank:v3, not urn:bank:v1 or urn:bank:v2") == true, "\(String(describing: e))")
    }

    @Test func pathsMayNotClimbAboveTheRecord() {
        let tooHigh = Self.mapping.replacingOccurrences(of: "direction: {path: ../../b:Dir}", with: "direction: {path: ../../../b:Dir}")
        let e = MappingLoaderErrorTests().error(tooHigh)
        #expect(e?.message.contains("climbs above the record") == true)
        #expect(e?.line == 13)
        let badEach = Self.mapping.replacingOccurrences(of: "each: b:Items/b:Item", with: "each: ../b:Other")
        #expect(MappingLoaderErrorTests().error(badEach)?.message.contains("xml.each must be a path of elements") == true)
        let unbound = Self.mapping.replacingOccurrences(of: "field: direction, not_equals", with: "field: sense, not_equals")
        #expect(MappingLoaderErrorTests().error(unbound)?.message.contains("skip condition reads field 'sense'") == true)
    }
}

@Suite("Searching several fields for a value")
struct SearchBindingTests {
    static func mapping(search: Bool) -> String {
        """
        feed: refs
        source: dealership
        match: {name: '^r\\.csv$'}
        format: csv
        facts: [{kind: sale_cancelled}]
        fields:
          order_ref:
            column: [memo, e2e]
            transforms: [{extract: '(?i)\\b(S-[0-9]{4}-[0-9]{6})\\b'}, upper]
            search: \(search)
          occurred_at: {value: '2026-10-06', transforms: [{datetime: iso8601}]}
          reason: {column: reason, transforms: [{default: none given}]}
        """
    }

    @Test func theFirstSourceThatYieldsAValueWins() throws {
        let dir = Fixtures.tempDir()
        try Fixtures.write("memo,e2e,reason\nThanks for the car,E2E-s-2026-000202-33,\nreserva S-2026-000203,,late\n", dir + "/r.csv")
        let r = try MappingTests.read(dir + "/r.csv", try MappingLoader.parse(Self.mapping(search: true), file: "m.yaml"))
        #expect(r.facts.map(\.orderRef) == ["S-2026-000202", "S-2026-000203"])
        #expect(r.facts.map { $0.string("reason") } == ["none given", "late"])  // a default still applies to an empty column
        let strict = try MappingTests.read(dir + "/r.csv", try MappingLoader.parse(Self.mapping(search: false), file: "m.yaml"))
        #expect(strict.facts.map(\.orderRef) == ["S-2026-000203"])
        #expect(strict.rejections.first?.first?.field == "order_ref")
    }
}
