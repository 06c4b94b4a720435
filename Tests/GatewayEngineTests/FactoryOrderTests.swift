import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine
@testable import GatewayStore
@testable import GatewayTransport

@Suite("Factory orders placed automatically, against the factory simulator", .serialized)
final class FactoryOrderTests {
    let sim: FactorySimulator

    init() throws {
        sim = try FactorySimulator()
    }

    deinit { sim.stop() }

    func box(maxAttempts: Int = 8, timeout: TimeInterval = 5, backoff: TimeInterval = 0) throws -> Sandbox {
        var box = try Sandbox()
        try box.useFactory(sim, maxAttempts: maxAttempts, timeout: timeout, backoff: backoff)
        return box
    }

    func faults(_ json: String) throws {
        let r = try HTTPClient(tls: TLSOptions(caBundle: sim.ca.caCertificate))
            .send(HTTPRequest(method: "POST", url: sim.baseURL + "/_sim/faults", body: Data(json.utf8)))
        #expect(r.status == 200)
    }

    func simRequests() throws -> [String: [String: Any]] {
        let r = try HTTPClient(tls: TLSOptions(caBundle: sim.ca.caCertificate)).send(
            HTTPRequest(method: "GET", url: sim.baseURL + "/_sim/requests"))
        return try JSONSerialization.jsonObject(with: r.body) as! [String: [String: Any]]
    }

    static let firstDays =
        Sandbox.storySales + ["psp/settlement_20261002.csv", "psp/settlement_20261003.csv", "psp/settlement_20261004.csv"]

    @Test func reservedOrdersAreOrderedWithTheFactorysIDs() throws {
        let box = try box()
        try box.drop(Self.firstDays)
        let s = try box.run(asOf: "2026-10-04T23:00:00Z")
        let orders = try box.gateway().orders()
        let ordered = orders.filter { $0.state == .factoryOrdered }
        #expect(ordered.count == 9 && s.actionsFailed == 0)
        #expect(orders.first { $0.ref == "S-2026-000101" }?.factoryOrder == "FO-VLC1-0004701")
        #expect(orders.first { $0.ref == "VD/2026/000046" }?.factoryOrder == "FO-VLC1-0004709")
        #expect(orders.first { $0.ref == "S-2026-000301" }?.plant == "ZWK2")
        #expect(orders.first { $0.ref == "S-2026-000101" }?.eta.map(Timestamp.day) == "2026-11-05")
        let seen = try simRequests()
        #expect(seen.count == 9 && seen.values.allSatisfy { $0["requests"] as? Int == 1 })
        // Nothing is due any more: a second run sends nothing.
        _ = try box.run(asOf: "2026-10-04T23:30:00Z")
        #expect(try simRequests().values.allSatisfy { $0["requests"] as? Int == 1 })
    }

    @Test func everyOtherCallFailingNeverPlacesAnOrderTwice() throws {
        let box = try box()
        try faults(#"{"fail_every": 2, "status": 500}"#)
        try box.drop(Self.firstDays)
        _ = try box.run(asOf: "2026-10-04T23:00:00Z")
        for i in 1...4 where try box.gateway().orders().contains(where: { $0.state == .reserved }) {
            _ = try box.run(asOf: "2026-10-04T23:\(10 + i):00Z")
        }
        let g = try box.gateway()
        #expect(try g.orders().filter { $0.state == .factoryOrdered }.count == 9)
        for o in try g.orders() where o.state == .factoryOrdered {
            #expect(try g.storeForQueries.facts(orderRef: o.ref).filter { $0.kind == .factoryOrderPlaced }.count == 1)
        }
        #expect(try simRequests().values.contains { ($0["requests"] as? Int ?? 0) > 1 })  // retries happened
    }

    @Test func busyFactoryIsAskedAgainWhenItSays() throws {
        let box = try box()
        try faults(#"{"fail_every": 1, "status": 503, "retry_after": 3600}"#)
        try box.drop(Self.firstDays)
        let s = try box.run(asOf: "2026-10-04T23:00:00Z")
        #expect(s.actionsRetrying == 9)
        let waiting = try box.gateway().storeForQueries.actions(status: .pending).filter { $0.kind == .placeFactoryOrder }
        #expect(waiting.count == 9 && waiting.allSatisfy { $0.lastError?.contains("503") == true && $0.nextAttemptAt != nil })
        try faults("{}")
        // Retry-After is counted on the run's clock: ten minutes later is too early, the next day is not.
        _ = try box.run(asOf: "2026-10-04T23:10:00Z")
        #expect(try box.gateway().orders().filter { $0.state == .factoryOrdered }.isEmpty)
        _ = try box.run(asOf: "2026-10-05T00:10:00Z")
        #expect(try box.gateway().orders().filter { $0.state == .factoryOrdered }.count == 9)
    }

    @Test func refusalsFailForAPersonAndTimeoutsGiveUpAfterTheLimit() throws {
        // An option the factory does not know: 422, not retried, with the factory's words.
        var box = try box(maxAttempts: 2, timeout: 1, backoff: 1)
        // Our catalogue lists it (announced, say) but the factory does not know it yet: the
        // catalogue's own check lets it through, and the factory's 422 is what is tested.
        box.config.catalogue.options.insert("JETPACK")
        let sale = try String(contentsOfFile: Fixtures.story("intranet/SALES_FR-LYO-01_20261001233000.xml"), encoding: .utf8)
            .replacingOccurrences(of: "AUTOPARK", with: "JETPACK")
        try Fixtures.write(sale, box.inbox + "/SALES_FR-LYO-01_20261001233000.xml")
        try box.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml", "psp/settlement_20261002.csv"])
        try faults(#"{"delay": 2}"#)
        _ = try box.run(asOf: "2026-10-02T23:00:00Z")
        try faults("{}")
        // Second run: the delayed ones go through; the JETPACK order is refused for good.
        _ = try box.run(asOf: "2026-10-02T23:30:00Z")
        let actions = try box.gateway().storeForQueries.actions(status: .failed)
        let refused = try #require(actions.first { $0.orderRef == "S-2026-000201" })
        #expect(refused.lastError?.contains("422") == true && refused.lastError?.contains("field options") == true)
        let csv = try String(contentsOfFile: box.config.reportsDir + "/2026-10-02/report.csv", encoding: .utf8)
        #expect(csv.contains("integration,action_failed,S-2026-000201,S-2026-000201,"))
        #expect(
            csv.contains(
                "place_factory_order gave up after 2 attempt(s): the factory refused the order (422): unknown option JETPACK (field options)"
            ))
        #expect(try box.gateway().orders().first { $0.ref == "S-2026-000101" }?.state == .factoryOrdered)

        let slow = try self.box(maxAttempts: 2, timeout: 1, backoff: 1)
        try slow.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml", "psp/settlement_20261002.csv"])
        try faults(#"{"delay": 2}"#)
        _ = try slow.run(asOf: "2026-10-02T23:00:00Z")
        _ = try slow.run(asOf: "2026-10-02T23:30:00Z")
        let gaveUp = try slow.gateway().storeForQueries.actions(status: .failed)
        #expect(gaveUp.count == 2 && gaveUp.allSatisfy { $0.lastError?.hasPrefix("gave up after 2 attempts") == true })
        try faults("{}")
    }

    @Test func anOrderAcceptedButNeverAnsweredIsRecordedOnTheRetry() throws {
        let box = try box(backoff: 1)
        try faults(#"{"drop_after_accept": true}"#)
        try box.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml", "psp/settlement_20261002.csv"])
        _ = try box.run(asOf: "2026-10-02T23:00:00Z")
        #expect(try box.gateway().orders().allSatisfy { $0.state == .reserved })
        try faults("{}")
        _ = try box.run(asOf: "2026-10-02T23:30:00Z")
        let orders = try box.gateway().orders()
        #expect(orders.first { $0.ref == "S-2026-000101" }?.factoryOrder == "FO-VLC1-0004701")
        #expect(try simRequests()["S-2026-000101"]?["requests"] as? Int == 2)
    }
}

@Suite struct FactoryOrderBodyTests {
    @Test func theBodyIsTheSameBeforeAndAfterTheCustomerHasAnAccountAndTheOrderMovesOn() {
        var view = OrderView(ref: "S-2026-000101")
        view.dealerCode = "ES-MAD-01"
        view.plan = "BASE-FAMILY"
        view.options = ["HEATED-SEATS"]
        view.timeline = [
            TimelineStep(
                factID: "p", kind: .payment, occurredAt: Timestamp.parseISO("2026-10-02T12:00:00Z")!, stateAfter: .reserved, note: nil)
        ]
        view.stateSince = Timestamp.parseISO("2026-10-02T12:00:00Z")
        let sale = Fact(
            id: "f", orderRef: "S-2026-000101", kind: .saleRegistered, occurredAt: Timestamp.parseISO("2026-10-01T10:05:00Z")!,
            fields: ["customer.email": .string("MJ.Munoz@example.es")], provenance: Provenance())
        let before = FactoryOrderAction.body(view: view, sale: sale)
        view.customerID = "C-SOMETHING-ELSE"
        #expect(FactoryOrderAction.body(view: view, sale: sale) == before)
        // The factory's status files move the order on before a retry: the same bytes still.
        view.state = .inProduction
        view.stateSince = Timestamp.parseISO("2026-10-05T08:00:00Z")
        #expect(FactoryOrderAction.body(view: view, sale: sale) == before)
        let json = String(decoding: before, as: UTF8.self)
        #expect(json.contains(#""customer_id":"\#(CredentialsAction.customerID(username: "mj.munoz@example.es"))""#))
        #expect(json.contains(#""order_date":"2026-10-02T12:00:00Z""#))
    }
}

extension FactoryOrderTests {
    @Test func aConflictFailsForAPersonAndIsNotRetried() throws {
        let box = try box()
        try faults(#"{"fail_every": 1, "status": 409}"#)
        try box.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml", "psp/settlement_20261002.csv"])
        _ = try box.run(asOf: "2026-10-02T23:00:00Z")
        try faults("{}")
        let failed = try box.gateway().storeForQueries.actions(status: .failed)
        #expect(failed.count == 2 && failed.allSatisfy { $0.lastError?.contains("(409)") == true && $0.attempts == 1 })
        _ = try box.run(asOf: "2026-10-02T23:30:00Z")
        #expect(try simRequests().values.allSatisfy { $0["requests"] as? Int == 1 })  // not sent again
    }
}
