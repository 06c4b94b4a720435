import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine

@Suite("The partner story's card payments and bank transfers")
struct PaymentStoryTests {
    @Test func cardReservationsOfTheFirstDaysReserveTheirOrders() throws {
        let box = try Sandbox()
        try box.drop(Sandbox.storySales + ["psp/settlement_20261002.csv", "psp/settlement_20261003.csv", "psp/settlement_20261004.csv"])
        let s = try box.run(asOf: "2026-10-04T23:00:00Z")
        #expect(s.count(.ingested) == 16)
        let orders = try box.gateway().orders()
        let reserved = Set(orders.filter { $0.state == .reserved }.map(\.ref))
        #expect(
            reserved == [
                "S-2026-000101", "S-2026-000102", "S-2026-000103", "S-2026-000201", "S-2026-000203",
                "S-2026-000301", "S-2026-000302", "S-2026-000401", "VD/2026/000046",
            ])
        #expect(orders.filter { $0.state == .awaitingReservation }.count == 4)
        // Sales and payments arrived together: every customer still got an account.
        #expect(try box.notifications().count == 13)
        #expect(orders.allSatisfy { $0.customerID != nil })
        #expect(orders.first { $0.ref == "S-2026-000301" }?.receivedMinor == 500_000)
    }

    @Test func reservationsByCardAndByTransferWithTheStorysUnderpaymentAndDuplicate() throws {
        let box = try Sandbox()
        try box.drop(
            Sandbox.storySales + ["psp/settlement_20261002.csv", "psp/settlement_20261003.csv", "psp/settlement_20261004.csv"]
                + ["bank/camt054_20261006.xml", "bank/camt054_20261007.xml"])
        let s = try box.run(asOf: "2026-10-07T23:00:00Z")
        #expect(s.count(.ingested) == 18 && s.recordsRejected == 1)  // the codice fiscale sale
        let orders = try box.gateway().orders()
        let reserved = Set(orders.filter { $0.state == .reserved }.map(\.ref))
        #expect(reserved.isSuperset(of: ["S-2026-000202", "VD/2026/000045"]))
        #expect(reserved.count == 11)
        // 1,500 of a 2,000 señal by transfer: still waiting, and the note says underpaid.
        let underpaid = try #require(orders.first { $0.ref == "S-2026-000303" })
        #expect(underpaid.state == .awaitingReservation && underpaid.receivedMinor == 150_000 && underpaid.amountDueMinor == 50_000)
        // S-2026-000203 paid its señal by card on 4 Oct and again by transfer on 6 Oct.
        let twice = try #require(orders.first { $0.ref == "S-2026-000203" })
        #expect(twice.anomalies.map(\.code) == [.duplicatePayment])
        #expect(orders.first { $0.ref == "S-2026-000104" }?.state == .awaitingReservation)
    }
}
