import Foundation
import GatewayCore
import GatewayTestSupport
import Testing

@testable import GatewayEngine

/// Money that names no sale we know is still money received: kept as a payment without an order,
/// shown to finance with amount, currency, date and the bank's or provider's reference, never the
/// payer, until it is placed or returned (partner contract, "Payments").
@Suite("Money nobody can place")
struct UnplacedMoneyTests {
    func drop(_ box: Sandbox, _ name: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: box.inbox, withIntermediateDirectories: true)
        try text.write(toFile: box.inbox + "/" + name, atomically: true, encoding: .utf8)
    }

    @Test(arguments: ["v4", "v8"])
    func aPublicCamt054WhoseCreditsNameNoSaleIsUnmatchedMoneyForFinance(_ version: String) throws {
        let box = try Sandbox()
        let text = try String(contentsOfFile: Fixtures.path("camt/camt054.\(version).xml"), encoding: .utf8)
        try drop(box, "camt054_20261125.xml", text)
        let s = try box.run(asOf: "2026-11-25T23:00:00Z")
        let f = try #require(s.files.first)
        #expect(f.outcome == .ingested && f.counts?.rejected == 0 && f.counts?.accepted == 3, "\(f)")
        #expect(s.recordsRejected == 0)

        let found = try box.gateway().exceptions(asOf: Timestamp.parseISO("2026-11-25T23:00:00Z")!)
        let money = found.filter { $0.rule == "payment_unmatched" }
        #expect(money.count == 3 && money.allSatisfy { $0.owner == .finance && $0.order == nil })
        #expect(money.allSatisfy { $0.todo.hasSuffix("caas-gateway exceptions dismiss \($0.key) --note HOW") })
        #expect(
            money.map(\.detail).sorted() == [
                "3.10 CHF received on 2007-10-18 (reference ACSR160617103200001) names no sale we know (camt054_20261125.xml, record 1)",
                "3.20 CHF received on 2007-10-18 (reference ACSR160617103200001) names no sale we know (camt054_20261125.xml, record 2)",
                "3.20 CHF received on 2007-10-18 (reference ACSR160617103200001) names no sale we know (camt054_20261125.xml, record 3)",
            ])
        // Never the payer: the sample's debtor and creditor names and accounts stay out of the page.
        let page = try String(contentsOfFile: box.config.reportsDir + "/2026-11-25/report.html", encoding: .utf8)
        for personal in ["UNIFITS", "CH2801234000123456789", "CH4112345003131313131", "Example Creditor"] {
            #expect(!page.contains(personal), "\(personal)")
        }
        #expect(page.contains("payment_unmatched"))
        // No order was made of the money.
        #expect(try box.gateway().orders().isEmpty)

        // The same file under another name is a duplicate; the money is not counted twice.
        try drop(box, "camt054_20261126.xml", text)
        _ = try box.run(asOf: "2026-11-26T23:00:00Z")
        #expect(try box.gateway().storeForQueries.unplacedPayments().count == 3)

        // Finance returned the money: dismissed with a note, it stays closed.
        for e in money {
            try box.gateway().dismissException(key: e.key, note: "returned to the payer", asOf: Timestamp.parseISO("2026-11-27T09:00:00Z")!)
        }
        _ = try box.run(asOf: "2026-11-27T23:00:00Z")
        let report =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: box.config.reportsDir + "/2026-11-27/report.json"))) as! [String: Any]
        #expect((report["exceptions"] as! [[String: Any]]).allSatisfy { $0["rule"] as? String != "payment_unmatched" })
    }

    @Test func aCaptureForAnUnknownReferenceIsKeptAndADeclinedOneIsRejected() throws {
        let box = try Sandbox()
        try drop(
            box, "settlement_20261125.csv",
            """
            psp_reference,merchant_reference,payment_method,event_code,success,amount_minor,currency,reason,event_date
            PSP777000111,ORDER-4471,visa,CAPTURE,true,300000,EUR,,2026-11-25T10:00:00Z
            PSP777000112,ORDER-4472,visa,REFUSED,false,300000,EUR,Insufficient funds,2026-11-25T10:05:00Z

            """)
        let f = try #require(try box.run(asOf: "2026-11-25T23:00:00Z").files.first)
        #expect(f.counts?.accepted == 1 && f.counts?.rejected == 1, "\(f)")
        #expect(f.rejections.first?.field == "order_ref" && f.rejections.first?.reason.contains("moves no money") == true)
        let e = try #require(
            try box.gateway().exceptions(asOf: Timestamp.parseISO("2026-11-25T23:00:00Z")!).first {
                $0.rule == "payment_unmatched" && $0.subject.hasPrefix("psp-settlement")
            })
        #expect(e.subject == "psp-settlement PSP777000111", "\(e)")
        #expect(e.detail.hasPrefix("3000.00 EUR received on 2026-11-25 (reference PSP777000111)"))
    }

    @Test func moneyNamingASaleWeDoNotKnowYetIsPlacedWhenTheSaleArrives() throws {
        let box = try Sandbox()
        try drop(
            box, "settlement_20261001.csv",
            """
            psp_reference,merchant_reference,payment_method,event_code,success,amount_minor,currency,reason,event_date
            PSP777000200,S-2026-000101-RES,visa,CAPTURE,true,300000,EUR,,2026-10-01T09:00:00Z

            """)
        _ = try box.run(asOf: "2026-10-01T12:00:00Z")
        let before = try box.gateway().exceptions(asOf: Timestamp.parseISO("2026-10-01T12:00:00Z")!).filter {
            $0.rule == "payment_unmatched"
        }
        #expect(before.count == 1 && before[0].order == "S-2026-000101")
        #expect(before[0].detail.hasPrefix("3000.00 EUR received on 2026-10-01 (reference PSP777000200) names sale S-2026-000101"))
        try box.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml"])
        _ = try box.run(asOf: "2026-10-01T23:00:00Z")
        #expect(
            try box.gateway().exceptions(asOf: Timestamp.parseISO("2026-10-01T23:00:00Z")!).allSatisfy { $0.rule != "payment_unmatched" })
        #expect(try box.gateway().storeForQueries.projection(ref: "S-2026-000101")?.state == .reserved)
    }
}
