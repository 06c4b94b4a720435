import Foundation
import GatewayCore
import GatewayEngine
import GatewayTestSupport
import Logging
import Testing

/// What an operator does when something went wrong, through the built executable: send a file
/// through again, retry failed actions, hear from cron when a person is needed, check a
/// configuration, and read while a run works.
@Suite("Operators recover", .serialized)
struct OperationsTests {
    static let dms = "dealer-dms/VENDAS_PT-LIS-01_20261002.csv"

    func edit(_ path: String, _ from: String, _ to: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains(from), "\(path) has no \(from)")
        try text.replacingOccurrences(of: from, with: to).write(toFile: path, atomically: true, encoding: .utf8)
    }

    func orderRefs(_ cli: CLI) throws -> [String] {
        let r = try cli.run(["orders", "--json", "--as-of", "2026-10-02T23:30:00Z"])
        return ((try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]]) ?? []).map { $0["ref"] as! String }
    }

    @Test func aQuarantinedFileIsRequeuedAfterTheMappingIsFixedAndIngestedOnce() throws {
        let cli = try CLI()
        let mapping = cli.home + "/mappings/feeds/dms-sales-pt.yaml"
        try edit(mapping, "column: nif\n", "column: nif_cliente\n")
        try cli.drop([Self.dms])
        let first = try cli.run(["run", "--as-of", "2026-10-02T23:00:00Z"])
        #expect(first.code == 2 && first.err.contains("1 file(s) quarantined"), "\(first.err)")
        #expect(try orderRefs(cli).isEmpty)

        try edit(mapping, "column: nif_cliente\n", "column: nif\n")
        // The same bytes dropped again are a duplicate of the quarantined file: not read again.
        try cli.drop([Self.dms])
        let again = try cli.run(["run", "--as-of", "2026-10-02T23:05:00Z", "--json"])
        #expect(again.out.contains("\"duplicate\""), "\(again.out.prefix(800))")
        #expect(try orderRefs(cli).isEmpty)

        let name = (Self.dms as NSString).lastPathComponent
        let requeue = try cli.run(["requeue", name, "--note", "column fixed in dms-sales-pt.yaml", "--as-of", "2026-10-02T23:10:00Z"])
        #expect(requeue.code == 0, "\(requeue.err)")
        #expect(requeue.out.contains("requeued \(name)") && requeue.out.contains("was quarantined"), "\(requeue.out)")
        #expect(FileManager.default.fileExists(atPath: cli.home + "/inbox/dms-sales-pt/" + name))
        let waiting = try cli.run(["requeue", name])
        #expect(waiting.code == 1 && waiting.err.contains("already requeued"), "\(waiting.err)")
        // Until a run has read it again, the file is still a problem: the fix is not proven yet.
        let open = try cli.run(["exceptions", "--json", "--as-of", "2026-10-02T23:11:00Z"])
        #expect(open.out.contains("requeued by an operator"), "\(open.out.prefix(1500))")
        let taken = try cli.run(["run", "--as-of", "2026-10-02T23:15:00Z", "--json"])
        #expect(taken.code == 0 || taken.code == 2, "\(taken.err)")
        #expect(taken.out.contains("\"ingested\""), "\(taken.out.prefix(800))")
        let refs = try orderRefs(cli)
        #expect(!refs.isEmpty)

        // Requeued once more (now an ingested file): read again, nothing applied twice.
        let twice = try cli.run(["requeue", name, "--ingest", "--as-of", "2026-10-02T23:20:00Z"])
        #expect(twice.code == 0 || twice.code == 2, "\(twice.err)")
        #expect(twice.out.contains("was ingested") && twice.out.contains("0 new facts"), "\(twice.out)")
        #expect(try orderRefs(cli) == refs)
        // A name the ledger does not know is refused with what to give instead.
        let unknown = try cli.run(["requeue", "NOPE.csv"])
        #expect(unknown.code == 1 && unknown.err.contains("no file NOPE.csv in the ledger"), "\(unknown.err)")
    }

    @Test func aRefusedFactoryTokenTellsCronOnceAndRetryFailedPlacesTheOrdersAfterTheFix() throws {
        let world = try StoryWorld()
        try "not-the-token".write(toFile: world.home + "/secrets/factory", atomically: true, encoding: .utf8)
        var refusedOn: String?
        for day in StoryWorld.days {
            try world.drop(day: day)
            let r = try world.run(day: day)
            #expect(r.code == 0 || r.code == 2, "\(day): \(r.err)")
            #expect(r.out.isEmpty && r.err.split(separator: "\n").count <= 1, "\(day): \(r.err)")
            if r.err.contains("factory refused our credentials (401)") {
                #expect(r.code == 2)
                refusedOn = day
                break
            }
        }
        let day = try #require(refusedOn, "no run met the factory's 401")
        // Told once: the same run again has nothing new to say.
        let quiet = try world.run(day: day)
        #expect(quiet.code == 0 && quiet.err.isEmpty, "\(quiet.err)")
        let failed = try world.cli.run(["exceptions", "--owner", "integration", "--json", "--as-of", day + "T23:00:00Z"])
        #expect(failed.out.contains("place_factory_order:"), "\(failed.out.prefix(1200))")
        // What to do names the operator's command, with the key.
        #expect(failed.out.contains("then caas-gateway retry place_factory_order:"), "\(failed.out.prefix(1200))")

        try world.factory.token.write(toFile: world.home + "/secrets/factory", atomically: true, encoding: .utf8)
        let noNote = try world.cli.run(["retry", "--failed"])
        #expect(noNote.code == 64, "--note is required")
        let retry = try world.cli.run([
            "retry", "--failed", "--kind", "place_factory_order", "--note", "token rotated by ops", "--as-of", day + "T23:10:00Z",
        ])
        #expect(retry.code == 0 && retry.out.contains("due again: place_factory_order:"), "\(retry.out) \(retry.err)")
        let placed = try world.cli.run(["run", "--as-of", day + "T23:20:00Z", "--json"])
        #expect(placed.code == 0 || placed.code == 2, "\(placed.err)")
        let requests = try world.json(world.factory.baseURL, world.factory.ca, "/_sim/requests")
        let made = requests.filter { $0.value["placed"] as? Bool == true }.keys.sorted()
        #expect(!made.isEmpty, "\(requests)")
        for ref in made {
            let e = try world.cli.run(["explain", ref, "--json", "--as-of", day + "T23:30:00Z"])
            #expect(e.out.contains("\"factory_order_placed\""), "\(ref)")
            #expect(e.out.contains("token rotated by ops"), "the note is in the action's history: \(e.out.prefix(2000))")
        }
    }

    @Test func validateListsEveryProblemAtOnce() throws {
        let cli = try CLI()
        try FileManager.default.copyItem(atPath: Fixtures.registrationMappingsDir, toPath: cli.home + "/mappings/registration")
        #expect(try cli.run(["validate"]).code == 0)
        // 1: a broken registration mapping.
        try edit(cli.home + "/mappings/registration/es.yaml", "country: ES", "country: ES\nunknown_key: 1")
        // 2: two feeds claiming the same names.
        try """
        feed: copy-of-dms
        version: 1
        source: dealership
        match: {name: '^VENDAS_.*\\.csv$'}
        format: csv
        csv: {delimiter: ';', header: true}
        facts: [{kind: sale_cancelled}]
        key: [order_ref]
        fields:
          order_ref: {column: ref_venda}
          occurred_at: {column: data, transforms: [{datetime: iso8601}]}
        """.write(toFile: cli.home + "/mappings/feeds/copy-of-dms.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: cli.home + "/keys", withIntermediateDirectories: true)
        try "not a key".write(toFile: cli.home + "/keys/bad_key", atomically: true, encoding: .utf8)
        try """
        factory:
          base_url: https://factory.example/api
          token: {file: secrets/missing-token}          # 3: a secret file that does not exist
          ca_bundle: keys/missing-ca.pem                # 4: a CA file that does not exist
        registration:
          countries:
            PT: {base_url: https://imt.example, api_key: {env: CAAS_TEST_UNSET_VARIABLE}}   # 5: an unset variable
        sources:
          - name: intranet
            host: sftp.example
            user: caas
            key: keys/bad_key                           # 6: a key file that holds no key
            known_hosts: keys/known_hosts               # 7: no known_hosts
            remote_dir: /out
            pattern: '^SALES_.*\\.xml$'
            feed: intranet-salez                        # 8: a feed nobody maps
        webhooks:
          endpoints:
            - {path: /wh, feed: factory-webhookz, secret: {file: secrets/missing-whsec}}   # 9, 10: feed and secret
        """.write(toFile: cli.home + "/caas-gateway.yaml", atomically: true, encoding: .utf8)
        let r = try cli.run(["validate"])
        #expect(r.code == 1)
        for expected in [
            "es.yaml:", "unknown_key",
            "matches both",
            "factory.token: cannot read secret file", "factory.ca_bundle: cannot read",
            "registration.countries.PT: environment variable CAAS_TEST_UNSET_VARIABLE is not set",
            "sources[intranet].key: ", "does not hold an SSH private key",
            "sources[intranet].known_hosts: cannot read known_hosts file",
            "sources[intranet].feed: no mapping", "intranet-salez",
            "webhooks.endpoints[0].feed: no mapping", "webhooks.endpoints[0].secret: cannot read secret file",
        ] {
            #expect(r.err.contains(expected), "\(expected) in:\n\(r.err)")
        }
        let json = try cli.run(["validate", "--json"])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as! [String: Any]
        #expect(parsed["valid"] as? Bool == false)
        let problems = parsed["problems"] as! [[String: Any]]
        #expect(problems.count >= 8, "\(problems)")
        #expect(problems.allSatisfy { $0.keys.contains("line") && $0.keys.contains("key") && $0["message"] is String })
        // A run refuses to start on them (the broken registration mapping).
        #expect(try cli.run(["run"]).code == 1)

        // An empty mappings folder is a problem too: every file would be quarantined.
        let empty = try CLI("emptyMappings")
        try FileManager.default.removeItem(atPath: empty.home + "/mappings/feeds")
        try FileManager.default.createDirectory(atPath: empty.home + "/mappings/feeds", withIntermediateDirectories: true)
        let e = try empty.run(["validate"])
        #expect(e.code == 1 && e.err.contains("no feed mapping here"), "\(e.err)")
    }

    @Test func readCommandsAnswerWhileARunHoldsTheLock() throws {
        let cli = try CLI()
        // Before anything ran: empty answers, and nothing created.
        let before = try cli.run(["orders"])
        #expect(before.code == 0 && before.out.contains("no orders yet"), "\(before.err)")
        #expect(try cli.run(["exceptions"]).out.contains("nothing needs a person"))
        #expect(!FileManager.default.fileExists(atPath: cli.home + "/var"))
        try cli.drop([Self.dms])
        _ = try cli.run(["run", "--as-of", "2026-10-02T23:00:00Z"])
        let config = try GatewayConfig.load(path: nil, workingDirectory: cli.home)
        let holder = try Gateway(config: config, logger: Logger(label: "holder"))
        #expect(try cli.run(["run"]).code == 3)
        let ref = try #require(try orderRefs(cli).first)
        for args in [
            ["orders"], ["orders", "--json"], ["explain", ref], ["exceptions"], ["exceptions", "--json"], ["registrations"],
        ] {
            let r = try cli.run(args + ["--as-of", "2026-10-02T23:30:00Z"])
            #expect(r.code == 0, "\(args): \(r.err)")
            #expect(!r.err.contains("another caas-gateway run holds"))
        }
        _ = holder
    }

    @Test func filesForOtherProgramsAreReadableByThemAndSecretsAreNot() throws {
        let cli = try CLI()
        try cli.drop([Self.dms])
        // As systemd runs services with UMask=0077: the modes must not depend on the umask.
        let r = try Command.run(
            "/bin/sh", ["-c", "umask 077; exec '\(CLI.binary)' run --as-of 2026-10-02T23:00:00Z"], in: cli.home,
            mergeStandardError: false)
        #expect(r.status == 0 || r.status == 2)
        func mode(_ rel: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: cli.home + "/" + rel)[.posixPermissions] as! NSNumber).intValue
        }
        #expect(try mode("var/metrics/caas_gateway.prom") == 0o644)
        #expect(try mode("var/metrics") == 0o755)
        #expect(try mode("var/gateway.sqlite") == 0o600, "the store holds national ids")
        #expect(try mode("outbox/reports/2026-10-02/report.html") == 0o644)
        let notifications = try FileManager.default.contentsOfDirectory(atPath: cli.home + "/outbox/notifications")
        #expect(!notifications.isEmpty)
        for n in notifications { #expect(try mode("outbox/notifications/" + n) == 0o600, "activation tokens: \(n)") }
        // node_exporter runs as its own user: here `nobody`.
        let (status, text) = try Command.run(
            "/usr/sbin/runuser", ["-u", "nobody", "--", "cat", cli.home + "/var/metrics/caas_gateway.prom"], mergeStandardError: false)
        #expect(status == 0 && text.contains("caas_gateway_last_run_timestamp_seconds"), "\(text)")
    }

    @Test func versionLogLinesAndJSONLogs() throws {
        let cli = try CLI()
        let v = try cli.run(["--version"])
        #expect(v.code == 0 && v.out.trimmingCharacters(in: .whitespacesAndNewlines) == GatewayVersion.number)
        let r = try cli.run(["run", "--log-level", "info", "--log-format", "json", "--as-of", "2026-10-02T23:00:00Z"])
        let lines = r.err.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(!lines.isEmpty && lines.allSatisfy { $0 != nil }, "every line is a JSON object: \(r.err)")
        let started = lines.compactMap { $0 }.first { $0["message"] as? String == "run started" }
        let finished = lines.compactMap { $0 }.first { $0["message"] as? String == "run finished" }
        #expect(started?["version"] as? String == GatewayVersion.number)
        #expect(started?["run"] as? String != nil && started?["run"] as? String == finished?["run"] as? String)
        for key in ["duration_ms", "status", "files", "records_accepted", "actions_done"] { #expect(finished?[key] != nil, "\(key)") }
        // Quiet by default: no start or end line at the default level.
        let quiet = try cli.run(["run", "--as-of", "2026-10-02T23:05:00Z"])
        #expect(quiet.err.isEmpty, "\(quiet.err)")
        #expect(try cli.run(["run", "--log-format", "xml"]).code == 64)
    }

    @Test func pruneDeletesOnlyWhatRetentionNamesAndNeverWhatTheLedgerNeeds() throws {
        let cli = try CLI()
        let madrid = "intranet/SALES_ES-MAD-01_20261001233000.xml"
        let mapping = cli.home + "/mappings/feeds/intranet-sales.yaml"
        let original = try String(contentsOfFile: mapping, encoding: .utf8)
        try original.replacingOccurrences(of: "record: /s:SalesExport/s:Sale", with: "record: /s:SalesExport/s:Sael").write(
            toFile: mapping, atomically: true, encoding: .utf8)
        try cli.drop([madrid])
        #expect(try cli.run(["run", "--as-of", "2026-10-01T23:00:00Z"]).code == 2)
        try original.write(toFile: mapping, atomically: true, encoding: .utf8)
        // The partner resends the file under the same name (other bytes): the quarantined copy is dealt with.
        let resent = try String(contentsOfFile: Fixtures.story(madrid), encoding: .utf8) + "<!-- resent -->\n"
        try resent.write(toFile: cli.home + "/inbox/" + (madrid as NSString).lastPathComponent, atomically: true, encoding: .utf8)
        // A file with a rejected record: its exception is open, so the ledger needs it.
        try cli.drop(["intranet/SALES_IT-MIL-01_20261002233000.xml"])
        #expect(try cli.run(["run", "--as-of", "2026-10-02T23:00:00Z"]).code == 2)
        let kept = try cli.run(["prune", "--as-of", "2026-12-15"])
        #expect(kept.out.contains("no retention configured: everything is kept"), "\(kept.out)")

        try "retention: {archive_days: 30, quarantine_days: 30, reports_days: 30}\n".write(
            toFile: cli.home + "/caas-gateway.yaml", atomically: true, encoding: .utf8)
        let dry = try cli.run(["prune", "--dry-run", "--as-of", "2026-12-15"])
        #expect(dry.code == 0, "\(dry.err)")
        #expect(dry.out.contains("would delete") && FileManager.default.fileExists(atPath: cli.home + "/outbox/reports/2026-10-01"))
        // Too early for anything: nothing is 30 days old on 20 October.
        #expect(try cli.run(["prune", "--as-of", "2026-10-20"]).out.contains("in 0 file(s)"))

        let r = try cli.run(["prune", "--as-of", "2026-12-15"])
        #expect(r.code == 0, "\(r.err)")
        let deleted = r.out.split(separator: "\n").filter { $0.hasPrefix("deleted ") }
        let keptLines = r.out.split(separator: "\n").filter { $0.hasPrefix("kept (still needed) ") }
        #expect(deleted.contains { $0.contains("/var/quarantine/2026-10-01/SALES_ES-MAD-01_20261001233000.xml") }, "\(r.out)")
        #expect(deleted.contains { $0.hasSuffix(".reason.txt") })
        #expect(deleted.contains { $0.contains("/var/archive/intranet-sales/2026/10/SALES_ES-MAD-01_20261001233000.xml") }, "\(r.out)")
        #expect(keptLines.contains { $0.contains("SALES_IT-MIL-01_20261002233000.xml") }, "\(r.out)")
        #expect(!FileManager.default.fileExists(atPath: cli.home + "/outbox/reports/2026-10-01"))
        #expect(FileManager.default.fileExists(atPath: cli.home + "/var/archive/intranet-sales/2026/10/SALES_IT-MIL-01_20261002233000.xml"))
        // The orders are untouched: retention is about files, never facts.
        #expect(try cli.run(["orders", "--json", "--as-of", "2026-12-15"]).out.contains("S-2026-000101"))
    }

    @Test func reportFilesFollowTheConfiguredDialectAndTheSchema() throws {
        let cli = try CLI()
        try "report: {file_mode: '0640', csv: {delimiter: ';', bom: true, decimal: ','}}\n".write(
            toFile: cli.home + "/caas-gateway.yaml", atomically: true, encoding: .utf8)
        try cli.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml", "intranet/SALES_IT-MIL-01_20261002233000.xml"])
        _ = try cli.run(["run", "--as-of", "2026-10-02T23:00:00Z"])
        let dir = cli.home + "/outbox/reports/2026-10-02"
        let csv = try Data(contentsOf: URL(fileURLWithPath: dir + "/report.csv"))
        #expect(csv.starts(with: [0xEF, 0xBB, 0xBF]), "a UTF-8 BOM for Excel")
        let text = String(decoding: csv.dropFirst(3), as: UTF8.self)
        #expect(text.hasPrefix("owner;rule;order;subject;") && text.contains(";key\r\n"), "\(text.prefix(200))")
        let orders = try String(contentsOfFile: dir + "/orders.csv", encoding: .utf8)
        #expect(orders.contains("45990,00"), "decimal comma: \(orders.prefix(400))")
        let rejections = try String(contentsOfFile: dir + "/rejections.csv", encoding: .utf8)
        #expect(rejections.contains(";S-2026-000402;customer.national_id;"), "the sale's reference: \(rejections)")
        let mode = (try FileManager.default.attributesOfItem(atPath: dir + "/report.html")[.posixPermissions] as! NSNumber).intValue
        #expect(mode == 0o640)

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/report.json"))) as! [String: Any]
        let runs = json["runs"] as! [[String: Any]]
        #expect(runs.last?["status"] as? String == "attention", "the run's own status, not running: \(runs)")
        #expect(runs.last?.keys.contains("finished_at") == true, "a null, not a missing key")
        let exceptions = json["exceptions"] as! [[String: Any]]
        #expect(!exceptions.isEmpty && exceptions.allSatisfy { $0.keys.contains("order") && $0["key"] is String })
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        for e in exceptions { #expect(html.contains(e["key"] as! String)) }
        #expect(html.contains("S-2026-000402"))
        let rejected = json["rejections"] as! [[String: Any]]
        #expect(rejected.first?["record_ref"] as? String == "S-2026-000402")
        // A bad dialect is refused with its line.
        try "report: {csv: {delimiter: '|'}}\n".write(toFile: cli.home + "/caas-gateway.yaml", atomically: true, encoding: .utf8)
        let bad = try cli.run(["validate"])
        #expect(bad.code == 1 && bad.err.contains("caas-gateway.yaml:1") && bad.err.contains("report.csv.delimiter"), "\(bad.err)")
    }

    @Test func tryMappingShowsWhatEachRecordBecomesAndWritesNothing() throws {
        let cli = try CLI()
        let file = Fixtures.story("intranet/SALES_IT-MIL-01_20261002233000.xml")
        let r = try cli.run(["try-mapping", file])
        #expect(r.code == 0, "\(r.err)")
        #expect(r.out.contains("feed intranet-sales"))
        #expect(
            r.out.contains("REJECTED (S-2026-000402), field customer.national_id: codice fiscale check character does not match"),
            "\(r.out)")
        #expect(!r.out.contains("RSSMRC85T10F205X"))
        let good = try cli.run(["try-mapping", Fixtures.story("intranet/SALES_ES-MAD-01_20261001233000.xml"), "--json"])
        let parsed = try JSONSerialization.jsonObject(with: Data(good.out.utf8)) as! [String: Any]
        #expect(parsed["accepted"] as? Int == parsed["records"] as? Int)
        let shown = parsed["shown"] as! [[String: Any]]
        let fields = try #require(shown.first?["fields"] as? [String: String])
        #expect(fields["customer.national_id"] == "***" && fields["plan"] != "***", "\(fields)")
        #expect(shown.first?["kind"] as? String == "sale_registered")
        // With another feed's mapping: said, and read with it.
        let other = try cli.run(["try-mapping", file, "--feed", "dms-sales-pt"])
        #expect(other.out.contains("does not match this name") && other.out.contains("QUARANTINE"), "\(other.out)")
        // Nothing was written: no store, no archive, the file where it was.
        #expect(!FileManager.default.fileExists(atPath: cli.home + "/var"))
        #expect(FileManager.default.fileExists(atPath: file))
    }

    @Test func fieldsListsEveryCanonicalKindAndField() throws {
        let r = try CLI().run(["fields", "--json"])
        let kinds = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [[String: Any]]
        #expect(Set(kinds.map { $0["kind"] as! String }) == Set(FactKind.allCases.map(\.rawValue)))
        for k in kinds {
            let names = (k["fields"] as! [[String: Any]]).map { $0["name"] as! String }
            let kind = FactKind(rawValue: k["kind"] as! String)!
            #expect(names == kind.schema.fields.map(\.name))
        }
        let text = try CLI().run(["fields", "--kind", "sale_registered"])
        #expect(text.out.contains("customer.national_id  (string; required; personal)"), "\(text.out)")
    }
}
