import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine
@testable import GatewayStore
@testable import GatewayTransport

/// The whole partner story, to 30 Nov, once on SQLite and once on PostgreSQL, each with partner
/// simulators of its own: the two stores must end in the same place, order by order, action by
/// action, fact by fact.
@Suite("The story on PostgreSQL", .serialized)
struct PostgresStoryTests {
    /// What a store ends with, without what is random by design (run ids, tokens).
    struct EndState: Equatable {
        var orders: [String]
        var actions: [String]
        var facts: [String]
        var files: [String]
        var registrations: [String]
        var openExceptions: [String]
        var ordersCSV: String
        /// Every line written for a partner, by idempotency key, with how often.
        var outboxKeys: [String: Int]
    }

    /// Sets `box` on PostgreSQL: a new database of the tests' server, its password in a file.
    static func usePostgres(_ box: inout Sandbox) throws {
        let pg = try TestPostgres.shared()
        let passwordFile = box.root + "/pg.password"
        try pg.password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        box.config.postgres = PostgresConfig(url: try pg.newDatabase("story"), password: .file(passwordFile))
    }

    /// With `moveAfter`, the story runs on SQLite through that day, the store is copied into
    /// PostgreSQL (`store copy`), and the rest of the story runs on PostgreSQL.
    static func replay(postgres: Bool, moveAfter: String? = nil) throws -> EndState {
        let sim = try FactorySimulator()
        let bodies = try ["ES", "PT", "FR", "DE", "IT"].map { try RegistrationSimulator(country: $0) }
        defer {
            sim.stop()
            bodies.forEach { $0.stop() }
        }
        var box = try Sandbox()
        if postgres { try usePostgres(&box) }
        try box.useFactory(sim)
        box.config.dealerships["ES-MAD-01"] = "Paseo de la Castellana 200, Madrid"
        for b in bodies { try box.useRegistration(b) }
        let story = ReplayTests.filesByDay(), later = ReplayTests.laterFilesByDay()
        var day = Timestamp.parseISO("2026-10-01")!
        while Timestamp.day(day) <= "2026-11-30" {
            let stamp = Timestamp.day(day).replacingOccurrences(of: "-", with: "")
            try box.drop(story[stamp] ?? [])
            try FileManager.default.createDirectory(atPath: box.inbox, withIntermediateDirectories: true)
            for f in later[stamp] ?? [] {
                try FileManager.default.copyItem(atPath: f, toPath: box.inbox + "/" + (f as NSString).lastPathComponent)
            }
            _ = try box.run(asOf: Timestamp.day(day) + "T23:00:00Z")
            if Timestamp.day(day) == moveAfter {
                try usePostgres(&box)
                let counts = try box.gateway().copyStore(fromSQLite: box.config.storePath)
                #expect(counts.allSatisfy { $0.source == $0.target } && counts.contains { $0.table == "facts" && $0.target > 50 })
                // A second copy into the same store is refused: it is no longer empty.
                #expect(throws: StoreError.self) { _ = try box.gateway().copyStore(fromSQLite: box.config.storePath) }
            }
            day = day.addingTimeInterval(86400)
        }
        let store = try box.gateway().storeForQueries
        #expect((store is PostgresStore) == (postgres || moveAfter != nil))
        let refs = try store.projections().map(\.ref)
        return EndState(
            orders: try store.projections().map {
                "\($0.ref) \($0.state?.rawValue ?? "-") \($0.receivedMinor) \($0.plate ?? "-") \($0.vin ?? "-") \($0.timeline.count) \($0.anomalies.count)"
            },
            actions: try store.actions(status: nil).map { "\($0.key) \($0.status.rawValue) \($0.attempts)" },
            facts: try store.facts(orderRefs: refs + [""]).values.flatMap { $0 }.map { "\($0.id) \($0.orderRef) \($0.kind.rawValue)" }
                .sorted(),
            files: try store.sightings(runIDs: try Self.runIDs(store)).map { "\($0.name) \($0.outcome.rawValue)" }.sorted(),
            registrations: try store.registrations().map { "\($0.orderRef) \($0.phase.rawValue) \($0.plate ?? "-")" },
            openExceptions: try store.openExceptions().map(\.key),
            ordersCSV: try String(contentsOfFile: box.config.reportsDir + "/2026-11-30/orders.csv", encoding: .utf8),
            outboxKeys: try box.files(under: box.config.outbox).filter { $0.hasSuffix(".ndjson") }.reduce(into: [:]) { keys, rel in
                for line in try String(contentsOfFile: box.config.outbox + "/" + rel, encoding: .utf8).split(separator: "\n") {
                    let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                    keys[(o?["idempotency_key"] as? String) ?? "?", default: 0] += 1
                }
            })
    }

    static func runIDs(_ store: any GatewayStore) throws -> [String] {
        var day = Timestamp.parseISO("2026-10-01")!
        var out: [String] = []
        while Timestamp.day(day) <= "2026-11-30" {
            out += try store.runs(onDay: Timestamp.day(day)).map(\.id)
            day = day.addingTimeInterval(86400)
        }
        return out
    }

    @Test func theStoryEndsOnPostgreSQLWhereItEndsOnSQLite() throws {
        let sqlite = try Self.replay(postgres: false)
        let postgres = try Self.replay(postgres: true)
        #expect(sqlite.orders.count == 15 && sqlite.facts.count > 100 && sqlite.registrations.count >= 5)
        #expect(postgres.orders == sqlite.orders)
        #expect(postgres.actions == sqlite.actions)
        #expect(postgres.facts == sqlite.facts)
        #expect(postgres.files == sqlite.files)
        #expect(postgres.registrations == sqlite.registrations)
        #expect(postgres.openExceptions == sqlite.openExceptions)
        #expect(postgres.ordersCSV == sqlite.ordersCSV)
        #expect(postgres.outboxKeys == sqlite.outboxKeys && sqlite.outboxKeys.count > 30 && sqlite.outboxKeys.values.allSatisfy { $0 == 1 })
    }

    @Test func aStoreCopiedToPostgreSQLMidStoryCarriesOnWithNoDifference() throws {
        let sqlite = try Self.replay(postgres: false)
        let moved = try Self.replay(postgres: false, moveAfter: "2026-11-05")
        #expect(moved.orders == sqlite.orders)
        #expect(moved.actions == sqlite.actions)
        #expect(moved.facts == sqlite.facts)
        #expect(moved.files == sqlite.files)
        #expect(moved.registrations == sqlite.registrations)
        #expect(moved.openExceptions == sqlite.openExceptions)
        #expect(moved.ordersCSV == sqlite.ordersCSV)
        #expect(moved.outboxKeys == sqlite.outboxKeys)
    }
}
