import Foundation
import GatewayFormats
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine
@testable import GatewayStore

struct SimulatedCrash: Error {}

@Suite("Bad input, crashes and overlapping runs")
struct RobustnessTests {
    @Test func unreadableFilesAreQuarantinedWithAReasonAndTheOthersCarryOn() throws {
        let box = try Sandbox()
        try box.drop(["intranet/SALES_FR-LYO-01_20261001233000.xml"])
        let good = try String(contentsOfFile: Fixtures.story("intranet/SALES_DE-MUC-01_20261001233000.xml"), encoding: .utf8)
        let truncated = String(good.prefix(good.count / 2))
        try Fixtures.write(truncated, box.inbox + "/SALES_DE-MUC-01_20261001233000.xml")
        try Fixtures.write(
            good.replacingOccurrences(of: "count=\"1\"", with: "count=\"2\""), box.inbox + "/SALES_DE-MUC-01_20261002233000.xml")
        try Fixtures.write("whatever", box.inbox + "/notes from the dealer.txt")
        try Fixtures.write(good, box.inbox + "/dms-sales-pt/SALES_DE-MUC-01_20261003233000.xml")  // right name, wrong folder
        let s = try box.run()
        #expect(s.count(.ingested) == 1)
        #expect(s.count(.quarantined) == 2)
        #expect(s.count(.unrecognised) == 2)
        #expect(s.needsAttention)
        #expect(try box.gateway().orders().map(\.ref) == ["S-2026-000201"])

        let q = box.config.quarantineDir + "/2026-10-03"
        let reason = { (name: String) in (try? String(contentsOfFile: "\(q)/\(name).reason.txt", encoding: .utf8)) ?? "" }
        #expect(reason("SALES_DE-MUC-01_20261001233000.xml").contains("line "))
        #expect(reason("SALES_DE-MUC-01_20261002233000.xml").contains("declares 2 records"))
        #expect(reason("notes from the dealer.txt").contains("no mapping"))
        #expect(reason("SALES_DE-MUC-01_20261003233000.xml").contains("does not match feed dms-sales-pt"))
        #expect(reason("SALES_DE-MUC-01_20261001233000.xml").contains("what to do"))
        // Raw input is kept byte for byte.
        #expect(try String(contentsOfFile: "\(q)/SALES_DE-MUC-01_20261001233000.xml", encoding: .utf8) == truncated)
        #expect(box.files(under: box.inbox).isEmpty)

        // The same broken bytes again: a duplicate of a quarantined file, kept beside it.
        try Fixtures.write(truncated, box.inbox + "/SALES_DE-MUC-01_20261001233000.xml")
        let again = try box.run(asOf: "2026-10-03T23:30:00Z")
        #expect(again.count(.duplicate) == 1)
        #expect(box.files(under: q).filter { $0.hasPrefix("SALES_DE-MUC-01_20261001233000.xml") && !$0.hasSuffix(".txt") }.count == 2)
    }

    @Test func aFileAPullIsStillWritingIsLeftForTheNextRun() throws {
        var box = try Sandbox()
        box.config.inboxMinAgeSeconds = 300
        try box.drop(["intranet/SALES_FR-LYO-01_20261001233000.xml"])
        let s = try box.run()
        #expect(s.deferredFiles == 1)
        #expect(s.files.isEmpty)
        #expect(box.files(under: box.inbox).count == 1)
    }

    /// A clean run's end state, to compare crashed-and-rerun runs against.
    static func fingerprint(_ box: Sandbox) throws -> [String] {
        let g = try box.gateway()
        return try g.orders().map { v in
            "\(v.ref) \(v.state!.rawValue) facts=\(try g.storeForQueries.facts(orderRef: v.ref).count)"
        }
    }

    @Test(arguments: ["ingest.committed", "issue_credentials.inFlight", "issue_credentials.written"])
    func aCrashAtAnyDurableStepFollowedByARerunConverges(_ point: String) throws {
        let clean = try Sandbox("clean-\(point)")
        try clean.drop(Sandbox.storySales)
        _ = try clean.run()
        let expected = try Self.fingerprint(clean)

        let box = try Sandbox("crash-\(point)")
        try box.drop(Sandbox.storySales)
        #expect(throws: SimulatedCrash.self) {
            try box.run(crash: { if $0 == point { throw SimulatedCrash() } })
        }
        _ = try box.run()
        _ = try box.run(asOf: "2026-10-03T23:30:00Z")
        #expect(try Self.fingerprint(box) == expected)

        // Exactly one welcome per order reached the outbox, and its token is the one stored.
        let notes = try box.notifications()
        #expect(notes.count == 13)
        #expect(Set(notes.map { $0["idempotency_key"] as! String }).count == 13)
        let store = try box.gateway().storeForQueries
        for n in notes {
            let url = (n["variables"] as! [String: String])["activation_url"]!
            let token = String(url.split(separator: "=").last!)
            #expect(try store.credential(customerID: n["customer_id"] as! String)?.tokenHash == Hex.sha256(token))
        }
        #expect(try store.actions(status: .done).count == 13)
        #expect(try store.actions(status: .inFlight).isEmpty)
        // No input lost: 14 files in, 14 kept.
        #expect(box.files(under: box.config.archiveDir).count == 14)
    }

    @Test func anOverlappingRunIsRefusedByTheLock() throws {
        let box = try Sandbox()
        let first = try box.gateway()
        #expect(throws: RunLock.Held.self) { _ = try box.gateway() }
        _ = first
    }

    @Test func dryRunSendsNothing() throws {
        let box = try Sandbox()
        try box.drop(["intranet/SALES_FR-LYO-01_20261001233000.xml"])
        let g = try box.gateway()
        let s = try g.run(asOf: Timestamp.parseISO("2026-10-03T23:00:00Z")!, dryRun: true)
        #expect(s.notifications == 0)
        #expect(try box.notifications().isEmpty)
        #expect(try g.storeForQueries.actions(status: .pending).map(\.key) == ["issue_credentials:S-2026-000201"])
        #expect(try g.orders().first?.state == .saleRegistered)
        // The real run afterwards sends it.
        let real = try g.act(asOf: Timestamp.parseISO("2026-10-03T23:10:00Z")!)
        #expect(real.notifications == 1)
    }

    @Test func explainShowsTheTimelineWithProvenance() throws {
        let box = try Sandbox()
        try box.drop(["intranet/SALES_FR-LYO-01_20261001233000.xml"])
        _ = try box.run()
        let e = try #require(try box.gateway().explain(ref: "S-2026-000201", asOf: Timestamp.parseISO("2026-10-04T00:00:00Z")!))
        #expect(e.view.timeline.map(\.stateAfter) == [.saleRegistered, .awaitingReservation])
        let first = try #require(e.facts[e.view.timeline[0].factID])
        #expect(first.provenance.summary == "SALES_FR-LYO-01_20261001233000.xml record 1 (line 3), mapping intranet-sales v2")
        #expect(e.facts[e.view.timeline[1].factID]?.provenance.summary == "action issue_credentials:S-2026-000201")
        #expect(e.actions.map(\.status) == [.done])
        #expect(try box.gateway().explain(ref: "S-0000-000000", asOf: Date()) == nil)
    }
}

@Suite("Configuration")
struct ConfigTests {
    @Test func noFileMeansEmbeddedDefaultsUnderTheWorkingDirectory() throws {
        let c = try GatewayConfig.load(path: nil, workingDirectory: "/srv/gw")
        #expect(c.file == nil)
        #expect(c.inbox == "/srv/gw/inbox" && c.outbox == "/srv/gw/outbox" && c.varDir == "/srv/gw/var")
        #expect(c.mappings == "/srv/gw/mappings" && c.storePath == "/srv/gw/var/gateway.sqlite")
        #expect(c.policies.finalPaymentWindowDays == 14)
    }

    @Test func pathsAndPoliciesFromAFile() throws {
        let dir = Fixtures.tempDir()
        try Fixtures.write(
            """
            paths: {inbox: /data/in, var: state}
            store: {sqlite: /db/g.sqlite}
            policies:
              final_payment_window_days: {default: 10, by_country: {PT: 7}}
            customers: {activation_ttl_hours: 48}
            """, dir + "/caas-gateway.yaml")
        let c = try GatewayConfig.load(path: dir + "/caas-gateway.yaml")
        #expect(c.inbox == "/data/in")
        #expect(c.varDir == dir + "/state")
        #expect(c.storePath == "/db/g.sqlite")
        #expect(c.policies.finalPaymentWindowDays(country: "PT") == 7)
        #expect(c.policies.finalPaymentWindowDays(country: "ES") == 10)
        #expect(c.activationTTLHours == 48)
    }

    /// A secret file is found where every other relative path is: next to the configuration,
    /// whatever the working directory of cron is.
    @Test func secretFilesAreRelativeToTheConfiguration() throws {
        let dir = Fixtures.tempDir()
        try Fixtures.write(
            """
            factory: {base_url: "https://factory.example/api", token: {file: secrets/factory}}
            registration:
              countries:
                PT: {base_url: "https://imt.example", api_key: {file: secrets/pt}}
                ES: {base_url: "https://dgt.example", token: {env: DGT_TOKEN}}
            """, dir + "/caas-gateway.yaml")
        let c = try GatewayConfig.load(path: dir + "/caas-gateway.yaml", workingDirectory: "/somewhere/else")
        #expect(c.factory?.token == .file(dir + "/secrets/factory"))
        #expect(c.registration.endpoints["PT"]?.secret == .file(dir + "/secrets/pt"))
        #expect(c.registration.endpoints["ES"]?.secret == .env("DGT_TOKEN"))
    }

    @Test func mistakesAreReportedWithTheirLine() {
        let cases: [(String, Int, String)] = [
            ("paths:\n  inbx: x\n", 2, "unknown key 'inbx'"),
            ("policies:\n  final_payment_window_days:\n    by_country: {UK: 3}\n", 3, "'UK' is not an ISO country code"),
            ("customers:\n  activation_url: http://plain.example\n", 2, "must be an https:// URL"),
            ("factory:\n  token: abc123\n", 2, "holds a secret inline"),
            ("sources:\n  - name: bank\n    password: hunter2\n", 3, "holds a secret inline"),
        ]
        expectConfigErrors(cases, secrets: ["hunter2", "abc123"])
    }

    @Test func secretsComeFromTheEnvironmentOrAFile() throws {
        let node = try YAMLNodeHelper.node("{env: FACTORY_TOKEN}")
        let ref = try SecretReference.parse(node, what: "token")
        #expect(ref == .env("FACTORY_TOKEN"))
        #expect(try ref.resolve(environment: ["FACTORY_TOKEN": "s3cr3t"]) == "s3cr3t")
        #expect(throws: StoreConfigError.self) { try ref.resolve(environment: [:]) }
        let dir = Fixtures.tempDir()
        try Fixtures.write("from-file\n", dir + "/secret")
        #expect(try SecretReference.file(dir + "/secret").resolve() == "from-file")
    }
}

@Suite("Report output")
struct ReportOutputTests {
    @Test func spreadsheetFormulasAreNeutralised() {
        #expect(CSVText.cell("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"")
        #expect(CSVText.cell("+1+1") == "'+1+1")
        #expect(CSVText.cell("@SUM(A1)") == "'@SUM(A1)")
        #expect(CSVText.cell("-12.50") == "-12.50")  // a number stays a number
        #expect(CSVText.cell("plain, with comma") == "\"plain, with comma\"")
    }

    @Test func htmlIsEscapedAndSelfContained() {
        #expect(HTMLReport.esc("<script>&'\"") == "&lt;script&gt;&amp;&#39;&quot;")
    }
}

@Suite struct RunIDTests {
    @Test func runIDsSortByStartTime() {
        let t = Timestamp.parseISO("2026-10-03T23:00:00.007Z")!
        let a = Gateway.newRunID(now: t)
        #expect(a.hasPrefix("r20261003T230000007-"))
        #expect(a < Gateway.newRunID(now: t.addingTimeInterval(0.01)))
        #expect(Gateway.newRunID(now: t.addingTimeInterval(0.993)).hasPrefix("r20261003T230001000-"))
    }
}

@Suite("Configuration of SFTP sources and destinations")
struct TransferConfigTests {
    @Test func sourcesAndDestinationsParseWithRelativePathsResolved() throws {
        let dir = Fixtures.tempDir()
        try Fixtures.write(
            """
            retry: {attempts: 5, first_delay_seconds: 2, max_delay_seconds: 20}
            sources:
              - name: bank
                host: sftp.bank.example
                port: 2222
                user: caas
                key: keys/bank_ed25519
                passphrase: {env: BANK_KEY_PASSPHRASE}
                known_hosts: keys/known_hosts
                remote_dir: /out/camt054
                pattern: '^camt054_[0-9]{8}\\.xml$'
                feed: bank-camt054
                ready: {stable_seconds: 60, done_marker: .ok, trailer_count: true}
                after: {move: /out/camt054/done}
            destinations:
              - {name: crm, host: sftp.crm.example, user: caas, key: /etc/k, known_hosts: /etc/kh, remote_dir: /in, outbox: notifications, if_exists: keep_both}
            """, dir + "/caas-gateway.yaml")
        let c = try GatewayConfig.load(path: dir + "/caas-gateway.yaml")
        let s = try #require(c.sources.first)
        #expect(s.name == "bank" && s.server.port == 2222 && s.feed == "bank-camt054")
        #expect(s.server.key == dir + "/keys/bank_ed25519" && s.server.knownHosts == dir + "/keys/known_hosts")
        #expect(s.server.passphrase == .env("BANK_KEY_PASSPHRASE"))
        #expect(s.stableSeconds == 60 && s.doneMarker == ".ok" && s.trailerCount && s.after == .move("/out/camt054/done"))
        #expect(s.pattern.matches("camt054_20261006.xml") && !s.pattern.matches("camt054_x.xml"))
        #expect(c.destinations.first?.ifExists == .keepBoth && c.destinations.first?.outbox == "notifications")
        #expect(
            c.retry.attempts == 5 && c.retry.delay(afterAttempt: 1) == 2 && c.retry.delay(afterAttempt: 4) == 16
                && c.retry.delay(afterAttempt: 5) == 20)
    }

    @Test func mistakesAreReportedWithTheirLine() {
        let base = "sources:\n  - {name: a, host: h, user: u, key: k, known_hosts: kh, remote_dir: /r, pattern: '.*', feed: f"
        let cases: [(String, Int, String)] = [
            (base + ", passphrase: hunter2}\n", 2, "holds a secret inline"),
            (base + ", after: archive}\n", 2, "after must be keep, delete or {move: /remote/folder}"),
            (base + ", port: 70000}\n", 2, "port must be 1 to 65535"),
            (base + ", colour: blue}\n", 2, "unknown key 'colour'"),
            ("sources:\n  - {name: a, host: h}\n", 2, "source 'a' needs 'pattern'"),
            (
                "destinations:\n  - {name: d, host: h, user: u, key: k, known_hosts: kh, remote_dir: /r, outbox: inbox}\n", 2,
                "outbox must be"
            ),
            (
                "destinations:\n  - {name: d, host: h, user: u, key: k, known_hosts: kh, remote_dir: /r, outbox: stock, if_exists: replace}\n",
                2, "if_exists must be"
            ),
        ]
        expectConfigErrors(cases, secrets: ["hunter2"])
    }
}

/// Each configuration text must be refused at its line, with the message, never echoing a secret.
func expectConfigErrors(
    _ cases: [(text: String, line: Int, message: String)], secrets: [String],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    for (text, line, message) in cases {
        do {
            _ = try GatewayConfig.parse(text, file: "c.yaml")
            Issue.record("accepted: \(text)", sourceLocation: sourceLocation)
        } catch let e as ConfigError {
            #expect(e.line == line, "\(message): \(e)", sourceLocation: sourceLocation)
            #expect(e.message.contains(message), "\(e)", sourceLocation: sourceLocation)
            for secret in secrets { #expect(!e.message.contains(secret), sourceLocation: sourceLocation) }
        } catch {
            Issue.record("\(error)", sourceLocation: sourceLocation)
        }
    }
}

@Suite("Configuration of the factory API")
struct FactoryConfigTests {
    @Test func theFactoryBlockParsesWithItsDefaults() throws {
        let c = try GatewayConfig.parse(
            "factory: {base_url: 'https://factory.example/api/', token: {file: /run/secrets/factory}, max_attempts: 5}\n", file: "c.yaml")
        let f = try #require(c.factory)
        #expect(f.baseURL == "https://factory.example/api" && f.token == .file("/run/secrets/factory"))
        #expect(f.maxAttempts == 5 && f.concurrency == 4 && f.timeout == 30 && f.firstBackoff == 60)
        #expect(try GatewayConfig.parse("{}\n", file: "c.yaml").factory == nil)
    }

    @Test func mistakesAreReportedWithTheirLine() {
        expectConfigErrors(
            [
                ("factory:\n  base_url: http://factory.example\n  token: {env: T}\n", 2, "must be https://"),
                ("factory:\n  base_url: https://f.example\n  token: abc123\n", 3, "holds a secret inline"),
                ("factory:\n  base_url: https://f.example\n", 2, "needs base_url and token"),
            ], secrets: ["abc123"])
    }
}

extension RobustnessTests {
    /// A run of this host still marked running when the next one starts (holding the lock) died:
    /// it is marked interrupted, and the temporary files it left in the outbox are removed; a run
    /// of another host is left alone.
    @Test func aDeadRunIsMarkedInterruptedAndItsTemporaryFilesRemoved() throws {
        let box = try Sandbox()
        let g = try box.gateway()
        let t = Timestamp.parseISO("2026-10-01T23:00:00Z")!
        try g.storeForQueries.beginRun(RunRecord(id: "r-dead", command: "run", asOf: t, startedAt: t, runner: RunContext.hostRunner))
        try g.storeForQueries.beginRun(RunRecord(id: "r-other", command: "run", asOf: t, startedAt: t, runner: "another-host"))
        let leftover = box.config.outbox + "/notifications/.r-dead-1-welcome.ndjson.tmp-4242"
        try Fixtures.write("{\"idempotency_key\":\"half\"", leftover)
        let kept = box.config.outbox + "/notifications/r-old-1-welcome.ndjson"
        try Fixtures.write("{}\n", kept)
        _ = try g.run(asOf: t.addingTimeInterval(600))
        #expect(!FileManager.default.fileExists(atPath: leftover))
        #expect(FileManager.default.fileExists(atPath: kept))
        let runs = try g.storeForQueries.runs(onDay: "2026-10-01")
        #expect(runs.first { $0.id == "r-dead" }?.status == "interrupted")
        #expect(runs.first { $0.id == "r-other" }?.status == "running")
        #expect(box.logs.all.contains("found runs that died"))
        // The runner is the kernel's host name, read without asking DNS.
        let kernel = try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(RunContext.hostRunner == kernel)
    }
}

extension RobustnessTests {
    /// orders.csv lists every order, so an idle run does not write it again: it is rewritten only
    /// when a fold changed an order since the day's copy was written.
    @Test func ordersCSVIsRewrittenOnlyWhenAnOrderChanged() throws {
        let box = try Sandbox()
        try box.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml"])
        _ = try box.run(asOf: "2026-10-01T23:00:00Z")
        let csv = box.config.reportsDir + "/2026-10-01/orders.csv"
        func inode() throws -> UInt64 { try FileManager.default.attributesOfItem(atPath: csv)[.systemFileNumber] as! UInt64 }
        let first = try inode()
        let text = try String(contentsOfFile: csv, encoding: .utf8)
        #expect(text.hasPrefix("order_ref,dealer,country,state,") && text.contains("S-2026-000101,ES-MAD-01,ES,"))
        _ = try box.run(asOf: "2026-10-01T23:10:00Z")
        #expect(try inode() == first, "an idle run rewrote orders.csv")
        try box.drop(["intranet/SALES_FR-LYO-01_20261001233000.xml"])
        _ = try box.run(asOf: "2026-10-01T23:20:00Z")
        #expect(try inode() != first)
        #expect(try String(contentsOfFile: csv, encoding: .utf8).contains(",FR-LYO-01,FR,"))
    }
}

extension RobustnessTests {
    /// Each order's review is stored with the thresholds of its time: lowering one makes the next
    /// report look at every order again, so an order past the new threshold is reported at once.
    @Test func changedThresholdsReviewEveryOrderAgain() throws {
        var box = try Sandbox()
        try box.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml", "psp/settlement_20261002.csv"])
        box.config.reconciliation.factoryOrderMissingHours = 1000
        _ = try box.run(asOf: "2026-10-02T23:00:00Z")
        func missing() throws -> [String] {
            try box.gateway().exceptions(asOf: Timestamp.parseISO("2026-10-04T23:00:00Z")!).filter { $0.rule == "factory_order_missing" }
                .map(\.key)
        }
        _ = try box.run(asOf: "2026-10-04T23:00:00Z")
        #expect(try missing().isEmpty)
        box.config.reconciliation.factoryOrderMissingHours = 24
        _ = try box.run(asOf: "2026-10-04T23:10:00Z")
        let found = try missing()
        #expect(found.count == 2, "\(found)")
        #expect(box.logs.all.contains("every order is reviewed again"))
    }
}
