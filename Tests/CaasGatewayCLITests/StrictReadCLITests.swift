import Foundation
import GatewayTestSupport
import Testing

/// Strict reads through the binary (issue 26): a corrupted row makes `orders`, `explain` and
/// `registrations` exit 1 naming the table, the row and the column, instead of printing another
/// truth or "DecodingError.dataCorrupted".
@Suite("A corrupted row stops the queries with its name")
struct StrictReadCLITests {
    /// Edits the home's SQLite store behind the gateway's back, as a hand edit or a newer version would.
    func edit(_ cli: CLI, _ sql: String) throws {
        let script = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()"
        let r = try Command.run("/usr/bin/env", ["python3", "-c", script, cli.home + "/var/gateway.sqlite", sql])
        guard r.status == 0 else { throw StoryError("python3 sqlite3 failed: \(r.output)") }
    }

    @Test func ordersExplainAndRegistrationsExitOneNamingTheRow() throws {
        let cli = try CLI()
        try cli.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml"])
        #expect(try cli.run(["run", "--as-of", "2026-10-02T23:00:00Z"]).code == 0)
        #expect(try cli.run(["orders", "--json"]).code == 0)

        try edit(cli, #"UPDATE orders SET view_json = '{"ref": 5}' WHERE ref = 'S-2026-000101'"#)
        for args in [["orders"], ["orders", "--json"]] {
            let r = try cli.run(args)
            #expect(r.code == 1, "\(args)")
            #expect(r.err.contains("orders row S-2026-000101 has view_json") && r.err.contains("at .ref"), "\(args): \(r.err)")
            #expect(!r.err.contains("DecodingError"))
        }

        try edit(cli, "UPDATE facts SET kind = 'teleported' WHERE order_ref = 'S-2026-000101'")
        let explain = try cli.run(["explain", "S-2026-000101"])
        #expect(explain.code == 1)
        #expect(explain.err.contains("facts row f_") && explain.err.contains("kind = 'teleported'"), "\(explain.err)")

        try edit(
            cli,
            """
            INSERT INTO registrations(order_ref, country, generation, submission_id, phase, updated_at)
              VALUES ('S-2026-000101', 'ES', 1, 'ES-S-2026-000101-1', 'limbo', 0);
            """)
        let registrations = try cli.run(["registrations", "--json"])
        #expect(registrations.code == 1)
        #expect(registrations.err.contains("registrations row S-2026-000101 has phase = 'limbo'"), "\(registrations.err)")
    }
}
