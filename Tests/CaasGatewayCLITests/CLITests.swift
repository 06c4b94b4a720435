import Foundation
import GatewayCore
import GatewayEngine
import GatewayTestSupport
import Logging
import Testing

/// Runs the `caas-gateway` binary built next to this test bundle, without a terminal.
struct CLI {
    let home: String

    init(_ name: String = #function) throws {
        home = Fixtures.tempDir(name)
        try FileManager.default.createDirectory(atPath: home + "/mappings", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.mappingsDir, toPath: home + "/mappings/feeds")
    }

    /// A home made elsewhere (a running receiver's).
    init(home: String) { self.home = home }

    static var binary: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return bundle.appendingPathComponent("caas-gateway").path
    }

    /// The feed generator, built next to it.
    static var feedgen: String { (binary as NSString).deletingLastPathComponent + "/caas-feedgen" }

    func drop(_ files: [String]) throws {
        try FileManager.default.createDirectory(atPath: home + "/inbox", withIntermediateDirectories: true)
        for f in files {
            try FileManager.default.copyItem(atPath: Fixtures.story(f), toPath: home + "/inbox/" + (f as NSString).lastPathComponent)
        }
    }

    /// Runs the binary with `args` in the home; `signal` is set when it was killed by one.
    @discardableResult
    func run(_ args: [String], environment: [String: String] = [:]) throws -> (code: Int32, out: String, err: String, signal: Int32?) {
        let r = try Command.capture(
            [Self.binary] + args, in: home,
            environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { $1 })
        // As Foundation's Process said it: a signal's number, not 128 + it.
        return (r.signal ?? r.status, r.output, r.error, r.signal)
    }
}

@Suite("The command line, as cron runs it", .serialized)
struct CLITests {
    @Test func theBinaryIsBuiltNextToTheTests() {
        #expect(FileManager.default.isExecutableFile(atPath: CLI.binary), "\(CLI.binary)")
    }

    @Test func helpDocumentsTheExitCodesAndEveryCommand() throws {
        let r = try CLI().run(["--help"])
        #expect(r.code == 0)
        for text in [
            "EXIT CODES", "0   success", "2   success, but a person is needed", "3   another run holds the lock", "1   failure",
            "run", "ingest", "act", "reconcile", "orders", "explain", "validate", "exceptions", "registrations", "resubmit",
            "retry", "requeue", "prune", "try-mapping", "fields",
        ] {
            #expect(r.out.contains(text), "\(text)")
        }
        let run = try CLI().run(["run", "--help"])
        for option in ["--config", "--as-of", "--log-level", "--json", "--summary", "--dry-run"] {
            #expect(run.out.contains(option), "\(option)")
        }
    }

    @Test func cronSeesExitTwoAndOneLineWhenInputNeedsAPersonThenSilence() throws {
        let cli = try CLI()
        try cli.drop(["intranet/SALES_IT-MIL-01_20261002233000.xml", "intranet/SALES_IT-MIL-01_20261001233000.xml"])
        let first = try cli.run(["run", "--as-of", "2026-10-03"])
        #expect(first.code == 2)
        #expect(first.out.isEmpty)
        #expect(first.err.split(separator: "\n").count == 1)
        #expect(first.err.contains("1 record(s) rejected"))
        #expect(!first.err.contains("RSSMRC85T10F205X"))
        let second = try cli.run(["run", "--as-of", "2026-10-03"])
        #expect(second.code == 0)
        #expect(second.out.isEmpty && second.err.isEmpty)
    }

    @Test func aRunWhileAnotherHoldsTheLockExitsThree() throws {
        let cli = try CLI()
        let config = try GatewayConfig.load(path: nil, workingDirectory: cli.home)
        let holder = try Gateway(config: config, logger: Logger(label: "holder"))
        let r = try cli.run(["run"])
        #expect(r.code == 3)
        #expect(r.err.contains("another caas-gateway run holds"))
        _ = holder
    }

    @Test func validateNamesTheFileAndLine() throws {
        let cli = try CLI()
        #expect(try cli.run(["validate"]).code == 0)
        let path = cli.home + "/mappings/feeds/dms-sales-pt.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
            of: "{validator: pt_nif}", with: "{validator: pt_niff}")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try cli.run(["validate"])
        #expect(r.code == 1)
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains("pt_niff") }! + 1
        #expect(r.err.contains("dms-sales-pt.yaml:\(line): field 'customer.national_id': unknown validator 'pt_niff'"), "\(r.err)")
        // A run refuses to start on a broken mapping rather than quarantining everything.
        #expect(try cli.run(["run"]).code == 1)
    }

    @Test func badOptionsAreUsageErrors() throws {
        let r = try CLI().run(["run", "--as-of", "yesterday"])
        #expect(r.code == 64)
        #expect(r.err.contains("--as-of must be an ISO 8601 time"))
    }

    @Test func ordersJSONIsTheMachineReadableView() throws {
        let cli = try CLI()
        try cli.drop(["dealer-dms/VENDAS_PT-LIS-01_20261002.csv"])
        #expect(try cli.run(["run", "--as-of", "2026-10-03"]).code == 0)
        let r = try cli.run(["orders", "--json"])
        #expect(r.code == 0)
        let orders = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [[String: Any]]
        #expect(orders.count == 1)
        let o = orders[0]
        #expect(o["ref"] as? String == "VD/2026/000045")
        #expect(o["state"] as? String == "awaiting_reservation")
        #expect(o["dealer"] as? String == "PT-LIS-01" && o["country"] as? String == "PT")
        #expect(o["total_minor"] as? Int == 3_499_000 && o["amount_due_minor"] as? Int == 200_000 && o["received_minor"] as? Int == 0)
        for key in ["vin", "factory_order", "plant", "plate", "final_payment_due_at", "eta"] {
            #expect(o[key] is NSNull, "\(key) should be present and null before the factory and registration")
        }
        #expect(o["state_since"] as? String == "2026-10-03T23:59:59.999Z")
        #expect(o["due_actions"] as? [String] == [])
        let explain = try cli.run(["explain", "VD/2026/000045", "--json"])
        #expect(explain.code == 0)
        #expect(explain.out.contains("VENDAS_PT-LIS-01_20261002.csv record 1 (line 2), mapping dms-sales-pt v2"))
        #expect(try cli.run(["explain", "VD/0000/000000"]).code == 1)
    }
}

@Suite("Looking before sending: --dry-run, explain and exceptions", .serialized)
struct DryRunExplainCLITests {
    /// A dry run prints what a real run would do and sends none of it; explain then shows the
    /// same action as pending; the real run does it.
    @Test func aDryRunShowsWhatWouldBeSentAndSendsNothing() throws {
        let cli = try CLI()
        try cli.drop(["intranet/SALES_FR-LYO-01_20261001233000.xml"])
        let dry = try cli.run(["run", "--as-of", "2026-10-01T23:00:00Z", "--dry-run", "--summary"])
        #expect(dry.code == 0, "\(dry.err)")
        #expect(dry.out.contains("dry run: nothing was sent; a real run would now do 1 action(s)"), "\(dry.out)")
        #expect(dry.out.contains("would do issue_credentials:S-2026-000201"))
        #expect(!FileManager.default.fileExists(atPath: cli.home + "/outbox/notifications"))

        let explained = try cli.run(["explain", "S-2026-000201", "--as-of", "2026-10-01T23:00:00Z"])
        #expect(explained.out.contains("pending: issue_credentials:S-2026-000201"), "\(explained.out)")

        let act = try cli.run(["act", "--as-of", "2026-10-01T23:30:00Z", "--dry-run", "--json"])
        let summary = try JSONSerialization.jsonObject(with: Data(act.out.utf8)) as! [String: Any]
        #expect(summary["would_do"] as? [String] == ["issue_credentials:S-2026-000201"])
        #expect(!FileManager.default.fileExists(atPath: cli.home + "/outbox/notifications"))

        #expect(try cli.run(["run", "--as-of", "2026-10-01T23:45:00Z"]).code == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.home + "/outbox/notifications").count == 1)
        let after = try cli.run(["explain", "S-2026-000201", "--json", "--as-of", "2026-10-01T23:45:00Z"])
        let doc = try JSONSerialization.jsonObject(with: Data(after.out.utf8)) as! [String: Any]
        #expect((doc["pending_actions"] as? [Any])?.isEmpty == true)
        #expect((doc["actions"] as? [[String: String]])?.first?["status"] == "done")
    }

    /// Days later the unpaid reservation is the dealership's exception: explain shows it with the
    /// order, `exceptions` lists it, and an operator can dismiss it with a note.
    @Test func exceptionsAreListedExplainedAndDismissed() throws {
        let cli = try CLI()
        try cli.drop(["intranet/SALES_FR-LYO-01_20261001233000.xml"])
        #expect(try cli.run(["run", "--as-of", "2026-10-01T23:00:00Z"]).code == 0)
        // The unpaid reservation is new on this run: cron hears of it once, in one line.
        let noticed = try cli.run(["run", "--as-of", "2026-10-06T23:00:00Z"])
        #expect(noticed.code == 2 && noticed.err.contains("1 new exception(s)"), "\(noticed.err)")
        #expect(noticed.err.split(separator: "\n").count == 1)
        #expect(try cli.run(["run", "--as-of", "2026-10-06T23:10:00Z"]).code == 0)
        let explained = try cli.run(["explain", "S-2026-000201", "--as-of", "2026-10-06T23:00:00Z"])
        #expect(explained.out.contains("exception for dealership: reservation_unpaid, 5 day(s)"), "\(explained.out)")

        let listed = try cli.run(["exceptions", "--owner", "dealership", "--json", "--as-of", "2026-10-06T23:00:00Z"])
        let open = try JSONSerialization.jsonObject(with: Data(listed.out.utf8)) as! [[String: Any]]
        #expect(open.map { $0["key"] as? String } == ["reservation_unpaid:S-2026-000201"])
        #expect(try cli.run(["exceptions", "--owner", "nobody"]).code == 64)

        let noNote = try cli.run(["exceptions", "dismiss", "reservation_unpaid:S-2026-000201", "--note", " "])
        #expect(noNote.code == 1 && noNote.err.contains("say why"))
        #expect(try cli.run(["exceptions", "dismiss", "no_such:key", "--note", "x"]).code == 1)
        let dismissed = try cli.run([
            "exceptions", "dismiss", "reservation_unpaid:S-2026-000201", "--note", "customer paid in cash at the desk",
        ])
        #expect(dismissed.code == 0, "\(dismissed.err)")
        #expect(try cli.run(["exceptions", "--as-of", "2026-10-07T23:00:00Z"]).out.contains("nothing needs a person"))
    }
}

@Suite("The command line with SFTP sources", .serialized)
struct CLITransferTests {
    @Test func aFailedSourceIsExitFourWithItsReasonAndNoProgressLineUnderCron() throws {
        let server = try SSHDServer()
        defer { server.stop() }
        let cli = try CLI()
        let remote = Fixtures.tempDir("remote")
        var big = Data(count: 16 << 20)
        big[0] = 1
        try big.write(to: URL(fileURLWithPath: remote + "/VENDAS_PT-LIS-01_20261012.csv"))
        let source = { (name: String, port: Int) in
            "  - {name: \(name), host: 127.0.0.1, port: \(port), user: \(server.user), key: \(server.clientKey), known_hosts: \(server.knownHosts), remote_dir: \(remote), pattern: '^VENDAS_', feed: dms-sales-pt, ready: {stable_seconds: 0}}\n"
        }
        try ("retry: {attempts: 1}\nsources:\n" + source("good", server.port) + source("down", try SSHDServer.freePort()))
            .write(toFile: cli.home + "/caas-gateway.yaml", atomically: true, encoding: .utf8)
        let r = try cli.run(["pull"])
        #expect(r.code == 4)
        #expect(r.out.isEmpty)
        let lines = r.err.split(separator: "\n")
        #expect(lines.count == 1, "\(r.err)")
        #expect(lines.first?.hasPrefix("caas-gateway: source down failed: cannot connect to 127.0.0.1:") == true)
        #expect(!r.err.contains("MiB"))  // the progress line is for terminals only
        #expect(FileManager.default.fileExists(atPath: cli.home + "/inbox/dms-sales-pt/VENDAS_PT-LIS-01_20261012.csv"))
    }
}

@Suite("Registrations at the command line", .serialized)
struct RegistrationCLITests {
    @Test func fileModeThenAnOperatorRecordsThePlate() throws {
        let cli = try CLI()
        try FileManager.default.copyItem(atPath: Fixtures.registrationMappingsDir, toPath: cli.home + "/mappings/registration")
        do {
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let g = try Gateway(config: try GatewayConfig.load(path: nil, workingDirectory: cli.home), logger: logger)
            try g.storeForQueries.appendFacts(
                TestOrders.facts("S-2026-000901", country: "ES", nationalID: "51234567C", idType: "DNI"), runID: "test")
        }
        #expect(try cli.run(["run", "--as-of", "2026-11-02T23:00:00Z"]).code == 0)
        let listed = try cli.run(["registrations", "--country", "ES"])
        #expect(listed.out.contains("S-2026-000901  ES  ES-S-2026-000901-1  manual"), "\(listed.out)")
        let bad = try cli.run(["registrations", "record", "S-2026-000901", "1234 ABC"])
        #expect(bad.code == 1 && bad.err.contains("does not have the ES format"), "\(bad.err)")
        let good = try cli.run(["registrations", "record", "S-2026-000901", "1234 BCD"])
        #expect(good.code == 0 && good.out.contains("registered with plate 1234 BCD"), "\(good.out)\(good.err)")
        // explain tells the same story under the order's timeline, without the holder's id.
        let explained = try cli.run(["explain", "S-2026-000901", "--json"])
        let registration = (try JSONSerialization.jsonObject(with: Data(explained.out.utf8)) as! [String: Any])["registration"]
        #expect((registration as? [[String: Any]])?.map { $0["kind"] as? String }.contains("file") == true, "\(explained.out)")
        #expect(!explained.out.contains("51234567C"))
        let ledger = try cli.run(["registrations", "--state", "registered", "--attempts"])
        #expect(ledger.out.contains("file") && ledger.out.contains("operator"), "\(ledger.out)")
        #expect(!ledger.out.contains("51234567C"))
        let again = try cli.run(["resubmit", "S-2026-000901"])
        #expect(again.code == 1 && again.err.contains("already registered"))
        #expect(try cli.run(["registrations", "--state", "bogus"]).code == 64)
    }
}
