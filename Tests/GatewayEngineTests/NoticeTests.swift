import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine
@testable import GatewayStore

@Suite("Customers are told what happens to their order")
struct NoticeTests {
    static func run(_ box: Sandbox, crash: (@Sendable (String) throws -> Void)? = nil) throws -> RunSummary {
        try box.drop(FactoryStoryTests.storyFiles(through: "20261020"))
        return try box.run(asOf: "2026-10-20T23:00:00Z", crash: crash)
    }

    @Test func recentFactoryStepsAreToldOnceInTheirOwnFile() throws {
        let box = try Sandbox()
        let s = try Self.run(box)
        #expect(
            s.notificationsFiles.contains { $0.hasSuffix("-welcome.ndjson") }
                && s.notificationsFiles.contains { $0.hasSuffix("-notices.ndjson") })
        let notes = try box.notifications()
        let notices = notes.filter { ($0["template"] as! String) != "customer_welcome" }
        #expect(notes.count - notices.count == 12)  // welcomes: every sale of the period but the rejected one
        #expect(!notices.isEmpty)
        #expect(Set(notices.map { $0["idempotency_key"] as! String }).count == notices.count)
        // Only the last seven days before 20 October: nothing from the first week.
        #expect(notices.allSatisfy { ($0["idempotency_key"] as! String).hasPrefix("notify_customer:") })
        let templates = Set(notices.map { $0["template"] as! String })
        #expect(
            templates.isSubset(of: [
                "order_quality_control", "order_ready_to_ship", "order_production_started", "order_delayed", "order_order_confirmed",
            ]))
        #expect(templates.contains("order_ready_to_ship"))
        let ready = try #require(
            notices.first { $0["template"] as? String == "order_ready_to_ship" && $0["order_ref"] as? String == "S-2026-000101" })
        #expect((ready["to"] as! [String: String]).keys.sorted() == ["email"])
        #expect((ready["variables"] as! [String: String])["eta"] == "2026-11-06")
        // The orphan factory event (S-2026-000999) tells nobody.
        #expect(!notices.contains { $0["order_ref"] as? String == "S-2026-000999" })
        // Nothing new happened: a second run tells nobody anything.
        let again = try box.run(asOf: "2026-10-20T23:30:00Z")
        #expect(again.notifications == 0)
        #expect(try box.notifications().count == notes.count)
    }

    @Test(arguments: ["notify_customer.inFlight", "notify_customer.written"])
    func aCrashWhileTellingConvergesToTheSameMessages(_ point: String) throws {
        let clean = try Sandbox("clean-\(point)")
        _ = try Self.run(clean)
        let expected = Set(try clean.notifications().map { $0["idempotency_key"] as! String })
        let box = try Sandbox("crash-\(point)")
        #expect(throws: SimulatedCrash.self) { try Self.run(box, crash: { if $0 == point { throw SimulatedCrash() } }) }
        _ = try box.run(asOf: "2026-10-20T23:10:00Z")
        let keys = try box.notifications().map { $0["idempotency_key"] as! String }
        #expect(Set(keys) == expected)
        #expect(keys.count == expected.count)  // none twice
    }
}
