import Foundation
import GatewayCore
import GatewayTestSupport
import GatewayTransport

/// The partner story as the built binary lives it: a gateway home whose configuration points at
/// the factory and the five registration simulators, and the story's files dropped day by day.
/// A day can be saved (the home and every simulator's state) and replayed from there many times.
final class StoryWorld: @unchecked Sendable {
    let cli: CLI
    let factory: FactorySimulator
    let bodies: [RegistrationSimulator]
    var home: String { cli.home }

    init(_ name: String = #function) throws {
        cli = try CLI(name)
        try FileManager.default.copyItem(atPath: Fixtures.registrationMappingsDir, toPath: cli.home + "/mappings/registration")
        factory = try FactorySimulator()
        bodies = try ["ES", "PT", "FR", "DE", "IT"].map { try RegistrationSimulator(country: $0) }
        try writeConfiguration()
    }

    deinit {
        factory.stop()
        for b in bodies { b.stop() }
    }

    func writeConfiguration() throws {
        let secrets = home + "/secrets"
        try FileManager.default.createDirectory(atPath: secrets, withIntermediateDirectories: true)
        try factory.token.write(toFile: secrets + "/factory", atomically: true, encoding: .utf8)
        var yaml = """
            factory:
              base_url: \(factory.baseURL)
              token: {file: secrets/factory}
              ca_bundle: \(factory.ca.caCertificate)
              first_backoff_seconds: 60
            registration:
              first_backoff_seconds: 60
              countries:

            """
        for b in bodies {
            yaml += "    \(b.country):\n      base_url: \(b.baseURL)\n      ca_bundle: \(b.ca.caCertificate)\n"
            if let c = b.clientCertificate {
                yaml += "      client_certificate: \(c.certificate)\n      client_key: \(c.key)\n"
            } else if let secret = b.secret {
                let file = "secrets/\(b.country.lowercased())"
                try secret.write(toFile: home + "/" + file, atomically: true, encoding: .utf8)
                yaml += "      \(b.country == "PT" ? "api_key" : "token"): {file: \(file)}\n"
            }
        }
        try Fixtures.write(yaml, home + "/caas-gateway.yaml")
    }

    static var days: [String] { Fixtures.storyDays }

    /// The story's files of one day: those whose names carry it (as scripts/demo drops them).
    static func files(of day: String) -> [String] {
        let stamp = "_" + day.replacingOccurrences(of: "-", with: "")
        let root = Fixtures.story("")
        let all = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
        return all.filter { ($0 as NSString).lastPathComponent.contains(stamp) && !$0.hasSuffix("order-book.csv") }.sorted()
    }

    func drop(day: String) throws { try cli.drop(Self.files(of: day)) }

    /// The day's run, as cron would start it at 23:00 UTC.
    @discardableResult
    func run(day: String, environment: [String: String] = [:]) throws -> (code: Int32, out: String, err: String, signal: Int32?) {
        try cli.run(["run", "--as-of", day + "T23:00:00Z"], environment: environment)
    }

    /// Drops and runs every day from the first of the story up to (not including) `day`.
    func replay(until day: String) throws {
        for d in Self.days where d < day {
            try drop(day: d)
            let r = try run(day: d)
            guard r.code == 0 || r.code == 2 else { throw StoryError("the run of \(d) failed (\(r.code)): \(r.err)") }
        }
    }

    // MARK: Saving and restoring a day

    struct Saved {
        let home: String
        let simulators: [String: Data]
    }

    func save() throws -> Saved {
        let copy = home + ".saved-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.copyItem(atPath: home, toPath: copy)
        var states: [String: Data] = [:]
        for (url, ca) in simulators { states[url] = try control(url, ca, "GET", "/_sim/state").body }
        return Saved(home: copy, simulators: states)
    }

    func restore(_ saved: Saved) throws {
        try FileManager.default.removeItem(atPath: home)
        try FileManager.default.copyItem(atPath: saved.home, toPath: home)
        for (url, ca) in simulators {
            let r = try control(url, ca, "PUT", "/_sim/state", body: saved.simulators[url])
            guard r.status == 200 else { throw StoryError("cannot restore the simulator at \(url): \(r.status)") }
        }
    }

    var simulators: [(url: String, ca: TestCA)] {
        [(factory.baseURL, factory.ca)] + bodies.map { ($0.baseURL, $0.ca) }
    }

    func control(_ base: String, _ ca: TestCA, _ method: String, _ path: String, body: Data? = nil) throws -> HTTPResponse {
        let sim = bodies.first { $0.baseURL == base }
        let tls = TLSOptions(
            caBundle: ca.caCertificate, clientCertificate: sim?.clientCertificate?.certificate, clientKey: sim?.clientCertificate?.key)
        let request = HTTPRequest(method: method, url: base + path, body: body)
        // The simulators' control channel is test tooling, asked thousands of times by the crash
        // test while other suites run in the same process: one transient TLS set-up failure there
        // (seen once: curl could not load a CA file that was in place) is tried again once.
        do { return try HTTPClient(tls: tls).send(request) } catch is TransportError {
            return try HTTPClient(tls: tls).send(request)
        }
    }

    func json(_ base: String, _ ca: TestCA, _ path: String) throws -> [String: [String: Any]] {
        let r = try control(base, ca, "GET", path)
        return (try JSONSerialization.jsonObject(with: r.body) as? [String: [String: Any]]) ?? [:]
    }

    // MARK: What the world looks like

    /// Everything a crash must not change: every order as `orders --json` shows it, every line the
    /// gateway wrote for a partner (by idempotency key, with how often), the orders the factory
    /// made and the submissions the bodies registered.
    struct EndState: Equatable, CustomStringConvertible {
        var orders: String
        var outboxKeys: [String: Int]
        var factoryOrders: Set<String>
        var registered: Set<String>
        /// Submission ids per order: more than one would be a second registration.
        var submissionsPerOrder: [String: Int]

        var description: String {
            "orders: \(orders.count) bytes; outbox keys: \(outboxKeys.count) (doubled: \(outboxKeys.filter { $0.value > 1 }.keys.sorted())); "
                + "factory orders: \(factoryOrders.sorted()); registered: \(registered.sorted())"
        }
    }

    func endState(asOf day: String) throws -> EndState {
        let orders = try cli.run(["orders", "--json", "--as-of", day + "T23:59:00Z"])
        guard orders.code == 0 else { throw StoryError("orders failed: \(orders.err)") }
        var keys: [String: Int] = [:]
        let outbox = home + "/outbox"
        for rel in (FileManager.default.enumerator(atPath: outbox)?.allObjects as? [String]) ?? [] where rel.hasSuffix(".ndjson") {
            let text = try String(contentsOfFile: outbox + "/" + rel, encoding: .utf8)
            for line in text.split(separator: "\n") {
                let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                keys[(o?["idempotency_key"] as? String) ?? "?", default: 0] += 1
            }
        }
        let placed = try json(factory.baseURL, factory.ca, "/_sim/requests").filter { $0.value["placed"] as? Bool == true }.keys
        var registered: Set<String> = []
        var perOrder: [String: Int] = [:]
        for b in bodies {
            for (id, r) in try json(b.baseURL, b.ca, "/_sim/requests") {
                if r["state"] as? String == "registered" { registered.insert(id) }
                // `<CC>-<ref>-<generation>`: the order is everything between the country and the generation.
                let order = id.split(separator: "-").dropFirst().dropLast().joined(separator: "-")
                if (r["submits"] as? Int ?? 0) > 0 { perOrder[order, default: 0] += 1 }
            }
        }
        return EndState(
            orders: orders.out, outboxKeys: keys, factoryOrders: Set(placed), registered: registered,
            submissionsPerOrder: perOrder)
    }
}

struct StoryError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The LD_PRELOAD shims of Tests/CrashShim, each built once per test process.
enum CrashShim {
    /// Kills the process at the K-th fsync (killat.c).
    static let library: Result<String, StoryError> = build("killat")
    /// Traps while the working-on mark names an item (trapon.c).
    static let trap: Result<String, StoryError> = build("trapon")

    static func build(_ name: String) -> Result<String, StoryError> {
        let source = Fixtures.repoRoot.appendingPathComponent("Tests/CrashShim/\(name).c").path
        let out = Fixtures.tempDir("crashshim") + "/lib\(name).so"
        do {
            let r = try Command.run("/usr/bin/env", ["cc", "-shared", "-fPIC", "-O1", "-o", out, source, "-ldl"])
            return r.status == 0 ? .success(out) : .failure(StoryError("cc could not build \(source): \(r.output)"))
        } catch { return .failure(StoryError("cannot run cc: \(error)")) }
    }
}
