import Foundation
import GatewayCore
import GatewayStore
import GatewayTestSupport
import Testing

@testable import GatewayEngine
@testable import GatewayFormats
@testable import GatewayTransport

/// The classes of hostile input a corpus written independently of the project found getting
/// through: each one refused where it belongs, with a reason that says what and where.
@Suite("Hostile input", .serialized)
struct HostileInputTests {
    static let dms = "dealer-dms/VENDAS_PT-LIS-01_20261002.csv"

    func ingest(_ box: Sandbox, asOf: String = "2026-10-10T23:00:00Z") throws -> [FileOutcome] {
        try box.gateway().ingest(asOf: Timestamp.parseISO(asOf)!).files
    }

    func write(_ box: Sandbox, _ name: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: box.inbox, withIntermediateDirectories: true)
        try text.write(toFile: box.inbox + "/" + name, atomically: true, encoding: .utf8)
    }

    func story(_ path: String) throws -> String { try String(contentsOfFile: Fixtures.story(path), encoding: .utf8) }

    @Test func aReusedSequenceNumberIsQuarantinedAGapFillerTakenAResendADuplicate() throws {
        let box = try Sandbox()
        let two = "factory/MFGSTATUS_VLC1_20261004200000_00002.xml"
        try box.drop(["factory/MFGSTATUS_VLC1_20261003200000_00001.xml", two, "factory/MFGSTATUS_VLC1_20261007200000_00004.xml"])
        #expect(try ingest(box).allSatisfy { $0.outcome == .ingested })
        // Number 2 again, other content, written after its successor: not the same file.
        let reused = try story(two).replacingOccurrences(of: "ORDER_CONFIRMED", with: "PRODUCTION_STARTED")
            .replacingOccurrences(of: "generated=\"2026-10-04T20:00:00+01:00\"", with: "generated=\"2026-10-08T20:00:00+01:00\"")
        try write(box, "MFGSTATUS_VLC1_20261008200000_00002.xml", reused)
        // Number 3 was missing: late, it fills the gap.
        let three = try story("factory/MFGSTATUS_VLC1_20261005200000_00003.xml")
        try write(box, "MFGSTATUS_VLC1_20261005200000_00003.xml", three)
        // Number 2 resent with the same bytes under another name.
        try write(box, "MFGSTATUS_VLC1_20261009200000_00002.xml", try story(two))
        let out = Dictionary(uniqueKeysWithValues: try ingest(box).map { ($0.name, $0) })
        let q = try #require(out["MFGSTATUS_VLC1_20261008200000_00002.xml"])
        #expect(q.outcome == .quarantined, "\(q)")
        #expect(
            q.detail?.contains("number 2 of VLC1's sequence is already used by MFGSTATUS_VLC1_20261004200000_00002.xml") == true,
            "\(q.detail ?? "")")
        #expect(out["MFGSTATUS_VLC1_20261005200000_00003.xml"]?.outcome == .ingested)
        #expect(out["MFGSTATUS_VLC1_20261009200000_00002.xml"]?.outcome == .duplicate)
        // Nothing of the reused file reached the order: its code never became a fact.
        let facts = try box.gateway().storeForQueries.facts(orderRef: "S-2026-000103")
        #expect(
            !facts.contains { $0.fields["code"] == .string("production_started") && $0.provenance.fileName?.contains("20261008") == true })
    }

    @Test func aHugeFieldRejectsItsRecordAndTheReaderKeepsOnlyTheCap() throws {
        let box = try Sandbox()
        let text = try story(Self.dms)
        // 40 MiB of street in the sale; the next day's file, beside it, is untouched.
        let parts = text.components(separatedBy: "\"Rua Augusta, 100\r\n2º Esq.\"")
        #expect(parts.count == 2)
        var bytes = Data(parts[0].utf8)
        bytes.append(Data(repeating: UInt8(ascii: "A"), count: 40 << 20))
        bytes.append(Data(parts[1].utf8))
        try FileManager.default.createDirectory(atPath: box.inbox, withIntermediateDirectories: true)
        try bytes.write(to: URL(fileURLWithPath: box.inbox + "/VENDAS_PT-LIS-01_20261002.csv"))
        try box.drop(["dealer-dms/VENDAS_PT-LIS-01_20261003.csv"])
        let files = Dictionary(uniqueKeysWithValues: try ingest(box).map { ($0.name, $0) })
        let f = try #require(files["VENDAS_PT-LIS-01_20261002.csv"])
        #expect(f.outcome == .ingested, "\(f.detail ?? "")")
        #expect(f.counts?.rejected == 1, "\(String(describing: f.counts))")
        #expect(files["VENDAS_PT-LIS-01_20261003.csv"]?.counts?.accepted ?? 0 >= 1)
        let r = try #require(f.rejections.first)
        #expect(r.field == "customer.street" || r.field == "delivery.street", "\(r)")
        #expect(r.reason.contains("longer than 16384 bytes"), "\(r.reason)")
        #expect(r.recordRef == "VD/2026/000045")

        // The reader itself never holds more of a field than the cap.
        let path = box.root + "/huge.csv"
        try ("a;b\n1;" + String(repeating: "x", count: 3 << 20) + "\n2;ok\n").write(toFile: path, atomically: true, encoding: .utf8)
        var d = CSVDialect(delimiter: UInt8(ascii: ";"))
        d.maxFieldBytes = 1000
        var seen: [(Int, Bool)] = []
        try CSVReader(path: path, dialect: d).read { r in seen.append((r.bytes(r.count - 1).count, r.isTooLong(r.count - 1))) }
        #expect(seen.map(\.0) == [1, 1000, 2] && seen.map(\.1) == [false, true, false], "\(seen)")
    }

    @Test func controlCharactersInTextRejectTheRecordButTabsAndLineBreaksDoNot() throws {
        let box = try Sandbox()
        let text = try story(Self.dms)
        // A NUL inside the first customer's given name; the second sale keeps its line break in the address.
        try write(box, "VENDAS_PT-LIS-01_20261002.csv", text.replacingOccurrences(of: "João;", with: "Jo\u{0}ão;"))
        let f = try #require(try ingest(box).first)
        #expect(f.counts?.rejected == 1, "\(String(describing: f.counts))")
        #expect(f.rejections.first?.field == "customer.given_name")
        #expect(f.rejections.first?.reason.contains("control character (U+0000)") == true, "\(f.rejections)")
        for c in [0x01, 0x08, 0x0B, 0x1B, 0x1F, 0x7F] {
            #expect(RecordMapper.controlCharacter("a\(Character(UnicodeScalar(UInt8(c))))b") != nil, "\(c)")
        }
        for ok in ["a\tb", "a\nb", "a\r\nb", "ñandú 東京"] { #expect(RecordMapper.controlCharacter(ok) == nil, "\(ok.debugDescription)") }
        // Nothing with the NUL reached a notification: the sale was not taken at all.
        _ = try box.run(asOf: "2026-10-03T23:00:00Z")
        #expect(try box.notifications().allSatisfy { !(($0["name"] as? String) ?? "").contains("\u{0}") })
    }

    @Test func headersMatchIgnoringCaseAndSpacesAndARepeatedColumnQuarantines() throws {
        let box = try Sandbox()
        let text = try story(Self.dms)
        let header = String(text.prefix { $0 != "\n" && $0 != "\r\n" })
        let upper = text.replacingOccurrences(of: header, with: header.uppercased().replacingOccurrences(of: ";", with: " ; "))
        try write(box, "VENDAS_PT-LIS-01_20261002.csv", upper)
        let f = try #require(try ingest(box).first)
        #expect(f.outcome == .ingested && f.counts?.rejected == 0, "\(f)")

        let box2 = try Sandbox("repeated")
        try write(box2, "VENDAS_PT-LIS-01_20261002.csv", text.replacingOccurrences(of: ";moeda;", with: ";nif;"))
        let g = try #require(try ingest(box2).first)
        #expect(g.outcome == .quarantined, "\(g)")
        #expect(g.detail?.contains("the header repeats column nif (fields 4 and 17)") == true, "\(g.detail ?? "")")
    }

    @Test func reasonsSayWhatIsWrongNeverTheValueAndNameTheRealProblem() throws {
        let box = try Sandbox()
        let text = try story(Self.dms)
        try write(box, "VENDAS_PT-LIS-01_20261002.csv", text.replacingOccurrences(of: "34990,00", with: "12,34,56"))
        let f = try #require(try ingest(box).first)
        let r = try #require(f.rejections.first, "\(f.outcome) \(f.detail ?? "")")
        #expect(!r.reason.contains("12,34,56") && r.reason.contains("(8 characters)") && r.reason.contains("not an amount"), "\(r.reason)")

        // gzip data is said to be gzip, not "not valid UTF-8".
        let gz = HostileCorpus.gzip(Data(text.utf8))
        try FileManager.default.createDirectory(atPath: box.inbox, withIntermediateDirectories: true)
        try gz.write(to: URL(fileURLWithPath: box.inbox + "/VENDAS_PT-LIS-01_20261003.csv"))
        // A sales export of an unknown namespace is said to be one, not "no record count".
        let sales = try story("intranet/SALES_ES-MAD-01_20261001233000.xml").replacingOccurrences(
            of: "urn:caas:intranet:sales:2", with: "urn:caas:intranet:sales:3")
        try write(box, "SALES_ES-MAD-01_20261005233000.xml", sales)
        let out = Dictionary(uniqueKeysWithValues: try ingest(box).map { ($0.name, $0) })
        #expect(out["VENDAS_PT-LIS-01_20261003.csv"]?.detail?.contains("the file is gzip-compressed, not CSV text") == true, "\(out)")
        let ns = out["SALES_ES-MAD-01_20261005233000.xml"]?.detail ?? ""
        #expect(ns.contains("is in namespace urn:caas:intranet:sales:3") && ns.contains("Add its namespace"), "\(ns)")
    }

    @Test func unsafeRemoteNamesAreRefusedReportedAndTheListingGoesOn() throws {
        // An empty name in the middle of a listing is an entry, not its end.
        func e(_ name: String, dir: Bool = false) -> SFTPClient.ListedName {
            .init(
                length: name.utf8.count, hasAttributes: true,
                entry: RemoteEntry(name: name, size: 1, mtime: 1, isRegularFile: !dir, isDirectory: dir))
        }
        var answers = [e("a.xml"), e(""), e(".", dir: true), e(".."), e("b.xml")]
        answers.append(
            .init(
                length: 0, hasAttributes: false, entry: RemoteEntry(name: "", size: 0, mtime: 0, isRegularFile: false, isDirectory: false)))
        var i = 0
        let listed = SFTPClient.collect {
            defer { i += 1 }
            return answers[i]
        }
        #expect(listed.map(\.name) == ["", "..", "a.xml", "b.xml"])

        for bad in ["", ".", "..", "-rf.xml", "a/b.xml", "..\\x.xml", ".hidden.xml", "x\u{7}.xml", String(repeating: "n", count: 256)] {
            #expect(Puller.unsafeNameReason(bad) != nil, "\(bad.debugDescription)")
        }
        #expect(Puller.unsafeNameReason("SALES_ES-MAD-01_20261001233000.xml") == nil)
    }

    @Test func aRefusalSeenByEveryRunOfTheDayIsOneException() throws {
        var input = Reconciliation.Input()
        let day = Timestamp.parseISO("2026-10-10T00:00:00Z")!
        input.failedTransfers = (0..<6).map { n in
            TransferRecord(
                runID: "r\(n)", direction: "pull", endpoint: "intranet", name: "\"-rf.xml\"", outcome: .refused, detail: "refused: x",
                at: day.addingTimeInterval(Double(n) * 600))
        }
        let found = Reconciliation.evaluate(input, config: ReconciliationConfig(), asOf: day.addingTimeInterval(86_000))
        let refused = found.filter { $0.rule == "pull_refused" }
        #expect(refused.count == 1 && Set(found.map(\.key)).count == found.count, "\(found.map(\.key))")
        #expect(refused.first?.since == "2026-10-10T00:00:00Z")
    }
}
