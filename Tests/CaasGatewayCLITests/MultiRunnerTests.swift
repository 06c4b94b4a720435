import Foundation
import GatewayTestSupport
import GatewayTransport
import Testing

/// Several `caas-gateway run` processes, each with a workspace of its own, sharing one PostgreSQL
/// store, pulling from one real sshd and calling one factory simulator, as several hosts would.
/// Whatever the interleaving, every remote file is ingested once, every factory order is placed
/// once, and every order ends as one runner alone would have left it.
@Suite("Several runners over one PostgreSQL store", .serialized)
struct MultiRunnerTests {
    /// One SFTP server with a backlog, one factory, one database, and `runners` workspaces.
    final class Cluster: @unchecked Sendable {
        let sshd: SSHDServer
        let factory: FactorySimulator
        /// The Spanish registration body: every generated sale is Spanish.
        let registry: RegistrationSimulator
        let databaseURL: String
        let database: String
        let homes: [CLI]
        let remote: String
        let orders: Int

        /// `postgres: false` gives one workspace on its own SQLite store: the single runner to compare with.
        /// `fullyPaid`: every sale is paid in full and its vehicle reaches the dealership (the
        /// plant's status feed), so it is registered too.
        init(runners: Int, orders: Int, files: Int, fullyPaid: Bool = false, postgres: Bool = true, _ name: String = #function) throws {
            self.orders = orders
            sshd = try SSHDServer()
            factory = try FactorySimulator()
            registry = try RegistrationSimulator(country: "ES")
            remote = sshd.dir + "/exports"
            for dir in ["sales", "psp", "mfg"] {
                try FileManager.default.createDirectory(atPath: remote + "/" + dir, withIntermediateDirectories: true)
            }
            let generated = Fixtures.tempDir("backlog")
            let gen = try Command.run(
                CLI.feedgen,
                [
                    "--orders", "\(orders)", "--files", "\(files)", "--formats",
                    fullyPaid ? "intranet-xml,psp-csv,mfg-xml" : "intranet-xml,psp-csv",
                    "--out", generated,
                ] + (fullyPaid ? ["--fully-paid"] : []))
            guard gen.status == 0 else { throw StoryError("caas-feedgen failed: \(gen.output)") }
            for f in try FileManager.default.contentsOfDirectory(atPath: generated) {
                let dir = f.hasPrefix("SALES_") ? "/sales/" : f.hasPrefix("MFGSTATUS_") ? "/mfg/" : "/psp/"
                try FileManager.default.moveItem(atPath: generated + "/" + f, toPath: remote + dir + f)
            }
            let pg = try TestPostgres.shared()
            databaseURL = postgres ? try pg.newDatabase(name) : ""
            database = (databaseURL as NSString).lastPathComponent.components(separatedBy: "?")[0]
            homes = try (1...runners).map { try CLI("\(name)-runner\($0)") }
            for (i, home) in homes.enumerated() {
                try FileManager.default.createDirectory(atPath: home.home + "/secrets", withIntermediateDirectories: true)
                try factory.token.write(toFile: home.home + "/secrets/factory", atomically: true, encoding: .utf8)
                try pg.password.write(toFile: home.home + "/secrets/pg", atomically: true, encoding: .utf8)
                try registry.secret!.write(toFile: home.home + "/secrets/es", atomically: true, encoding: .utf8)
                try FileManager.default.copyItem(atPath: Fixtures.registrationMappingsDir, toPath: home.home + "/mappings/registration")
                let source =
                    "host: 127.0.0.1, port: \(sshd.port), user: \(sshd.user), key: \(sshd.clientKey), known_hosts: \(sshd.knownHosts)"
                var yaml = """
                    runner: {name: runner-\(i + 1), pull_claim_seconds: 10}
                    factory:
                      base_url: \(factory.baseURL)
                      token: {file: secrets/factory}
                      ca_bundle: \(factory.ca.caCertificate)
                      first_backoff_seconds: 60
                    registration:
                      first_backoff_seconds: 60
                      countries:
                        ES: {base_url: \(registry.baseURL), ca_bundle: \(registry.ca.caCertificate), token: {file: secrets/es}}
                    sources:
                      - {name: sales, \(source), remote_dir: \(remote)/sales, pattern: '^SALES_', feed: intranet-sales, ready: {stable_seconds: 0}}
                      - {name: psp, \(source), remote_dir: \(remote)/psp, pattern: '^settlement_', feed: psp-settlement, ready: {stable_seconds: 0}}
                      - {name: mfg, \(source), remote_dir: \(remote)/mfg, pattern: '^MFGSTATUS_', feed: factory-vlc1, ready: {stable_seconds: 0}}

                    """
                if postgres { yaml += "store: {postgres: {url: '\(databaseURL)', password: {file: secrets/pg}}}\n" }
                try Fixtures.write(yaml, home.home + "/caas-gateway.yaml")
            }
        }

        deinit {
            sshd.stop()
            factory.stop()
            registry.stop()
        }

        /// Every runner's `run` at once; their exit codes.
        func runAll(asOf: String) -> [Int32] {
            let codes = Outcomes(count: homes.count)
            DispatchQueue.concurrentPerform(iterations: homes.count) { i in
                let r = try? homes[i].run(["run", "--as-of", asOf])
                codes.set(i, r?.code ?? -1, r?.err ?? "could not start")
            }
            return codes.codes
        }

        func sql(_ query: String) throws -> String { try TestPostgres.shared().psql(database, query) }

        /// How many times the factory was asked for each order, by idempotency key.
        func factoryRequests() throws -> [String: Int] {
            let r = try HTTPClient(tls: TLSOptions(caBundle: factory.ca.caCertificate))
                .send(HTTPRequest(method: "GET", url: factory.baseURL + "/_sim/requests"))
            let o = try JSONSerialization.jsonObject(with: r.body) as! [String: [String: Any]]
            return o.mapValues { $0["requests"] as! Int }
        }

        func factoryFaults(_ json: String) throws {
            let r = try HTTPClient(tls: TLSOptions(caBundle: factory.ca.caCertificate))
                .send(HTTPRequest(method: "POST", url: factory.baseURL + "/_sim/faults", body: Data(json.utf8)))
            guard r.status == 200 else { throw StoryError("the factory simulator refused its faults: \(r.status)") }
        }

        /// How many times each idempotency key appears in every runner's outbox lines, together.
        func outboxKeys() -> [String: Int] {
            var keys: [String: Int] = [:]
            for home in homes {
                let outbox = home.home + "/outbox"
                for rel in (FileManager.default.enumerator(atPath: outbox)?.allObjects as? [String]) ?? [] where rel.hasSuffix(".ndjson") {
                    let text = (try? String(contentsOfFile: outbox + "/" + rel, encoding: .utf8)) ?? ""
                    for line in text.split(separator: "\n") {
                        let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                        keys[(o?["idempotency_key"] as? String) ?? "?", default: 0] += 1
                    }
                }
            }
            return keys
        }

        /// Submissions the registration body holds, per order, and how many of them it registered.
        func registrations() throws -> (perOrder: [String: Int], registered: Int) {
            let r = try HTTPClient(tls: TLSOptions(caBundle: registry.ca.caCertificate))
                .send(HTTPRequest(method: "GET", url: registry.baseURL + "/_sim/requests"))
            let o = try JSONSerialization.jsonObject(with: r.body) as! [String: [String: Any]]
            var perOrder: [String: Int] = [:]
            for (id, v) in o where (v["submits"] as? Int ?? 0) > 0 {
                // `ES-<ref>-<generation>`: the order is what lies between the country and the generation.
                perOrder[id.split(separator: "-").dropFirst().dropLast().joined(separator: "-"), default: 0] += 1
            }
            return (perOrder, o.values.filter { $0["state"] as? String == "registered" }.count)
        }

        /// `orders --json` of the first workspace: every order as the store has it.
        func orderStates() throws -> [String: String] {
            let r = try homes[0].run(["orders", "--json", "--as-of", "2026-10-03T23:59:00Z"])
            let list = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [[String: Any]]
            return Dictionary(uniqueKeysWithValues: list.map { ($0["ref"] as! String, $0["state"] as! String) })
        }
    }

    final class Outcomes: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Int32]
        private(set) var errors: [String]
        init(count: Int) {
            values = Array(repeating: -1, count: count)
            errors = Array(repeating: "", count: count)
        }
        func set(_ i: Int, _ v: Int32, _ err: String) {
            lock.lock()
            values[i] = v
            errors[i] = err
            lock.unlock()
        }
        var codes: [Int32] {
            lock.lock()
            defer { lock.unlock() }
            return values
        }
    }

    @Test func fourRunnersShareABacklogAndDoEveryThingOnce() throws {
        let orders = 120, files = 24
        let cluster = try Cluster(runners: 4, orders: orders, files: files)
        // A factory that takes its time, as a real one does: the backlog is worth sharing.
        try cluster.factoryFaults(#"{"delay": 0.05}"#)
        let codes = cluster.runAll(asOf: "2026-10-03T23:00:00Z")
        #expect(codes.allSatisfy { $0 == 0 || $0 == 2 }, "\(codes)")
        // What a run skipped because another held it (an order being folded, a file claimed)
        // is done by the next round.
        _ = cluster.runAll(asOf: "2026-10-03T23:10:00Z")

        // Every remote file fetched by one runner and ingested once, across the four.
        #expect(try cluster.sql("SELECT count(*) FROM files WHERE status = 'ingested'") == "\(2 * files)")
        #expect(try cluster.sql("SELECT count(*) FROM transfers WHERE outcome = 'pulled'") == "\(2 * files)")
        #expect(
            try cluster.sql(
                "SELECT count(*) FROM (SELECT name FROM transfers WHERE outcome = 'pulled' GROUP BY name HAVING count(*) > 1) d") == "0")

        // Every order placed once with the factory, asked once each (no faults, so no retries).
        let asked = try cluster.factoryRequests()
        #expect(asked.count == orders)
        #expect(asked.values.allSatisfy { $0 == 1 }, "\(asked.filter { $0.value > 1 })")
        #expect(try cluster.sql("SELECT count(*) FROM actions WHERE status <> 'done'") == "0")
        #expect(try cluster.sql("SELECT count(*) FROM dirty_orders") == "0")

        // As one runner alone leaves them.
        let alone = try Cluster(runners: 1, orders: orders, files: files, postgres: false, "alone")
        _ = alone.runAll(asOf: "2026-10-03T23:00:00Z")
        _ = alone.runAll(asOf: "2026-10-03T23:10:00Z")
        let states = try cluster.orderStates()
        #expect(states.count == orders)
        #expect(states == (try alone.orderStates()))
        // Placed with the factory, not yet confirmed by its status feed.
        #expect(Set(states.values) == ["factory_ordered"])
        #expect(try cluster.sql("SELECT count(*) FROM facts WHERE kind = 'factory_order_placed'") == "\(orders)")
        // Every line for a partner (welcome notices, credentials) written once, in one runner's outbox.
        #expect(cluster.outboxKeys().values.allSatisfy { $0 == 1 })
        #expect(cluster.outboxKeys().count == alone.outboxKeys().count)
    }

    @Test func fourRunnersRegisterEveryFullyPaidOrderOnce() throws {
        let orders = 60, files = 12
        let cluster = try Cluster(runners: 4, orders: orders, files: files, fullyPaid: true)
        try cluster.factoryFaults(#"{"delay": 0.02}"#)
        for minute in ["00", "10", "20"] {
            let codes = cluster.runAll(asOf: "2026-10-04T23:\(minute):00Z")
            #expect(codes.allSatisfy { $0 == 0 || $0 == 2 }, "\(codes)")
        }
        // The plant's status feed, the sales and the settlements: each file ingested once.
        #expect(try cluster.sql("SELECT count(*) FROM files WHERE status = 'ingested'") == "\(2 * files + 1)")
        // Each order submitted once to the registration body, and registered.
        let registrations = try cluster.registrations()
        #expect(registrations.perOrder.count == orders && registrations.perOrder.values.allSatisfy { $0 == 1 }, "\(registrations.perOrder)")
        #expect(registrations.registered == orders)
        // Placed at most once each (the plant's own confirmation may come first and make it no longer due).
        #expect(try cluster.factoryRequests().values.allSatisfy { $0 == 1 })
        #expect(try cluster.sql("SELECT count(*) FROM actions WHERE status = 'failed'") == "0")
        let placements = try cluster.sql(
            "SELECT count(*) FROM (SELECT order_ref FROM facts WHERE kind = 'factory_order_placed' GROUP BY order_ref HAVING count(*) > 1) d"
        )
        #expect(placements == "0")

        let alone = try Cluster(runners: 1, orders: orders, files: files, fullyPaid: true, postgres: false, "alone")
        for minute in ["00", "10", "20"] { _ = alone.runAll(asOf: "2026-10-04T23:\(minute):00Z") }
        let states = try cluster.orderStates()
        #expect(Set(states.values) == ["registered"], "\(Set(states.values))")
        #expect(states == (try alone.orderStates()))
        #expect(cluster.outboxKeys().values.allSatisfy { $0 == 1 })
        #expect(cluster.outboxKeys().count == alone.outboxKeys().count)
    }

    /// Issue 26: in one of three replays of a backlog of every feed, four runners' outboxes held
    /// another set of notification keys than one runner's. The same backlog, replayed three
    /// times, must give one runner's set each time, none doubled.
    @Test func fourRunnersWriteTheSameLinesAsOneEveryTime() throws {
        let env = ProcessInfo.processInfo.environment
        let orders = Int(env["CAAS_LINES_ORDERS"] ?? "") ?? 200, files = orders / 10
        let minutes = ["00", "10", "20"]
        let alone = try Cluster(runners: 1, orders: orders, files: files, fullyPaid: true, postgres: false, "alone-lines")
        for minute in minutes { _ = alone.runAll(asOf: "2026-10-04T23:\(minute):00Z") }
        let want = alone.outboxKeys()
        #expect(want.count > 2 * orders, "welcomes, credentials and notices for every order: \(want.count)")
        for round in 1...3 {
            let cluster = try Cluster(runners: 4, orders: orders, files: files, fullyPaid: true, "lines-round\(round)")
            try cluster.factoryFaults("{\"delay\": \(env["CAAS_LINES_DELAY"] ?? "0.01")}")
            for minute in minutes {
                let codes = cluster.runAll(asOf: "2026-10-04T23:\(minute):00Z")
                #expect(codes.allSatisfy { $0 == 0 || $0 == 2 }, "round \(round): \(codes)")
            }
            let got = cluster.outboxKeys()
            #expect(got.values.allSatisfy { $0 == 1 }, "round \(round), doubled: \(got.filter { $0.value > 1 }.keys.sorted())")
            let missing = Set(want.keys).subtracting(got.keys).sorted(), extra = Set(got.keys).subtracting(want.keys).sorted()
            #expect(missing.isEmpty && extra.isEmpty, "round \(round): missing \(missing), extra \(extra)")
        }
    }

    @Test func aRunnerKilledWhileHoldingLeasesIsTakenOverOnceTheyExpire() throws {
        let orders = 12
        let cluster = try Cluster(runners: 2, orders: orders, files: 2)
        // Slow enough that the runner is still waiting when the test, however loaded the machine, looks.
        try cluster.factoryFaults(#"{"delay": 3}"#)
        let config = cluster.homes[0].home + "/caas-gateway.yaml"
        let first = try ChildProcess(
            [CLI.binary, "run", "--config", config, "--as-of", "2026-10-03T23:00:00Z"], log: cluster.homes[0].home + "/run.log")
        // Killed while it waits for the factory with actions leased and marked in flight.
        let deadline = Date().addingTimeInterval(120)
        // (Until the runner has migrated the new database, there is no table to ask.)
        while (try? cluster.sql("SELECT count(*) FROM actions WHERE kind = 'place_factory_order' AND status = 'in_flight'")) ?? "0" == "0" {
            guard Date() < deadline, first.isRunning else {
                Issue.record("the first runner never had an order in flight")
                return
            }
            usleep(20_000)
        }
        first.stop()  // SIGKILL, with everything below it
        let held = try cluster.sql("SELECT count(*) FROM actions WHERE lease_owner IS NOT NULL AND status <> 'done'")
        #expect(Int(held)! > 0)
        try cluster.factoryFaults("{}")

        // Its leases are live: the other runner, at the same time, leaves them alone.
        let same = try cluster.homes[1].run(["run", "--as-of", "2026-10-03T23:05:00Z"])
        #expect(same.code == 0 || same.code == 2, "\(same.err)")
        #expect(try cluster.sql("SELECT count(*) FROM actions WHERE lease_owner IS NOT NULL AND status <> 'done'") == held)
        // Once they have expired (15 minutes), it finishes the dead runner's work.
        let later = try cluster.homes[1].run(["run", "--as-of", "2026-10-03T23:20:00Z"])
        #expect(later.code == 0 || later.code == 2, "\(later.err)")
        #expect(try cluster.sql("SELECT count(*) FROM actions WHERE status <> 'done'") == "0")

        // Nothing doubled: one placement per order, with the key the first runner used; the
        // factory was asked again only for what was in flight when it died.
        let asked = try cluster.factoryRequests()
        #expect(asked.count == orders)
        #expect(try cluster.sql("SELECT count(*) FROM facts WHERE kind = 'factory_order_placed'") == "\(orders)")
        #expect(asked.values.filter { $0 > 1 }.count <= Int(held)!)
        #expect(asked.values.allSatisfy { $0 <= 2 })

        // The dead runner comes back: its run is found dead and nothing is done again.
        let back = try cluster.homes[0].run(["run", "--as-of", "2026-10-03T23:30:00Z"])
        #expect(back.code == 0 || back.code == 2, "\(back.err)")
        #expect(try cluster.sql("SELECT count(*) FROM runs WHERE status = 'interrupted' AND runner = 'runner-1'") == "1")
        #expect(try cluster.factoryRequests() == asked)
        #expect(cluster.outboxKeys().values.allSatisfy { $0 == 1 })
    }

    @Test func storeCopyMovesAWorkspaceToPostgreSQLAndItCarriesOn() throws {
        let cli = try CLI()
        try cli.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml", "psp/settlement_20261002.csv"])
        #expect([0, 2].contains(try cli.run(["run", "--as-of", "2026-10-02T23:00:00Z"]).code))
        let before = try cli.run(["orders", "--json", "--as-of", "2026-10-02T23:00:00Z"]).out

        #expect(try cli.run(["store", "copy", "--to", "mysql"]).code == 64)
        // No PostgreSQL store configured yet: nothing to copy to.
        let unset = try cli.run(["store", "copy", "--to", "postgres"])
        #expect(unset.code == 1 && unset.err.contains("add store: {postgres:"), "\(unset.err)")

        let pg = try TestPostgres.shared()
        try FileManager.default.createDirectory(atPath: cli.home + "/secrets", withIntermediateDirectories: true)
        try pg.password.write(toFile: cli.home + "/secrets/pg", atomically: true, encoding: .utf8)
        try Fixtures.write(
            "store: {postgres: {url: '\(try pg.newDatabase())', password: {file: secrets/pg}}}\n", cli.home + "/caas-gateway.yaml")
        let copy = try cli.run(["store", "copy", "--to", "postgres"])
        #expect(copy.code == 0, "\(copy.err)")
        #expect(copy.out.contains("facts: ") && copy.out.contains("in SQLite") && !copy.out.contains("DIFFERENT"), "\(copy.out)")
        #expect(!copy.out.contains("@example"), "no personal data in what it prints")
        // Into a store that is no longer empty: refused, nothing written twice.
        let again = try cli.run(["store", "copy", "--to", "postgres"])
        #expect(again.code == 1 && again.err.contains("not empty"), "\(again.err)")

        // The workspace carries on from PostgreSQL, with the same orders.
        #expect(try cli.run(["orders", "--json", "--as-of", "2026-10-02T23:00:00Z"]).out == before)
        #expect([0, 2].contains(try cli.run(["run", "--as-of", "2026-10-03T23:00:00Z"]).code))
    }
}
