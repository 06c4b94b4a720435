import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine
@testable import GatewayStore
@testable import GatewayTransport

/// The partner story as it happened: each day's files dropped that day, one run per day.
@Suite("The whole partner story, day by day", .serialized)
final class ReplayTests {
    let sim: FactorySimulator
    /// The five registration bodies, each with its own contract.
    let bodies: [RegistrationSimulator]

    init() throws {
        sim = try FactorySimulator()
        bodies = try ["ES", "PT", "FR", "DE", "IT"].map { try RegistrationSimulator(country: $0) }
    }

    deinit {
        sim.stop()
        for b in bodies { b.stop() }
    }

    static func filesByDay() -> [String: [String]] {
        var out: [String: [String]] = [:]
        for f in FactoryStoryTests.storyFiles(through: "20261120") {
            let name = (f as NSString).lastPathComponent
            guard let r = name.range(of: "2026[0-9]{4}", options: .regularExpression) else { continue }
            out[String(name[r]), default: []].append(f)
        }
        return out
    }

    static var days: [String] { Fixtures.storyDays }

    @Test func theStoryEndsWhereThePartnerRulesSay() throws {
        var box = try Sandbox()
        func report(_ day: String) throws -> DailyReport {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            return try decoder.decode(
                DailyReport.self, from: Data(contentsOf: URL(fileURLWithPath: "\(box.config.reportsDir)/\(day)/report.json")))
        }
        try box.useFactory(sim)
        box.config.dealerships["ES-MAD-01"] = "Paseo de la Castellana 200, Madrid"
        for b in bodies {
            try box.useRegistration(b)
            // Every other submission fails: retries must never register an order twice.
            try SimControl(sim: b).faults(#"{"fail_every": 2, "status": 503}"#)
        }
        let faults = try HTTPClient(tls: TLSOptions(caBundle: sim.ca.caCertificate))
            .send(HTTPRequest(method: "POST", url: sim.baseURL + "/_sim/faults", body: Data(#"{"fail_every": 2, "status": 500}"#.utf8)))
        #expect(faults.status == 200)
        let byDay = Self.filesByDay()
        for day in Self.days {
            try box.drop(byDay[day.replacingOccurrences(of: "-", with: "")] ?? [])
            _ = try box.run(asOf: day + "T23:00:00Z")
            // The report reviews only orders that changed, have exceptions or reached a threshold:
            // it must find what the rules find over every order.
            let asOf = Timestamp.parseISO(day + "T23:00:00Z")!
            let everyOrder = try box.gateway().storeForQueries.projections().flatMap {
                Reconciliation.review($0, config: box.config.reconciliation, asOf: asOf).exceptions.map(\.key)
            }
            let reported = Set(try report(day).exceptions.map(\.key))
            #expect(Set(everyOrder).subtracting(reported).isEmpty, "\(day): \(Set(everyOrder).subtracting(reported))")
        }
        let g = try box.gateway()
        let state = Dictionary(uniqueKeysWithValues: try g.orders().map { ($0.ref, $0.state) })
        let expected: [String: OrderState] = [
            // Fully paid, then registered in their countries (ES, FR, IT at once; PT, DE after polling).
            "S-2026-000401": .registered, "VD/2026/000046": .registered,
            // Delivered at home on 10 Nov; the first link failed, the second worked.
            "S-2026-000301": .operational,
            // Delivered at home on 12 Nov, linked.
            "S-2026-000101": .operational,
            // Customer absent on 13 Nov: back to the dealership, collected on 15 Nov, linked.
            "S-2026-000102": .operational,
            // Out for delivery on 19 Nov.
            "S-2026-000201": .inTransit,
            // Declined twice, then the 14-day window closed: dealership stock, señal kept.
            "S-2026-000103": .sinAsignar,
            "S-2026-000302": .awaitingFinalPayment,
            "S-2026-000202": .inProduction, "VD/2026/000045": .inProduction, "S-2026-000203": .qualityControl,
            // Sold on 2 Nov, no señal yet; and 1,500 of a 2,000 señal.
            "S-2026-000104": .awaitingReservation, "S-2026-000303": .awaitingReservation,
        ]
        #expect(state == expected)
        #expect(try g.orders().first { $0.ref == "S-2026-000103" }?.receivedMinor == 500_000)

        // Never placed twice, although every other call to the factory failed. (An order whose
        // placement kept failing until the factory's own confirmation arrived in its status feed
        // has the factory's id from that feed and no placement fact: placing it was no longer due.)
        #expect(try g.storeForQueries.actions(status: .failed).isEmpty)  // a 409 would be here
        for ref in expected.keys where state[ref] != .awaitingReservation {
            #expect(try g.storeForQueries.facts(orderRef: ref).filter { $0.kind == .factoryOrderPlaced }.count <= 1, "\(ref)")
            #expect(try g.orders().first { $0.ref == ref }?.factoryOrder?.hasPrefix("FO-") == true, "\(ref)")
        }

        // The paths as the carrier and IoT files tell them.
        func path(_ ref: String) throws -> [OrderState] {
            try g.explain(ref: ref, asOf: Timestamp.parseISO("2026-11-20T23:00:00Z")!)!.view.timeline.compactMap(\.stateAfter)
                .reduce(into: [OrderState]()) { if $0.last != $1 { $0.append($1) } }
        }
        #expect(try path("S-2026-000102").suffix(5) == [.registered, .inTransit, .returnedToDealership, .delivered, .operational])
        #expect(try path("S-2026-000301").suffix(4) == [.registered, .inTransit, .delivered, .operational])
        #expect(try g.orders().first { $0.ref == "S-2026-000301" }?.linkFailures == 1)

        // At handover the IoT platform is told who may link which vehicle, once per vehicle.
        let iot = box.files(under: box.config.outbox + "/iot")
        let links = try iot.flatMap {
            try String(contentsOfFile: box.config.outbox + "/iot/" + $0, encoding: .utf8).split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
        }
        #expect(links.map { $0["order_ref"] as! String }.sorted() == ["S-2026-000101", "S-2026-000102", "S-2026-000301"])
        #expect(links.first { $0["order_ref"] as? String == "S-2026-000102" }?["vin"] as? String == "VSCCAE100V3047020")
        #expect(links.allSatisfy { ($0["customer_id"] as? String)?.hasPrefix("C-") == true })

        // The customer hears of each step of the handover; the absent one where to collect the car.
        let told = try box.notifications().filter { $0["order_ref"] as? String == "S-2026-000102" }.map { $0["template"] as! String }
        for t in [
            "order_registered", "order_out_for_delivery", "order_delivery_failed", "order_ready_for_collection", "order_delivered",
            "order_vehicle_linked",
        ] {
            #expect(told.contains(t), "\(t)")
        }
        let failed = try box.notifications().first { $0["template"] as? String == "order_delivery_failed" }
        #expect((failed?["variables"] as? [String: String])?["dealer_address"] == "Paseo de la Castellana 200, Madrid")
        #expect((failed?["channels"] as? [String]) == ["email", "sms"])

        // Plates in each country's format, each order registered once.
        let mappings = g.registrationMappings
        for v in try g.orders() where v.state == .registered {
            #expect(mappings[v.country!]!.checkPlate(v.plate ?? "") == nil, "\(v.ref) \(v.plate ?? "no plate")")
        }
        for b in bodies {
            for (id, counts) in try SimControl(sim: b).requests() {
                let registered = try g.storeForQueries.registrations().filter { $0.submissionID == id && $0.phase == .registered }
                #expect(registered.count == 1, "\(id)")
                #expect(counts.submits <= 2, "\(id): \(counts.submits) submissions")  // one failed, one accepted
            }
        }
        #expect(Set(try g.storeForQueries.registrations().map(\.country)) == ["ES", "PT", "FR", "DE", "IT"])

        // What the last report shows.
        let csv = try String(contentsOfFile: box.config.reportsDir + "/2026-11-20/report.csv", encoding: .utf8)
        #expect(
            csv.contains(
                "finance,reservation_underpaid,S-2026-000303,S-2026-000303,48,2026-10-03T23:00:00Z,no,no,1500.00 EUR received of a 2000.00 EUR señal"
            ))
        // Every exception the story leaves open, under the owner who acts on it.
        let final = try report("2026-11-20")
        let open = Set(final.exceptions.map { "\($0.owner.rawValue) \($0.rule) \($0.subject)" })
        #expect(
            open == [
                // The wrong codice fiscale of 2 Oct: that sale does not exist until the dealership fixes it.
                "dealership sale_rejected SALES_IT-MIL-01_20261002233000.xml",
                "dealership reservation_unpaid S-2026-000104", "dealership released_to_stock S-2026-000103",
                // A dealership pick-up, registered on 19 Nov.
                "dealership waiting_for_collection VD/2026/000046",
                "finance reservation_underpaid S-2026-000303", "finance payment_duplicate S-2026-000203",
                "integration unknown_order S-2026-000999", "integration file_lost factory-vlc1 VLC1",
                // Both plants have been quiet for longer than ever before.
                "integration feed_silent factory-vlc1", "integration feed_silent factory-zwk2",
                "logistics factory_silent S-2026-000202", "logistics factory_silent S-2026-000203",
                "logistics factory_silent VD/2026/000045",
            ])
        for owner in ExceptionOwner.allCases {
            let ages = final.exceptions.filter { $0.owner == owner }.map(\.ageDays)
            #expect(ages == ages.sorted(by: >), "\(owner): oldest first")
        }
        // What happened and was dealt with on the way: new on its day, resolved when it was.
        func new(_ day: String) throws -> Set<String> {
            Set(try report(day).exceptions.filter(\.isNew).map { "\($0.owner.rawValue) \($0.rule) \($0.subject)" })
        }
        #expect(try new("2026-11-13").contains("dealership delivery_failed S-2026-000102"))
        #expect(try report("2026-11-15").resolvedExceptions.map(\.key).contains("delivery_failed:S-2026-000102"))
        #expect(try new("2026-11-13").contains("finance final_payment_due_soon S-2026-000103"))
        #expect(try report("2026-11-16").resolvedExceptions.map(\.key).contains("final_payment_due_soon:S-2026-000103"))
        #expect(try new("2026-11-16").contains("dealership released_to_stock S-2026-000103"))

        // The expediente of the absent customer's order: the whole purchase, and nothing personal.
        let expediente =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: box.config.outbox + "/expedientes/S-2026-000102.json"))) as! [String: Any]
        #expect(expediente["state"] as? String == "operational")
        let sale = expediente["sale"] as! [String: Any]
        #expect(sale["plan"] as? String != nil && sale["options"] as? [String] != nil && sale["dealer_code"] as? String == "ES-MAD-01")
        let paidFor = (expediente["payments"] as! [String: Any])["history"] as! [[String: Any]]
        #expect(paidFor.compactMap { $0["purpose"] as? String }.contains("reservation") && paidFor.count >= 2)
        let factory = expediente["factory"] as! [String: Any]
        #expect((factory["order"] as? String)?.hasPrefix("FO-") == true && factory["vin"] as? String == "VSCCAE100V3047020")
        #expect(((factory["history"] as! [[String: Any]]).compactMap { $0["eta"] as? String }).count >= 1)
        #expect((expediente["registration"] as! [String: Any])["plate"] as? String != nil)
        let delivery = (expediente["delivery"] as! [String: Any])["events"] as! [[String: Any]]
        #expect(
            delivery.compactMap { $0["event"] as? String }.filter {
                ["delivery_failed_absent", "returned_to_dealership", "collected_by_customer"].contains($0)
            } == ["delivery_failed_absent", "returned_to_dealership", "collected_by_customer"])
        #expect((expediente["app_link"] as! [String: Any])["status"] as? String == "linked")
        let text = try String(contentsOfFile: box.config.outbox + "/expedientes/S-2026-000102.json", encoding: .utf8)
        for fact in try g.storeForQueries.facts(orderRef: "S-2026-000102") where fact.kind == .saleRegistered {
            for field in ["customer.email", "customer.national_id", "customer.family_name", "customer.phone"] {
                if let value = fact.string(field) { #expect(!text.contains(value), "\(field) in the expediente") }
            }
        }

        // The vehicle released to stock, once, and its customer told.
        let stock = box.files(under: box.config.outbox + "/stock")
        #expect(stock.count == 1)
        let line = try String(contentsOfFile: box.config.outbox + "/stock/" + stock[0], encoding: .utf8)
        #expect(line.contains(#""order_ref":"S-2026-000103""#) && line.contains(#""vin":"VSCCAE103V3047030""#))
        let notes = try box.notifications()
        #expect(notes.contains { $0["template"] as? String == "order_reservation_lost" && $0["order_ref"] as? String == "S-2026-000103" })
        #expect(
            notes.contains {
                $0["template"] as? String == "order_available_at_dealership" && ($0["channels"] as? [String]) == ["email", "sms"]
            })
        #expect(Set(notes.map { $0["idempotency_key"] as! String }).count == notes.count)  // nobody told the same thing twice
    }

    /// The story after 20 Nov (Tests/Fixtures/story-after-20-nov), by the day in each name.
    static func laterFilesByDay() -> [String: [String]] {
        var out: [String: [String]] = [:]
        for dir in ["intranet", "psp", "bank", "carrier", "iot"] {
            let base = Fixtures.path("story-after-20-nov/" + dir)
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).sorted() {
                guard let r = name.range(of: "2026[0-9]{4}", options: .regularExpression) else { continue }
                out[String(name[r]), default: []].append(base + "/" + name)
            }
        }
        return out
    }

    @Test func theStoryGoesOnWithS2026000103sVehicleSoldAgainFromStock() throws {
        var box = try Sandbox()
        try box.useFactory(sim)
        box.config.dealerships["ES-MAD-01"] = "Paseo de la Castellana 200, Madrid"
        for b in bodies { try box.useRegistration(b) }
        let client = try HTTPClient(tls: TLSOptions(caBundle: sim.ca.caCertificate))
        func placed() throws -> Set<String> {
            let r = try client.send(HTTPRequest(method: "GET", url: sim.baseURL + "/_sim/requests"))
            let o = try JSONSerialization.jsonObject(with: r.body) as! [String: [String: Any]]
            return Set(o.filter { $0.value["placed"] as? Bool == true }.keys)
        }
        let story = Self.filesByDay(), later = Self.laterFilesByDay()
        var day = Timestamp.parseISO("2026-10-01")!
        var placedBy20Nov: Set<String> = []
        while Timestamp.day(day) <= "2026-11-30" {
            let stamp = Timestamp.day(day).replacingOccurrences(of: "-", with: "")
            try box.drop(story[stamp] ?? [])
            try FileManager.default.createDirectory(atPath: box.inbox, withIntermediateDirectories: true)
            for f in later[stamp] ?? [] {
                try FileManager.default.copyItem(atPath: f, toPath: box.inbox + "/" + (f as NSString).lastPathComponent)
            }
            _ = try box.run(asOf: Timestamp.day(day) + "T23:00:00Z")
            if Timestamp.day(day) == "2026-11-20" { placedBy20Nov = try placed() }
            day = day.addingTimeInterval(86400)
        }
        // No factory order for the stock vehicle: the plants placed the story's 11 and no more.
        #expect(placedBy20Nov.count == 11)
        #expect(try placed() == placedBy20Nov)

        let g = try box.gateway()
        let sold = try #require(try g.storeForQueries.projection(ref: "S-2026-000105"))
        #expect(sold.state == .operational, "\(sold.timeline.map { "\($0.stateAfter?.rawValue ?? "-") \($0.note ?? "")" })")
        #expect(sold.vin == "VSCCAE103V3047030" && sold.factoryOrder == nil && sold.plate != nil && sold.anomalies.isEmpty)
        #expect(sold.receivedMinor == sold.totalMinor)
        #expect(try g.storeForQueries.actions(orderRef: "S-2026-000105").allSatisfy { $0.kind != .placeFactoryOrder })
        #expect(try g.storeForQueries.registrations().contains { $0.orderRef == "S-2026-000105" && $0.phase == .registered })
        // The first buyer's order keeps its history, and records where the vehicle went.
        let first = try #require(try g.storeForQueries.projection(ref: "S-2026-000103"))
        #expect(first.state == .sinAsignar && first.resoldTo == "S-2026-000105" && first.receivedMinor == 500_000)

        // The dealership's stock: released on 16 Nov, sold on 22 Nov (the señal), one line each.
        let stock = try box.files(under: box.config.outbox + "/stock").sorted().flatMap { rel in
            try String(contentsOfFile: box.config.outbox + "/stock/" + rel, encoding: .utf8).split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
        }.filter { $0["vin"] as? String == "VSCCAE103V3047030" }
        #expect(stock.map { "\($0["change"]!) \($0["order_ref"]!)" } == ["released S-2026-000103", "sold S-2026-000105"])
        #expect(stock.last?["released_by"] as? String == "S-2026-000103" && stock.last?["at"] as? String == "2026-11-22T11:20:00Z")

        // The expediente shows where the vehicle came from.
        let expediente =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: box.config.outbox + "/expedientes/S-2026-000105.json"))) as! [String: Any]
        #expect((expediente["vehicle"] as? [String: String]) == ["origin": "dealership_stock", "vin": "VSCCAE103V3047030"])
        #expect((expediente["factory"] as! [String: Any])["order"] == nil || (expediente["factory"] as! [String: Any])["order"] is NSNull)

        // The report is clean of it: no exception of the sale, nothing rejected, and the
        // "sell it from stock" of the first order resolved once it was sold.
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        func report(_ day: String) throws -> DailyReport {
            try decoder.decode(
                DailyReport.self, from: Data(contentsOf: URL(fileURLWithPath: "\(box.config.reportsDir)/\(day)/report.json")))
        }
        for d in ["2026-11-21", "2026-11-22", "2026-11-27", "2026-11-29", "2026-11-30"] {
            let r = try report(d)
            // Registered on the 27th, it waits at the dealership for its customer: work, not a problem.
            let its = r.exceptions.filter { $0.order == "S-2026-000105" || $0.subject.contains("S-2026-000105") }.map(\.rule)
            #expect(its == (d == "2026-11-27" ? ["waiting_for_collection"] : []), "\(d): \(its)")
            #expect(r.rejections.isEmpty || r.rejections.allSatisfy { $0.recordRef != "S-2026-000105" }, "\(d)")
        }
        #expect(try report("2026-11-21").exceptions.contains { $0.key == "released_to_stock:S-2026-000103" })
        #expect(try report("2026-11-22").resolvedExceptions.map(\.key).contains("released_to_stock:S-2026-000103"))
        let told = try box.notifications().filter { $0["order_ref"] as? String == "S-2026-000105" }.map { $0["template"] as! String }
        for t in [
            "customer_welcome", "order_available_at_dealership", "order_final_payment_received", "order_registered", "order_delivered",
        ] {
            #expect(told.contains(t), "\(t) in \(told)")
        }
    }
}
