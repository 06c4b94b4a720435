import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine
@testable import GatewayStore

/// Two runners sharing a store issue the credentials of one customer's two orders at the same
/// moment (issue 26, looking for why four runners' outboxes differed from one runner's). Both
/// saw no account and each sent a welcome: two activation links, and the second token replaced
/// the first in the store, so the first link was dead. Now the second runner's commit finds the
/// customer welcomed, writes nothing, and prepares the step again: one welcome, and the new order
/// added to the account.
@Suite("One customer, two runners", .serialized)
struct SharedCustomerTests {
    final class Once: @unchecked Sendable {
        private let lock = NSLock()
        private var fired = false
        func first() -> Bool {
            lock.lock()
            defer { lock.unlock() }
            if fired { return false }
            fired = true
            return true
        }
    }

    @Test func twoRunnersWelcomingOneCustomerAtOnceSendOneWelcome() throws {
        var one = try Sandbox("one")
        try PostgresStoryTests.usePostgres(&one)
        var two = try Sandbox("two")
        two.config.postgres = one.config.postgres
        one.actionBatch = 1
        two.actionBatch = 1
        // The customer's two orders, taken in and folded (nothing acted on yet).
        try one.drop(["intranet/SALES_ES-MAD-01_20261002233000.xml"])
        let second = try String(contentsOfFile: Fixtures.story("intranet/SALES_ES-MAD-01_20261002233000.xml"), encoding: .utf8)
            .replacingOccurrences(of: "S-2026-000103", with: "S-2026-000199")
        try Fixtures.write(second, one.inbox + "/SALES_ES-MAD-01_20261003233000.xml")
        let asOf = Timestamp.parseISO("2026-10-03T23:00:00Z")!
        _ = try one.gateway().ingest(asOf: asOf)
        _ = try one.gateway().reconcile(asOf: asOf)

        // Runner one has prepared a welcome for one order when runner two welcomes the other.
        let once = Once()
        let runnerTwo = two
        _ = try one.gateway(crash: { point in
            if point == "issue_credentials.prepared", once.first() { _ = try runnerTwo.gateway().act(asOf: asOf) }
        }).act(asOf: asOf)
        #expect(!once.first(), "the race was staged")

        let notes = try one.notifications() + two.notifications()
        let templates = notes.filter { ($0["template"] as! String).hasPrefix("customer_") }.map { $0["template"] as! String }.sorted()
        #expect(templates == ["customer_order_added", "customer_welcome"], "\(templates)")
        let welcome = try #require(notes.first { $0["template"] as? String == "customer_welcome" })
        let token = String((welcome["variables"] as! [String: String])["activation_url"]!.split(separator: "=").last!)
        let stored = try one.gateway().storeForQueries.credential(customerID: welcome["customer_id"] as! String)
        #expect(stored?.tokenHash == Hex.sha256(token), "the one link sent is the one that works")
        #expect(stored?.orderRef == welcome["order_ref"] as? String)
    }
}
