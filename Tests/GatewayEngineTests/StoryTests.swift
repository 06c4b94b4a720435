import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine
@testable import GatewayStore

@Suite("The partner story's sales through the whole run")
struct StoryTests {
    static let validRefs: Set<String> = [
        "S-2026-000101", "S-2026-000102", "S-2026-000103", "S-2026-000104", "S-2026-000201", "S-2026-000202", "S-2026-000203",
        "S-2026-000301", "S-2026-000302", "S-2026-000303", "S-2026-000401", "VD/2026/000045", "VD/2026/000046",
    ]

    @Test func theFirstRunTurnsThirteenSalesIntoOrdersAwaitingTheirReservation() throws {
        let box = try Sandbox()
        try box.drop(Sandbox.storySales)
        let inputs = Sandbox.storySales.count
        #expect(inputs == 14)
        let s = try box.run()

        let gateway = try box.gateway()
        let orders = try gateway.orders()
        #expect(Set(orders.map(\.ref)) == Self.validRefs)
        #expect(orders.allSatisfy { $0.state == .awaitingReservation })
        #expect(s.stateChanges == ["awaiting_reservation": 13])

        // Every customer has one activation notification; its token is the one whose hash is stored.
        let notes = try box.notifications()
        #expect(notes.count == 13)
        #expect(Set(notes.map { $0["order_ref"] as! String }) == Self.validRefs)
        for n in notes {
            #expect(n["template"] as? String == "customer_welcome")
            #expect(n["idempotency_key"] as? String == "customer_welcome:\(n["order_ref"]!)")
            let vars = n["variables"] as! [String: String]
            let url = try #require(vars["activation_url"])
            let token = String(url.split(separator: "=").last!)
            #expect(token.count >= 43)  // 256 bits in base64url; the issue asks for at least 128
            let stored = try #require(try gateway.storeForQueries.credential(customerID: n["customer_id"] as! String))
            #expect(stored.tokenHash == Hex.sha256(token))
            #expect(vars["username"] == (n["to"] as! [String: String])["email"])
        }
        #expect(s.notificationsFiles.count == 1)
        let noteFile = try #require(s.notificationsFiles.first)
        let mode = try FileManager.default.attributesOfItem(atPath: noteFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // The wrong codice fiscale is rejected with its reason; the Madrid re-send is a duplicate.
        #expect(s.recordsRejected == 1)
        #expect(s.count(.duplicate) == 1)
        #expect(s.files.first { $0.outcome == .duplicate }?.name == "SALES_ES-MAD-01_20261002073100.xml")
        #expect(s.files.flatMap(\.rejections).map(\.field) == ["customer.national_id"])
        #expect(s.needsAttention)

        // The report, in three forms.
        let dir = box.config.reportsDir + "/2026-10-03"
        for f in ["report.html", "report.json", "report.csv", "orders.csv"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + f), "\(f)")
        }
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/report.json"))) as! [String: Any]
        #expect(report["schema"] as? String == "caas-gateway/report/v2")
        #expect((report["orders_by_state"] as? [String: Int]) == ["awaiting_reservation": 13])
        let rejections = report["rejections"] as! [[String: Any]]
        #expect(rejections.count == 1)
        #expect(rejections.first?["field"] as? String == "customer.national_id")
        #expect(rejections.first?["file"] as? String == "SALES_IT-MIL-01_20261002233000.xml")
        #expect((report["files"] as? [String: Int])?["duplicate"] == 1)

        // Nothing deleted: every input is in the archive, the inbox is empty.
        #expect(box.files(under: box.inbox).isEmpty)
        #expect(box.files(under: box.config.archiveDir).count == inputs)
    }

    @Test func actionsTakenInSeveralPassesKeepEveryNotification() throws {
        // A pass takes a batch of actions; each pass writes its own file. (Every pass used to
        // write the run's one file, so the second pass overwrote the first pass's welcomes.)
        var box = try Sandbox()
        box.actionBatch = 5
        try box.drop(Sandbox.storySales)
        let s = try box.run()
        #expect(s.notificationsFiles.count == 3)
        let notes = try box.notifications()
        #expect(notes.count == 13)
        #expect(Set(notes.map { $0["order_ref"] as! String }) == Self.validRefs)
        #expect(try box.gateway().orders().allSatisfy { $0.state == .awaitingReservation })
    }

    @Test func aSecondRunChangesNothingAndSaysSo() throws {
        let box = try Sandbox()
        try box.drop(Sandbox.storySales)
        _ = try box.run()
        let gateway = try box.gateway()
        let before = try gateway.orders()
        let notesBefore = try box.notifications().count
        let factsBefore = try before.map { try gateway.storeForQueries.facts(orderRef: $0.ref).count }
        let again = try gateway.run(asOf: Timestamp.parseISO("2026-10-03T23:30:00Z")!)
        #expect(again.changedNothing)
        #expect(!again.needsAttention)
        #expect(try gateway.orders() == before)
        #expect(try box.notifications().count == notesBefore)
        #expect(try before.map { try gateway.storeForQueries.facts(orderRef: $0.ref).count } == factsBefore)
        #expect(again.reportPath != nil)
    }

    @Test func theSameFilesDroppedAgainAreDuplicatesAndApplyNothing() throws {
        let box = try Sandbox()
        try box.drop(Sandbox.storySales)
        _ = try box.run()
        try box.drop(Sandbox.storySales)
        let s = try box.run(asOf: "2026-10-04T23:00:00Z")
        #expect(s.count(.duplicate) == 14)
        #expect(s.factsNew == 0)
        #expect(s.stateChanges.isEmpty)
        #expect(try box.notifications().count == 13)
        #expect(box.files(under: box.config.archiveDir).count == 28)
    }

    @Test func theReportOfADayCoversEveryRunOfThatDay() throws {
        let box = try Sandbox()
        try box.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml"])
        _ = try box.run(asOf: "2026-10-02T08:00:00Z")
        try box.drop(["intranet/SALES_FR-LYO-01_20261001233000.xml"])
        _ = try box.run(asOf: "2026-10-02T20:00:00Z")
        let report =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: box.config.reportsDir + "/2026-10-02/report.json"))) as! [String: Any]
        #expect((report["runs"] as! [Any]).count == 2)
        #expect((report["files"] as? [String: Int])?["ingested"] == 2)
    }

    @Test func aReturningCustomerGetsTheNewOrderAddedNotANewAccount() throws {
        let box = try Sandbox()
        try box.drop(["intranet/SALES_ES-MAD-01_20261002233000.xml"])
        _ = try box.run(asOf: "2026-10-03T09:00:00Z")
        // The same customer buys again at another dealer.
        let second = try String(contentsOfFile: Fixtures.story("intranet/SALES_ES-MAD-01_20261002233000.xml"), encoding: .utf8)
            .replacingOccurrences(of: "S-2026-000103", with: "S-2026-000199")
        try Fixtures.write(second, box.inbox + "/SALES_ES-MAD-01_20261003233000.xml")
        let s = try box.run(asOf: "2026-10-04T09:00:00Z")
        #expect(s.actionsDone == 1)
        let notes = try box.notifications()
        #expect(notes.map { $0["template"] as! String } == ["customer_welcome", "customer_order_added"])
        #expect(notes[0]["customer_id"] as! String == notes[1]["customer_id"] as! String)
        #expect((notes[1]["variables"] as! [String: String])["activation_url"] == nil)
        #expect(try box.gateway().orders().allSatisfy { $0.state == .awaitingReservation })
    }

    @Test func twoOrdersOfOneCustomerInOneRunGiveOneAccountAndOneToken() throws {
        let box = try Sandbox()
        try box.drop(["intranet/SALES_ES-MAD-01_20261002233000.xml"])
        let second = try String(contentsOfFile: Fixtures.story("intranet/SALES_ES-MAD-01_20261002233000.xml"), encoding: .utf8)
            .replacingOccurrences(of: "S-2026-000103", with: "S-2026-000199")
        try Fixtures.write(second, box.inbox + "/SALES_ES-MAD-01_20261003233000.xml")
        let s = try box.run()
        #expect(s.actionsDone == 2)
        let notes = try box.notifications()
        #expect(Set(notes.map { $0["template"] as! String }) == ["customer_welcome", "customer_order_added"])
        let welcome = try #require(notes.first { $0["template"] as? String == "customer_welcome" })
        let token = String((welcome["variables"] as! [String: String])["activation_url"]!.split(separator: "=").last!)
        // The one token sent is the one stored: the second order did not replace it.
        #expect(try box.gateway().storeForQueries.credential(customerID: welcome["customer_id"] as! String)?.tokenHash == Hex.sha256(token))
    }

    @Test func noPersonalDataReachesTheLogsOrTheReport() throws {
        let box = try Sandbox()
        try box.drop(Sandbox.storySales)
        _ = try box.run()
        var sensitive: [String] = []
        for f in Sandbox.storySales {
            let text = try String(contentsOfFile: Fixtures.story(f), encoding: .utf8)
            for tag in ["Email", "NationalId", "Phone", "FamilyName"] {
                let pattern = try NSRegularExpression(pattern: "<\(tag)[^>]*>([^<]+)</\(tag)>")
                for m in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    sensitive.append(String(text[Range(m.range(at: 1), in: text)!]))
                }
            }
        }
        sensitive += ["joao.conceicao@example.pt", "234567899", "ines.goncalves@example.pt", "187654328"]
        #expect(sensitive.count > 40)
        let logs = box.logs.all
        #expect(!logs.isEmpty)
        let reportDir = box.config.reportsDir + "/2026-10-03/"
        let reports = try ["report.html", "report.json", "report.csv", "orders.csv"].map {
            try String(contentsOfFile: reportDir + $0, encoding: .utf8)
        }
        for value in sensitive {
            #expect(!logs.contains(value), "log holds personal data")
            for r in reports { #expect(!r.contains(value), "report holds personal data") }
        }
    }
}
