import Foundation
import GatewayTestSupport
import Testing

@Suite("A query says the same every time it is asked")
struct ExplainRepeatTests {
    /// `explain --json` printed an exception no run had seen yet as first seen at the time of the
    /// call, so two calls never agreed (issue 26): such an exception has no first sighting yet.
    @Test func explainSaysTheSameTwice() throws {
        let cli = try CLI()
        try cli.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml"])
        #expect(try cli.run(["run", "--as-of", "2026-10-02T23:00:00Z"]).code == 0)
        // Asked without --as-of, weeks later: the señal is overdue, which no run has recorded.
        let first = try cli.run(["explain", "S-2026-000101", "--json"])
        let second = try cli.run(["explain", "S-2026-000101", "--json"])
        #expect(first.code == 0 && first.out.contains("reservation_unpaid"), "\(first.out)\(first.err)")
        #expect(first.out == second.out)
        #expect(first.out.contains("\"first_seen_at\" : null"), "\(first.out)")
    }
}
