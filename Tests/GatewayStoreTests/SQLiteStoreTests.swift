import Foundation
import GRDB
import Testing

@testable import GatewayCore
@testable import GatewayStore

@Suite("SQLite store")
struct SQLiteStoreTests {
    let store: SQLiteStore
    let t0 = Timestamp.parseISO("2026-10-02T12:00:00Z")!

    init() throws {
        store = try SQLiteStore(path: ":memory:")
    }

    func fact(_ ref: String, _ kind: FactKind = .saleCancelled, reason: String = "r", record: Int = 1, id: String? = nil) -> Fact {
        Fact(
            id: id ?? FactID.make(source: "feed", kind: kind, key: [ref]), orderRef: ref, kind: kind, occurredAt: t0,
            fields: ["reason": .string(reason)],
            provenance: Provenance(fileHash: "h", fileName: "f.xml", record: record, line: record + 1, mapping: "feed", mappingVersion: 1))
    }

    func file(_ hash: String) -> IncomingFile { IncomingFile(hash: hash, name: "f-\(hash).xml", feed: "feed", size: 10) }

    @Test func theStoreSurvivesReopeningFromDisk() throws {
        let dir = NSTemporaryDirectory() + "caas-store-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        do {
            let s = try SQLiteStore(path: dir + "/g.sqlite")
            _ = try s.ingestFile(file("a"), runID: "r1", at: t0) { w in _ = try w.add(fact("S-1")) }
        }
        let reopened = try SQLiteStore(path: dir + "/g.sqlite")
        #expect(try reopened.facts(orderRef: "S-1").count == 1)
        #expect(try reopened.ledgerEntry(hash: "a")?.counts.factsNew == 1)
    }
}

extension SQLiteStoreTests {
    @Test func commitsAreSynchronousFullOnDisk() throws {
        // GRDB's pool sets WAL connections to NORMAL after its prepareDatabase hook; the store must
        // win, because a file is archived right after its transaction commits.
        let dir = NSTemporaryDirectory() + "caas-sync-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let disk = try SQLiteStore(path: dir + "/g.sqlite")
        let level = try disk.db.write { try Int.fetchOne($0, sql: "PRAGMA synchronous") }
        #expect(level == 2)  // FULL
        let mode = try disk.db.write { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }
}

extension SQLiteStoreTests {
    /// The report's counts come from tables the writes keep up to date; they must say what a count
    /// over every row says, after inserts and after changes.
    @Test func countsKeptByTriggersMatchCountingEveryRow() throws {
        func view(_ ref: String, _ state: OrderState, _ since: Date) -> OrderView {
            var v = OrderView(ref: ref)
            v.state = state
            v.stateSince = since
            return v
        }
        let day: TimeInterval = 86400
        try store.commitFold(
            [view("S-1", .reserved, t0), view("S-2", .reserved, t0 - 3 * day), view("S-3", .inProduction, t0)],
            due: [DueAction(kind: .notifyCustomer, orderRef: "S-1"), DueAction(kind: .notifyCustomer, orderRef: "S-2")], marks: [],
            at: t0)
        try store.commitFold([view("S-2", .inProduction, t0 - day), view("S-4", .delivered, t0)], due: [], marks: [], at: t0)
        var a = try #require(try store.actions(status: .pending).first)
        a.status = .done
        try store.updateAction(a)

        let counted = try store.db.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT state, MAX(0, ? / 86400000 - state_since / 86400000) AS days, COUNT(*) AS n FROM orders
                    GROUP BY state, days ORDER BY state, days
                    """, arguments: [Timestamp.millis(t0 + day)]
            ).map { StateAge(state: $0["state"], days: $0["days"], count: $0["n"]) }
        }
        #expect(try store.stateAges(asOf: t0 + day) == counted)
        #expect(counted.count == 4 && counted.contains(StateAge(state: "in_production", days: 2, count: 1)))
        #expect(try store.actionCounts() == [.pending: 1, .done: 1])
    }
}
