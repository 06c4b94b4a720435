import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayFormats

@Suite("The card settlement mapping")
struct PaymentMappingTests {
    @Test func cardSettlementsBecomePaymentFacts() throws {
        let m = try MappingTests.shipped("psp-settlement")
        let r = try MappingTests.read(Fixtures.story("psp/settlement_20261004.csv"), m)
        #expect(r.rejections.isEmpty)
        let vd = try #require(r.facts.first { $0.orderRef == "VD/2026/000046" })
        #expect(vd.kind == .payment)
        #expect(vd.string("event") == "captured" && vd.string("purpose") == "reservation")
        #expect(vd.int("amount_minor") == 300_000 && vd.string("currency") == "EUR")
        #expect(Timestamp.iso(vd.occurredAt) == "2026-10-04T12:00:00Z")
        #expect(vd.id == FactID.make(source: "psp-settlement", kind: .payment, key: ["PSP742425062854"]))
        let refused = try MappingTests.read(Fixtures.story("psp/settlement_20261108.csv"), m).facts.filter {
            $0.string("event") == "refused"
        }
        #expect(refused.first?.string("purpose") == "final")
        #expect(refused.first?.string("reason") == "Insufficient funds")
    }

    @Test func anUnsuccessfulCaptureIsADeclinedAttemptNotMoney() throws {
        let dir = Fixtures.tempDir()
        try Fixtures.write(
            [
                "psp_reference,merchant_reference,payment_method,event_code,success,amount_minor,currency,reason,event_date",
                "PSP1,S-2026-000101-RES,visa,CAPTURE,false,300000,EUR,Issuer unavailable,2026-10-02T12:00:00Z",
                "PSP2,S-2026-000101-RES,visa,CAPTURE,true,300000,EUR,,2026-10-02T12:05:00Z",
                "PSP3,S-2026-000101-XYZ,visa,CAPTURE,true,300000,EUR,,2026-10-02T12:05:00Z",
            ].joined(separator: "\n"), dir + "/settlement_20261002.csv")
        let r = try MappingTests.read(dir + "/settlement_20261002.csv", try MappingTests.shipped("psp-settlement"))
        #expect(r.facts.map { $0.string("event") } == ["refused", "captured", "captured"])
        // A reference without -RES or -FIN names no sale: the money is kept without an order.
        #expect(r.rejections.isEmpty)
        #expect(r.facts[2].orderRef == "" && r.facts[2].string("purpose") == "unknown" && r.facts[2].int("amount_minor") == 300_000)
    }

    @Test func setRefusesFieldsItMayNotSet() {
        let base = MappingLoaderErrorTests.good
        for (text, message) in [
            (
                base.replacingOccurrences(of: "  - kind: sale_cancelled", with: "  - kind: sale_cancelled\n    set: {order_ref: X}"),
                "set: 'order_ref' is not a field"
            ),
            (
                base.replacingOccurrences(of: "  - kind: sale_cancelled", with: "  - kind: sale_cancelled\n    set: {colour: red}"),
                "set: 'colour' is not a field"
            ),
        ] {
            #expect(MappingLoaderErrorTests().error(text)?.line == 7)
            #expect(MappingLoaderErrorTests().error(text)?.message.contains(message) == true)
        }
    }
}
