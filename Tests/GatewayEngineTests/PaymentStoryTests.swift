import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine

@Suite("The partner story's card payments")
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
}
