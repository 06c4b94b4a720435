import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayFormats

@Suite("The camt.054 mapping")
struct CamtMappingTests {
    static func read(_ path: String) throws -> (facts: [Fact], skipped: [String], rejections: [[Rejection]]) {
        var facts: [Fact] = []
        var skipped: [String] = []
        var rejections: [[Rejection]] = []
        try FeedReader.read(path: path, mapping: try MappingTests.shipped("bank-camt054"), fileHash: "h", fileName: "f") {
            switch $0 {
            case .fact(let f): facts.append(f)
            case .skipped(let why): skipped.append(why)
            case .rejected(let r): rejections.append(r)
            }
        }
        return (facts, skipped, rejections)
    }

    @Test func theStorysTransfersArePaymentsWithTheirSaleFoundInTheText() throws {
        let r = try Self.read(Fixtures.story("bank/camt054_20261006.xml"))
        #expect(r.rejections.isEmpty && r.skipped.isEmpty)
        #expect(r.facts.map(\.orderRef) == ["S-2026-000202", "S-2026-000203", "VD/2026/000045"])
        #expect(r.facts.map { $0.int("amount_minor") } == [300_000, 200_000, 200_000])
        #expect(r.facts.allSatisfy { $0.string("purpose") == "reservation" && $0.string("event") == "captured" })
        #expect(r.facts.allSatisfy { $0.string("currency") == "EUR" && Timestamp.iso($0.occurredAt) == "2026-10-06T00:00:00Z" })
        #expect(r.facts[0].id == FactID.make(source: "bank-camt054", kind: .payment, key: ["2026100650070670", "E2E-S-2026-000202-33"]))
        let anzahlung = try Self.read(Fixtures.story("bank/camt054_20261007.xml")).facts
        #expect(anzahlung.map(\.orderRef) == ["S-2026-000303"] && anzahlung.first?.string("purpose") == "reservation")
    }

    @Test func theSameTransfersInVersion02ReadTheSame() throws {
        let v8 = try String(contentsOfFile: Fixtures.story("bank/camt054_20261006.xml"), encoding: .utf8)
        let v2 = v8.replacingOccurrences(of: "camt.054.001.08", with: "camt.054.001.02")
            .replacingOccurrences(of: "<Sts><Cd>BOOK</Cd></Sts>", with: "<Sts>BOOK</Sts>")
        #expect(v2 != v8)
        let dir = Fixtures.tempDir()
        try Fixtures.write(v2, dir + "/camt054_20261006.xml")
        #expect(try Self.read(dir + "/camt054_20261006.xml").facts == (try Self.read(Fixtures.story("bank/camt054_20261006.xml")).facts))
    }

    @Test(arguments: ["v2", "v4", "v8"])
    func publicSamplesOfEachVersionReadWithoutErrors(_ version: String) throws {
        // genkgo/camt's fixtures: one debit entry with three transactions. In .02 the transactions
        // have no indicator of their own: the entry's debit is not money received. From .04 each
        // is marked a credit, and none names a sale: three payments without an order, the last
        // two with the same references, told apart by their position.
        let r = try Self.read(Fixtures.path("camt/camt054.\(version).xml"))
        #expect(r.rejections.isEmpty)
        if version == "v2" {
            #expect(r.facts.isEmpty)
            #expect(r.skipped.count == 3 && r.skipped.allSatisfy { $0.hasPrefix("not a credit") })
            return
        }
        #expect(r.skipped.isEmpty)
        #expect(r.facts.map(\.orderRef) == ["", "", ""])
        #expect(r.facts.map { $0.int("amount_minor") } == [310, 320, 320] && r.facts.allSatisfy { $0.string("currency") == "CHF" })
        #expect(Set(r.facts.map(\.id)).count == 3)
        #expect(r.facts.allSatisfy { $0.string("payment_id") == "ACSR160617103200001" && Timestamp.day($0.occurredAt) == "2007-10-18" })
        // Read again, the same ids: a bank file sent twice is the same three credits.
        #expect(try Self.read(Fixtures.path("camt/camt054.\(version).xml")).facts.map(\.id) == r.facts.map(\.id))
    }

    @Test func anEntryWithoutTheBanksIdIsIdentifiedByItsTransactionsOrItsOwnReference() throws {
        let v8 = try String(contentsOfFile: Fixtures.story("bank/camt054_20261118.xml"), encoding: .utf8)
        let dir = Fixtures.tempDir()
        // The id per transaction only.
        try Fixtures.write(
            v8.replacingOccurrences(of: "<AcctSvcrRef>2026111870316281</AcctSvcrRef>", with: "")
                .replacingOccurrences(of: "<Refs>", with: "<Refs><AcctSvcrRef>TX-777</AcctSvcrRef>"), dir + "/camt054_20261119.xml")
        let tx = try Self.read(dir + "/camt054_20261119.xml")
        #expect(tx.rejections.isEmpty && tx.facts.map { $0.string("payment_id") } == ["TX-777"])
        // No bank id at all: the entry's own reference.
        try Fixtures.write(
            v8.replacingOccurrences(of: "<AcctSvcrRef>2026111870316281</AcctSvcrRef>", with: ""), dir + "/camt054_20261120.xml")
        let own = try Self.read(dir + "/camt054_20261120.xml")
        #expect(own.rejections.isEmpty && own.facts.map { $0.string("payment_id") } == ["N001"])
        // With the bank's id, the id is unchanged by the fallbacks.
        #expect(try Self.read(Fixtures.story("bank/camt054_20261118.xml")).facts.map { $0.string("payment_id") } == ["2026111870316281"])
    }

    @Test func aPendingCreditIsNotMoneyYetAndOneNamingNoSaleIsMoneyWithoutAnOrder() throws {
        let v8 = try String(contentsOfFile: Fixtures.story("bank/camt054_20261007.xml"), encoding: .utf8)
        let dir = Fixtures.tempDir()
        try Fixtures.write(v8.replacingOccurrences(of: "<Cd>BOOK</Cd>", with: "<Cd>PDNG</Cd>"), dir + "/camt054_20261007.xml")
        #expect(try Self.read(dir + "/camt054_20261007.xml").skipped == ["not booked yet (Sts is not BOOK)"])
        try Fixtures.write(
            v8.replacingOccurrences(of: "Anzahlung S-2026-000303", with: "Anzahlung Auto Meier")
                .replacingOccurrences(of: "E2E-S-2026-000303-23", with: "NOTPROVIDED"), dir + "/camt054_20261008.xml")
        let r = try Self.read(dir + "/camt054_20261008.xml")
        #expect(r.rejections.isEmpty)
        #expect(r.facts.map(\.orderRef) == [""] && r.facts[0].int("amount_minor") == 150_000)
    }
}
