import Foundation
import GatewayTestSupport
import Testing

/// A file the gateway's user may not read (issue 25: mode 000 made every run exit 1 and left the
/// other files waiting). Run as `nobody`, as the systemd unit runs it, since root reads anything.
@Suite("A file the gateway may not read", .serialized)
struct UnreadableInboxTests {
    @Test func isLeftInPlaceReportedOnceAndTakenWhenReadable() throws {
        let cli = try CLI()
        // The binary beside the home, where nobody may run it (the build folder may be under /root).
        let binary = cli.home + "/caas-gateway"
        try FileManager.default.copyItem(atPath: CLI.binary, toPath: binary)
        try FileManager.default.createDirectory(atPath: cli.home + "/inbox", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: Fixtures.story("intranet/SALES_ES-MAD-01_20261001233000.xml"), toPath: cli.home + "/inbox/SALES_ES-MAD-01_20261001233000.xml")
        let locked = cli.home + "/inbox/settlement_20261002.csv"
        try FileManager.default.copyItem(atPath: Fixtures.story("psp/settlement_20261002.csv"), toPath: locked)
        #expect(try Command.run("/bin/chown", ["-R", "nobody", cli.home]).status == 0)
        #expect(chmod(locked, 0o000) == 0)
        #expect(chmod(cli.home, 0o755) == 0)

        func run(_ asOf: String) throws -> CommandResult {
            try Command.capture(["/usr/sbin/runuser", "-u", "nobody", "--", binary, "run", "--as-of", asOf], in: cli.home)
        }
        let first = try run("2026-10-02T23:00:00Z")
        #expect(first.status == 2, "a person is needed: \(first.output)\(first.error)")
        #expect(first.error.contains("inbox_entry_unreadable"), "\(first.error)")
        #expect(FileManager.default.fileExists(atPath: locked), "left where it is")
        let orders = try Command.capture([binary, "orders", "--json", "--as-of", "2026-10-02T23:00:00Z"], in: cli.home)
        #expect(orders.output.contains("S-2026-000101"), "the other file was taken in")

        let second = try run("2026-10-02T23:30:00Z")
        #expect(second.status == 0, "reported once: \(second.error)")
        let report = try String(contentsOfFile: cli.home + "/outbox/reports/2026-10-02/report.csv", encoding: .utf8)
        #expect(report.contains("inbox_entry_unreadable") && report.contains("settlement_20261002.csv"), "still shown while it stays")

        #expect(chmod(locked, 0o644) == 0)
        let third = try run("2026-10-03T23:00:00Z")
        #expect([0, 2].contains(third.status), "\(third.error)")
        #expect(!FileManager.default.fileExists(atPath: locked), "taken in once readable")
        let after = try String(contentsOfFile: cli.home + "/outbox/reports/2026-10-03/report.csv", encoding: .utf8)
        #expect(!after.contains("inbox_entry_unreadable"))
    }
}
