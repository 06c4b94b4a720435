import Foundation
import Testing

@testable import GatewayCore

/// A vehicle released unpaid ("sin asignar") sold again from dealership stock (partner contract,
/// "Dealership sales" and "Dealership stock").
@Suite("Lifecycle fold: a sale from dealership stock")
struct StockSaleLifecycleTests {
    static let vin = "VSCCAE103V3047030"

    @Test func aStockSaleIsNeverOrderedAndRunsFromItsSeñalToOperational() {
        var s = OrderStory(ref: "S-2026-000105", delivery: "DEALERSHIP", stockVIN: Self.vin)
        #expect(s.fold().vin == Self.vin && s.fold().stockVehicle == Self.vin)
        s.toAwaitingReservation()
        #expect(s.fold().dueActions.map(\.kind) == [])
        s.pay(300_000, day: 1, purpose: "reservation")
        // The vehicle is at the dealership already: no reserved state, no factory order; the
        // final-payment window opens with the señal, and the dealership learns it left stock.
        let paid = s.fold(asOfDay: 2)
        #expect(paid.state == .awaitingFinalPayment)
        #expect(paid.finalPaymentDueAt == s.at(15))  // ES: 14 days from the señal
        #expect(paid.dueActions.map(\.kind).contains(.stockSold))
        #expect(!paid.dueActions.map(\.kind).contains(.placeFactoryOrder))
        #expect(paid.notices.map(\.template).contains("available_at_dealership"))
        #expect(!paid.timeline.contains { $0.stateAfter == .reserved })

        s.pay(4_299_000, day: 5, purpose: "final")
        #expect(s.fold().state == .fullyPaid)
        s.add(.registrationSubmitted, day: 6, ["submission_id": .string("R-1")])
        s.add(.registrationCompleted, day: 7, ["plate": .string("1234 BCD")])
        s.carrier("collected_by_customer", day: 8)
        s.link("linked", day: 8.1)
        let done = s.fold()
        #expect(done.state == .operational && done.anomalies.isEmpty)
        #expect(done.dueActions.map(\.kind).contains(.stockSold))  // due once; its key makes it one action
    }

    @Test func aStockSaleWhoseWindowClosesTooGoesBackToStock() {
        var s = OrderStory(ref: "S-2026-000105", stockVIN: Self.vin)
        s.toAwaitingReservation()
        s.pay(300_000, day: 1, purpose: "reservation")
        s.pay(100_000, day: 10, purpose: "final")
        let closed = s.fold(asOfDay: 16)
        #expect(closed.state == .sinAsignar)
        #expect(Set(closed.dueActions.map(\.kind)).isSuperset(of: [.stockSold, .releaseToStock]))
        #expect(closed.notices.map(\.template).contains("reservation_lost"))
    }

    @Test func aStockSaleWithdrawnBeforeItsSeñalLeavesNothingToDo() {
        var s = OrderStory(ref: "S-2026-000105", stockVIN: Self.vin)
        s.toAwaitingReservation()
        s.add(.saleCancelled, day: 1)
        #expect(s.fold().state == .cancelled)
        #expect(s.fold().dueActions.isEmpty)
    }

    @Test func factoryWordForAStockVehicleIsParked() {
        var s = OrderStory(ref: "S-2026-000105", stockVIN: Self.vin)
        s.toAwaitingReservation()
        s.pay(300_000, day: 1, purpose: "reservation")
        s.add(.factoryOrderPlaced, day: 1.1, ["factory_order": .string("FO-VLC1-0009999")])
        s.factory("production_started", day: 2)
        let v = s.fold(asOfDay: 3)
        #expect(v.state == .awaitingFinalPayment && v.factoryOrder == nil)
        #expect(v.anomalies.map(\.code) == [.guardViolation, .outOfOrder])
    }

    @Test func theReleasingOrderKeepsItsHistoryAndRecordsTheResale() {
        var old = OrderStory(ref: "S-2026-000103")
        old.toAvailable(day: 30)
        old.add(.vehicleResold, day: 50, ["vin": .string(Self.vin), "sold_to": .string("S-2026-000105")])
        let v = old.fold(asOfDay: 51)
        #expect(v.state == .sinAsignar && v.resoldTo == "S-2026-000105")
        #expect(v.timeline.last?.note?.contains("sold again from dealership stock") == true)
        #expect(v.timeline.contains { $0.stateAfter == .sinAsignar && $0.kind == nil })

        // A resale recorded for an order that still holds its vehicle does not fit.
        var live = OrderStory(ref: "S-2026-000106")
        live.toAvailable(day: 30)
        live.add(.vehicleResold, day: 31, ["vin": .string(Self.vin), "sold_to": .string("S-2026-000105")])
        #expect(live.fold(asOfDay: 32).anomalies.map(\.code) == [.outOfOrder])
        #expect(live.fold(asOfDay: 32).resoldTo == nil)
    }
}
