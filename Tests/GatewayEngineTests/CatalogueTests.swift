import Foundation
import GatewayCore
import GatewayTestSupport
import Testing

@testable import GatewayEngine

/// A sale the catalogue or the money rules refuse is rejected at ingest with its field and
/// reason, before any customer exists; the good sales of the same file go on.
@Suite("The catalogue and the money of a sale")
struct CatalogueTests {
    static let file = "SALES_ES-MAD-01_20261001233000.xml"

    /// The story's Madrid export with its second sale changed by `change`.
    func export(_ change: (String) -> String) throws -> String {
        let text = try String(contentsOfFile: Fixtures.story("intranet/" + Self.file), encoding: .utf8)
        let second = text.range(of: "<Sale id=\"S-2026-000102\"")!.lowerBound
        return String(text[..<second]) + change(String(text[second...]))
    }

    func ingest(_ text: String, config: ((inout GatewayConfig) -> Void)? = nil) throws -> (FileOutcome, Sandbox) {
        var box = try Sandbox()
        config?(&box.config)
        try FileManager.default.createDirectory(atPath: box.inbox, withIntermediateDirectories: true)
        try text.write(toFile: box.inbox + "/" + Self.file, atomically: true, encoding: .utf8)
        let f = try #require(try box.gateway().ingest(asOf: Timestamp.parseISO("2026-10-01T23:00:00Z")!).files.first)
        return (f, box)
    }

    @Test(arguments: [
        (
            "<Total>34990.00</Total><Deposit>2000.00</Deposit>", "<Total>34990.00</Total><Deposit>-2000.00</Deposit>", "deposit_minor",
            "zero or negative"
        ),
        (
            "<Total>34990.00</Total><Deposit>2000.00</Deposit>", "<Total>1990.00</Total><Deposit>2000.00</Deposit>", "deposit_minor",
            "above the total"
        ),
        ("<Total>34990.00</Total>", "<Total>0.00</Total>", "total_minor", "zero or negative"),
        ("<Plan code=\"BASE-URBAN\"/>", "<Plan code=\"BASE-ROCKET\"/>", "plan", "is not a plan of the catalogue"),
        ("<Options></Options>", "<Options><Option code=\"JETPACK\"/></Options>", "options", "1 option(s) not in the catalogue"),
        ("<Price currency=\"EUR\">", "<Price currency=\"USD\">", "currency", "is not EUR"),
    ])
    func aSaleBreakingARuleIsRejectedAndTheOtherGoesOn(_ from: String, _ to: String, _ field: String, _ reason: String) throws {
        let (f, box) = try ingest(try export { $0.replacingOccurrences(of: from, with: to) })
        #expect(f.outcome == .ingested && f.counts?.accepted == 1 && f.counts?.rejected == 1, "\(f)")
        let r = try #require(f.rejections.first)
        #expect(r.field == field && r.reason.contains(reason) && r.recordRef == "S-2026-000102", "\(r)")
        #expect(!r.reason.contains("ROCKET") && !r.reason.contains("JETPACK") && !r.reason.contains("USD"), "a reason never is the value")
        // No customer for the refused sale: its order does not exist, the first one does.
        _ = try box.run(asOf: "2026-10-01T23:30:00Z")
        #expect(try box.gateway().storeForQueries.projection(ref: "S-2026-000102")?.isKnown != true)
        #expect(try box.gateway().storeForQueries.projection(ref: "S-2026-000101")?.isKnown == true)
        #expect(try box.notifications().allSatisfy { ($0["order_ref"] as? String) != "S-2026-000102" })
    }

    @Test func aCodeTheFactoryAnnouncedIsAcceptedOnceInTheCatalogue() throws {
        let text = try export { $0.replacingOccurrences(of: "<Plan code=\"BASE-URBAN\"/>", with: "<Plan code=\"BASE-VAN\"/>") }
        #expect(try ingest(text).0.counts?.rejected == 1)
        let (f, _) = try ingest(text) { $0.catalogue.plans.insert("BASE-VAN") }
        #expect(f.counts?.rejected == 0 && f.counts?.accepted == 2, "\(f)")
        let parsed = try GatewayConfig.parse("catalogue: {plans: [base-van], currency: eur}\n", file: "c.yaml")
        #expect(parsed.catalogue.plans == ["BASE-VAN"] && parsed.catalogue.currency == "EUR")
        #expect(throws: (any Error).self) { try GatewayConfig.parse("catalogue: {currency: euros}\n", file: "c.yaml") }
    }
}
