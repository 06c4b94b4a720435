import Foundation
import GatewayCore
import GatewayStore
import GatewayTestSupport
import Testing

@testable import GatewayEngine

/// Vehicles sold again from dealership stock, through the runs: which sales may take a VIN, what
/// the dealership's stock outbox says, and that the factory never hears of it.
@Suite("Sales from dealership stock")
struct StockSaleTests {
    /// The VIN `TestOrders` gives its orders.
    static let vin = "VSCCAE108V3047010"

    /// S-2026-000103 became available on 1 Nov and was never paid: stock since 15 Nov.
    func released() throws -> Sandbox {
        let box = try Sandbox()
        try box.fullyPaidOrder("S-2026-000103", country: "ES", nationalID: "51234567C", idType: "DNI", finalPayment: false)
        _ = try box.run(asOf: "2026-11-16T12:00:00Z")
        #expect(try box.gateway().storeForQueries.projection(ref: "S-2026-000103")?.state == .sinAsignar)
        return box
    }

    func drop(_ box: Sandbox, _ name: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: box.inbox, withIntermediateDirectories: true)
        try text.write(toFile: box.inbox + "/" + name, atomically: true, encoding: .utf8)
    }

    func dropSales(_ box: Sandbox, stamp: String, _ sales: [SalesExports.Sale]) throws {
        try drop(box, SalesExports.name(stamp: stamp), SalesExports.export(exportedAt: "2026-11-21T23:30:00+01:00", sales))
    }

    func reservation(_ box: Sandbox, day: String, _ refs: [String], amount: Int = 300_000) throws {
        let lines = refs.enumerated().map { i, ref in
            "PSP9\(day)\(i),\(ref)-RES,visa,CAPTURE,true,\(amount),EUR,,\(day.prefix(4))-\(day.dropFirst(4).prefix(2))-\(day.suffix(2))T10:00:00Z"
        }
        try drop(
            box, "settlement_\(day).csv",
            (["psp_reference,merchant_reference,payment_method,event_code,success,amount_minor,currency,reason,event_date"] + lines)
                .joined(separator: "\n") + "\n")
    }

    func stockLines(_ box: Sandbox) throws -> [[String: Any]] {
        try box.files(under: box.config.outbox + "/stock").sorted().flatMap { rel in
            try String(contentsOfFile: box.config.outbox + "/stock/" + rel, encoding: .utf8).split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
        }
    }

    @Test func aStockSaleTakesTheVehicleNeverGoesToTheFactoryAndTheDealershipLearnsItIsSold() throws {
        let box = try released()
        try dropSales(
            box, stamp: "20261121233000",
            [
                .init(ref: "S-2026-000105", at: "2026-11-21T10:15:00+01:00", stockVIN: Self.vin, dni: 40_000_105),
                // The same vehicle a second time, in the same export: one vehicle is sold once.
                .init(ref: "S-2026-000106", at: "2026-11-21T11:15:00+01:00", stockVIN: Self.vin, dni: 40_000_106),
                // A VIN no order of ours ever had.
                .init(ref: "S-2026-000107", at: "2026-11-21T12:15:00+01:00", stockVIN: "VSCCAE10XV3047030", dni: 40_000_107),
            ])
        let day1 = try box.run(asOf: "2026-11-21T23:50:00Z")
        let file = try #require(day1.files.first)
        #expect(file.counts?.accepted == 1 && file.counts?.rejected == 2, "\(file)")
        let why = Dictionary(uniqueKeysWithValues: file.rejections.map { ($0.recordRef ?? "", $0) })
        #expect(
            why["S-2026-000106"]?.field == "stock_vin"
                && why["S-2026-000106"]?.reason.contains("already sold again, to S-2026-000105") == true)
        #expect(why["S-2026-000107"]?.field == "stock_vin" && why["S-2026-000107"]?.reason.contains("no order of ours released") == true)
        #expect(file.rejections.allSatisfy { !$0.reason.contains(Self.vin) && !$0.reason.contains("VSCCAE10XV3047030") })

        try reservation(box, day: "20261122", ["S-2026-000105"])
        _ = try box.run(asOf: "2026-11-22T23:00:00Z")
        do {
            let g = try box.gateway()
            let sold = try #require(try g.storeForQueries.projection(ref: "S-2026-000105"))
            #expect(sold.state == .awaitingFinalPayment && sold.vin == Self.vin && sold.factoryOrder == nil)
            #expect(try g.storeForQueries.actions(orderRef: "S-2026-000105").allSatisfy { $0.kind != .placeFactoryOrder })
            // The releasing order keeps its history and records the resale; its "sell it" exception goes.
            let old = try #require(try g.storeForQueries.projection(ref: "S-2026-000103"))
            #expect(old.state == .sinAsignar && old.resoldTo == "S-2026-000105")
            #expect(
                try g.exceptions(asOf: Timestamp.parseISO("2026-11-22T23:00:00Z")!).allSatisfy {
                    $0.key != "released_to_stock:S-2026-000103"
                })
            // One line per change: released on the 15th, sold on the 22nd.
            let lines = try stockLines(box)
            #expect(lines.map { $0["change"] as? String } == ["released", "sold"])
            #expect(lines.allSatisfy { $0["vin"] as? String == Self.vin })
            // Each line names the dealership that holds the vehicle: the releasing order's, then the buyer's.
            #expect(lines.map { $0["dealer_code"] as? String } == ["ES-TST-01", "ES-MAD-01"])
            #expect(lines[1]["order_ref"] as? String == "S-2026-000105" && lines[1]["released_by"] as? String == "S-2026-000103")
            #expect(lines[1]["at"] as? String == "2026-11-22T10:00:00Z")
        }

        // Another run sells nothing twice; the same export again is a duplicate.
        _ = try box.run(asOf: "2026-11-23T23:00:00Z")
        #expect(try stockLines(box).count == 2)
    }

    @Test func aVehicleStillBeingBoughtIsNotStock() throws {
        let box = try Sandbox()
        try box.fullyPaidOrder("S-2026-000103", country: "ES", nationalID: "51234567C", idType: "DNI", finalPayment: false)
        _ = try box.run(asOf: "2026-11-05T12:00:00Z")
        try dropSales(
            box, stamp: "20261105233000",
            [.init(ref: "S-2026-000105", at: "2026-11-05T10:15:00+01:00", stockVIN: Self.vin, dni: 40_000_105)])
        let f = try #require(try box.run(asOf: "2026-11-05T23:00:00Z").files.first)
        #expect(f.counts?.rejected == 1)
        let r = try #require(f.rejections.first)
        #expect(r.field == "stock_vin" && r.reason.contains("S-2026-000103's final-payment window is open until 2026-11-15"), "\(r)")

        // The window closes during the night: the next export's sale, in the run that closes it,
        // takes the vehicle, and its señal comes in the same run: released and sold in one pass.
        try dropSales(
            box, stamp: "20261115233000",
            [.init(ref: "S-2026-000105", at: "2026-11-15T22:15:00+01:00", stockVIN: Self.vin, dni: 40_000_105)])
        try reservation(box, day: "20261115", ["S-2026-000105"])
        let later = try #require(try box.run(asOf: "2026-11-15T23:00:00Z").files.first { $0.feed == "intranet-sales" })
        #expect(later.counts?.accepted == 1 && later.counts?.rejected == 0, "\(later)")
        #expect(
            Set(try stockLines(box).map { "\($0["change"]!) \($0["order_ref"]!)" }) == ["released S-2026-000103", "sold S-2026-000105"])
        #expect(try box.gateway().storeForQueries.stockSale(orderRef: "S-2026-000105")?.releasedBy == "S-2026-000103")
    }

    @Test func aStockSaleWhoseWindowClosesTooReleasesTheVehicleAgain() throws {
        let box = try released()
        try dropSales(
            box, stamp: "20261121233000",
            [.init(ref: "S-2026-000105", at: "2026-11-21T10:15:00+01:00", stockVIN: Self.vin, dni: 40_000_105)])
        _ = try box.run(asOf: "2026-11-21T23:00:00Z")
        try reservation(box, day: "20261122", ["S-2026-000105"])
        _ = try box.run(asOf: "2026-11-22T23:00:00Z")
        // Unpaid 14 days after its señal: stock again, and sold to a third customer.
        _ = try box.run(asOf: "2026-12-07T12:00:00Z")
        #expect(try box.gateway().storeForQueries.projection(ref: "S-2026-000105")?.state == .sinAsignar)
        try dropSales(
            box, stamp: "20261207233000",
            [.init(ref: "S-2026-000108", at: "2026-12-07T16:00:00+01:00", stockVIN: Self.vin, dni: 40_000_108)])
        let f = try #require(try box.run(asOf: "2026-12-07T23:00:00Z").files.first)
        #expect(f.counts?.accepted == 1, "\(f)")
        #expect(try box.gateway().storeForQueries.stockSale(orderRef: "S-2026-000108")?.releasedBy == "S-2026-000105")
        #expect(
            try stockLines(box).map { "\($0["change"]!) \($0["order_ref"]!)" } == [
                "released S-2026-000103", "sold S-2026-000105", "released S-2026-000105",
            ])
    }

    @Test func aStockSaleWithdrawnBeforeItsSeñalFreesTheVehicle() throws {
        let box = try released()
        try dropSales(
            box, stamp: "20261121233000",
            [.init(ref: "S-2026-000105", at: "2026-11-21T10:15:00+01:00", stockVIN: Self.vin, dni: 40_000_105)])
        _ = try box.run(asOf: "2026-11-21T23:00:00Z")
        let cancel = SalesExports.export(exportedAt: "2026-11-22T23:30:00+01:00", [])
            .replacingOccurrences(
                of: "count=\"0\">\n",
                with: "count=\"1\">\n  <Sale id=\"S-2026-000105\" action=\"cancel\" registeredAt=\"2026-11-22T09:00:00+01:00\"/>\n")
        try drop(box, SalesExports.name(stamp: "20261122233000"), cancel)
        _ = try box.run(asOf: "2026-11-22T23:00:00Z")
        #expect(try box.gateway().storeForQueries.projection(ref: "S-2026-000105")?.state == .cancelled)
        try dropSales(
            box, stamp: "20261123233000",
            [.init(ref: "S-2026-000106", at: "2026-11-23T10:15:00+01:00", stockVIN: Self.vin, dni: 40_000_106)])
        let f = try #require(try box.run(asOf: "2026-11-23T23:00:00Z").files.first)
        #expect(f.counts?.accepted == 1, "\(f)")
        #expect(try box.gateway().storeForQueries.stockSale(orderRef: "S-2026-000106")?.releasedBy == "S-2026-000103")
    }
}
