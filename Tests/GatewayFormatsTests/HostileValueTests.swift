import Foundation
import GatewayCore
import GatewayTestSupport
import Testing

@testable import GatewayFormats

/// Amounts and times as a hostile or careless partner writes them (issue 25): each is read
/// exactly, or refused with a reason that names what is wrong and never the value; none traps.
@Suite("Hostile amounts and times at the mapping")
struct HostileValueTests {
    static let comma = UInt8(ascii: ","), dot = UInt8(ascii: ".")

    @Test(arguments: [
        // xs:decimal's own forms are valid: a leading +, white space around, trailing zeros, .5 and 5.
        ("+12.50", 1250), (" 12.5 ", 1250), ("\t12.500000\n", 1250), (".5", 50), ("5.", 500), ("-0.01", -1), ("0", 0),
        ("92233720368547758.07", Int64.max),
    ] as [(String, Int64)])
    func xsDecimalFormsAreAccepted(text: String, minor: Int64) {
        #expect(Transforms.decimal(text, separator: Self.dot, thousands: nil, minorUnits: 2) == .success(minor))
    }

    @Test(arguments: [
        ("92233720368547758.08", Transforms.DecimalProblem.tooLarge),  // Int64.max + 1 minor unit trapped
        ("99999999999999999999999999", .tooLarge), ("12.345", .tooManyDecimals), ("1 2", .malformed), ("+-1", .malformed),
        ("", .malformed), (".", .malformed), ("1.2.3", .malformed), ("1e5", .malformed), ("--1", .malformed), ("١٢", .malformed),
    ] as [(String, Transforms.DecimalProblem)])
    func amountsThatAreNotAmountsAreRefused(text: String, problem: Transforms.DecimalProblem) {
        #expect(Transforms.decimal(text, separator: Self.dot, thousands: nil, minorUnits: 2) == .failure(problem))
    }

    @Test(arguments: [
        ("1.234,56", Result<Int64, Transforms.DecimalProblem>.success(123_456)), ("34.990,5", .success(3_499_050)),
        ("1.234.567,00", .success(123_456_700)), ("999,99", .success(99_999)), ("1234,5", .success(123_450)),
        ("12.34,5", .failure(.misplacedGroupSeparator)), ("1.2345,00", .failure(.misplacedGroupSeparator)),
        ("1..234,00", .failure(.misplacedGroupSeparator)), (".234,00", .failure(.misplacedGroupSeparator)),
        ("1234.567", .failure(.misplacedGroupSeparator)), ("1.234.", .failure(.misplacedGroupSeparator)),
        ("1,23.5", .failure(.malformed)), ("1,234.5", .failure(.tooManyDecimals)),
    ])
    func groupSeparatorsStandBetweenGroupsOfThree(text: String, expected: Result<Int64, Transforms.DecimalProblem>) {
        #expect(Transforms.decimal(text, separator: Self.comma, thousands: Self.dot, minorUnits: 2) == expected)
    }

    @Test func aDecimalTransformsReasonNamesTheProblemAndNeverTheValue() {
        let r = Transforms.apply(.decimal(separator: Self.comma, thousands: Self.dot, minorUnits: 2), .string("12.34,56"), field: "total")
        guard case .failure(let f) = r else {
            Issue.record("misplaced group separator accepted")
            return
        }
        #expect(f.reason.contains("group separator out of place"))
        #expect(!f.reason.contains("12.34"))
    }

    @Test func aLisbonTimeInTheSpringGapIsRefusedAndOneInTheAutumnFoldIsTheFirstInstant() throws {
        let f = try DateTimeFormat(format: "dd/MM/yyyy HH:mm", zone: "Europe/Lisbon")
        // 29 Mar 2026: 01:00 WET becomes 02:00 WEST, so 01:30 never happened.
        #expect(f.read("29/03/2026 01:30") == .skippedLocalTime)
        #expect(f.read("29/03/2026 00:59").instantText == "2026-03-29T00:59:00Z")
        #expect(f.read("29/03/2026 02:00").instantText == "2026-03-29T01:00:00Z")
        // 25 Oct 2026: 02:00 WEST becomes 01:00 WET, so 01:30 happened twice; the first is in summer time.
        #expect(f.read("25/10/2026 01:30").instantText == "2026-10-25T00:30:00Z")
        #expect(f.read("25/10/2026 02:30").instantText == "2026-10-25T02:30:00Z")
        #expect(f.read("25/10/2026 00:30").instantText == "2026-10-24T23:30:00Z")
        let iso = try DateTimeFormat(format: "iso8601", zone: "Europe/Lisbon")
        #expect(iso.read("2026-03-29T01:30:00") == .skippedLocalTime)
        #expect(iso.read("2026-03-29T01:30:00Z").instantText == "2026-03-29T01:30:00Z", "an offset says which instant")

        let r = Transforms.apply(.datetime(f), .string("29/03/2026 01:30"), field: "occurred_at")
        guard case .failure(let failure) = r else {
            Issue.record("a time that never happened was accepted")
            return
        }
        #expect(failure.reason.contains("never happened in Europe/Lisbon"))
    }

    @Test func oneInstantWrittenAnyWayIsOneKey() {
        let spellings = ["2026-10-05T10:00:00+02:00", "2026-10-05T08:00:00Z", "2026-10-05T09:00:00+0100", " 2026-10-05T08:00:00.000Z "]
        let keys = Set(spellings.map { s -> String in
            guard case .success(let v?) = Transforms.apply(.utc, .string(ASCIIText.trim(s)), field: "at_key") else { return "refused \(s)" }
            return v.string ?? "?"
        })
        #expect(keys == ["2026-10-05T08:00:00Z"])
    }
}

extension DateTimeFormat.Reading {
    var instantText: String? {
        if case .instant(let d) = self { return Timestamp.iso(d) }
        return nil
    }
}

/// The same classes through the shipped mappings, as a partner's file brings them.
@Suite("Implausible values are rejected records, naming the field")
struct ImplausibleRecordTests {
    static let pspHeader = "psp_reference,merchant_reference,payment_method,event_code,success,amount_minor,currency,reason,event_date"

    static func psp(_ rows: [String]) throws -> (facts: [Fact], rejections: [[Rejection]]) {
        let dir = Fixtures.tempDir()
        try Fixtures.write(([pspHeader] + rows).joined(separator: "\n") + "\n", dir + "/settlement_20261002.csv")
        let r = try MappingTests.read(dir + "/settlement_20261002.csv", try MappingTests.shipped("psp-settlement"))
        return (r.facts, r.rejections)
    }

    @Test func moneyInThatIsZeroNegativeOrBeyondAnyCarIsRejectedWithTheField() throws {
        let r = try Self.psp([
            "PSP1,S-2026-000101-RES,visa,CAPTURE,true,9223372036854775807,EUR,,2026-10-02T12:00:00Z",
            "PSP2,S-2026-000101-RES,visa,CAPTURE,true,-300000,EUR,,2026-10-02T12:00:00Z",
            "PSP3,S-2026-000101-RES,visa,CAPTURE,true,0,EUR,,2026-10-02T12:00:00Z",
            "PSP4,S-2026-000101-RES,visa,REFUND,true,-5000,EUR,,2026-10-02T12:00:00Z",
            "PSP5,S-2026-000101-RES,visa,CAPTURE,true,300000,EUR,,2026-10-02T12:00:00Z",
            "PSP6,S-2026-000101-RES,visa,CAPTURE,true,99999999999999999999,EUR,,2026-10-02T12:00:00Z",
        ])
        #expect(r.facts.map { $0.string("payment_id") } == ["PSP5"])
        #expect(r.rejections.count == 5)
        for rejection in r.rejections.joined() {
            #expect(rejection.field == "amount_minor", "\(rejection)")
            #expect(!rejection.reason.contains("9223372036854775807") && !rejection.reason.contains("300000"))
        }
        let reasons = r.rejections.map { $0.first?.reason ?? "" }
        #expect(reasons[0].contains("above the largest amount accepted (1000000000000 minor units)"))
        #expect(reasons[1].contains("zero or negative") && reasons[1].contains("a refund or a chargeback is an event of its own"))
        #expect(reasons[2].contains("zero or negative"))
        #expect(reasons[3].contains("zero or negative"))
        #expect(reasons[4].contains("not a whole number"))
    }

    @Test func placeholderYearsAndImpossibleOffsetsAreRejectedWithTheField() throws {
        let r = try Self.psp([
            "PSP1,S-2026-000101-RES,visa,CAPTURE,true,300000,EUR,,0000-01-01T00:00:00Z",
            "PSP2,S-2026-000101-RES,visa,CAPTURE,true,300000,EUR,,9999-12-31T23:59:59Z",
            "PSP3,S-2026-000101-RES,visa,CAPTURE,true,300000,EUR,,2026-10-02T12:00:00+15:00",
            "PSP4,S-2026-000101-RES,visa,CAPTURE,true,300000,EUR,,2026-10-02T12:00:00.123456Z",
        ])
        #expect(r.facts.map { $0.string("payment_id") } == ["PSP4"])
        #expect(r.rejections.count == 3)
        #expect(r.rejections.joined().allSatisfy { $0.field == "occurred_at" })
        #expect(r.rejections[0].first?.reason.contains("outside the years 1900-2199") == true)
        #expect(r.rejections[1].first?.reason.contains("outside the years 1900-2199") == true)
    }

    @Test func aDMSAmountWiderThanAnyNumberIsARejectedRecordNotACrash() throws {
        let source = try String(contentsOfFile: Fixtures.story("dealer-dms/VENDAS_PT-LIS-01_20261002.csv"), encoding: .utf8)
        // The first sale's total (34990,00), 23 digits wide.
        try #require(source.contains(";34990,00;"))
        let poisoned = source.replacingOccurrences(of: ";34990,00;", with: ";99999999999999999999999,00;")
        let dir = Fixtures.tempDir()
        try Fixtures.write(poisoned, dir + "/VENDAS_PT-LIS-01_20261002.csv")
        let r = try MappingTests.read(dir + "/VENDAS_PT-LIS-01_20261002.csv", try MappingTests.shipped("dms-sales-pt"))
        let first = try #require(r.rejections.first?.first)
        #expect(first.field == "total_minor")
        #expect(first.reason.contains("wider than any amount"))
    }

    @Test(arguments: [
        ("carrier-trucklog", "TRANSPORT_TRUCKLOG_20261110.csv",
         "shipment_id;order_ref;vin;event;event_time;location;lat;lon;note",
         ["SHP-1;S-2026-000301;WC9CAE105V3012010;DELIVERED;2026-11-10T12:00:00+01:00;M;1;2;",
          "SHP-1;S-2026-000301;WC9CAE105V3012010;DELIVERED;2026-11-10T11:00:00Z;M;1;2;",
          "SHP-1;S-2026-000301;WC9CAE105V3012010;DELIVERED;2026-11-10T12:00:00+0100;M;1;2;"]),
        ("iot-links", "iot_links_20261110.csv", "vin,order_ref,event,at,detail",
         ["WC9CAE105V3012010,S-2026-000301,LINKED,2026-11-10T12:05:00+01:00,ok",
          "WC9CAE105V3012010,S-2026-000301,LINKED,2026-11-10T12:05:00+0100,ok",
          "WC9CAE105V3012010,S-2026-000301,LINKED,2026-11-10T11:05:00.000Z,ok"]),
    ])
    func anEventResentWithItsInstantWrittenAnotherWayIsTheSameFact(feed: String, name: String, header: String, rows: [String]) throws {
        let dir = Fixtures.tempDir()
        var ids: Set<String> = []
        for (i, row) in rows.enumerated() {
            try Fixtures.write(header + "\n" + row + "\n", dir + "/\(i)/" + name)
            let r = try MappingTests.read(dir + "/\(i)/" + name, try MappingTests.shipped(feed))
            #expect(r.rejections.isEmpty, "\(r.rejections)")
            ids.formUnion(r.facts.map(\.id))
        }
        #expect(ids.count == 1, "one instant, one event: \(ids)")
    }

    @Test func aMappingWhoseKeyReadsATimeAsTextIsRefusedAtLoad() throws {
        let dir = Fixtures.tempDir()
        let text = try String(contentsOfFile: Fixtures.mappingsDir + "/iot-links.yaml", encoding: .utf8)
            .replacingOccurrences(of: "at_key: {column: at, transforms: [trim, utc]}", with: "at_key: {column: at, transforms: [trim]}")
        try Fixtures.write(text, dir + "/iot-links.yaml")
        #expect {
            _ = try MappingLoader.load(path: dir + "/iot-links.yaml")
        } throws: { error in
            "\(error)".contains("key field 'at_key' reads a time as text: add the utc transform")
        }
    }
}
