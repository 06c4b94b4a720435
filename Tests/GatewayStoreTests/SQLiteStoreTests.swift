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

    @Test func aFileIsOneTransactionAndItsFactsAreIdempotent() throws {
        let counts = try store.ingestFile(file("a"), runID: "r1", at: t0) { w in
            #expect(try w.add(fact("S-1")) == .inserted)
            #expect(try w.add(fact("S-2")) == .inserted)
            try w.reject([Rejection(record: 3, line: 4, field: "x", reason: "bad")])
        }
        #expect(counts.records == 3 && counts.accepted == 2 && counts.rejected == 1 && counts.factsNew == 2)
        #expect(try store.ledgerEntry(hash: "a")?.status == .ingested)
        #expect(try store.rejections(fileHash: "a") == [Rejection(record: 3, line: 4, field: "x", reason: "bad")])

        // Another file bringing one of the same facts: known, not doubled.
        let again = try store.ingestFile(file("b"), runID: "r1", at: t0) { w in
            let r = try w.add(fact("S-1"))
            #expect(r == .known)
        }
        #expect(again.factsKnown == 1 && again.factsNew == 0)
        #expect(try store.facts(orderRef: "S-1").count == 1)
    }

    @Test func aRepeatWithOtherContentIsRejectedAndTheFirstStands() throws {
        _ = try store.ingestFile(file("a"), runID: "r1", at: t0) { w in _ = try w.add(fact("S-1", reason: "first")) }
        let c = try store.ingestFile(file("b"), runID: "r1", at: t0) { w in
            let r = try w.add(fact("S-1", reason: "second"))
            #expect(r == .conflicting(firstFile: "f-a.xml"))  // the ledger names the file that brought it
        }
        #expect(c.accepted == 0 && c.rejected == 1 && c.factsConflicting == 1)
        #expect(try store.facts(orderRef: "S-1").first?.string("reason") == "first")
        #expect(try store.rejections(fileHash: "b").first?.reason.contains("the first version stands") == true)
    }

    @Test func aFailingFileLeavesNothingBehind() throws {
        struct Broken: Error {}
        #expect(throws: Broken.self) {
            try store.ingestFile(file("a"), runID: "r1", at: t0) { w in
                _ = try w.add(fact("S-1"))
                throw Broken()
            }
        }
        #expect(try store.ledgerEntry(hash: "a") == nil)
        #expect(try store.facts(orderRef: "S-1").isEmpty)
        #expect(try store.ordersToFold(asOf: t0).isEmpty)
    }

    @Test func aFileIsClaimedOnceByItsContentHash() throws {
        _ = try store.ingestFile(file("a"), runID: "r1", at: t0) { _ in }
        #expect(throws: FileAlreadyClaimed.self) { try store.ingestFile(file("a"), runID: "r2", at: t0) { _ in } }
    }

    @Test func newFactsMarkOrdersForFoldingUntilTheProjectionIsSaved() throws {
        _ = try store.ingestFile(file("a"), runID: "r1", at: t0) { w in _ = try w.add(fact("S-1")) }
        let marks = try store.ordersToFold(asOf: t0)
        #expect(marks.map(\.ref) == ["S-1"])
        var view = OrderView(ref: "S-1")
        view.state = .awaitingFinalPayment
        view.finalPaymentDueAt = t0.addingTimeInterval(86400)
        try store.commitFold([view], due: [], marks: marks, at: t0)
        #expect(try store.ordersToFold(asOf: t0).isEmpty)
        // A deadline that has come brings the order back, with no new fact.
        #expect(try store.ordersToFold(asOf: t0.addingTimeInterval(86400)) == [OrderToFold(ref: "S-1", version: nil)])
        #expect(try store.projection(ref: "S-1") == view)
    }

    @Test func aFactArrivingDuringAFoldKeepsItsOrderMarked() throws {
        _ = try store.ingestFile(file("a"), runID: "r1", at: t0) { w in _ = try w.add(fact("S-1")) }
        let read = try store.ordersToFold(asOf: t0)
        // Another process adds a fact after the fold read the order, before it commits.
        try store.appendFacts([fact("S-1", id: "f_2")], runID: "r2")
        try store.commitFold([OrderView(ref: "S-1")], due: [], marks: read, at: t0)
        #expect(try store.ordersToFold(asOf: t0).map(\.ref) == ["S-1"])
        try store.commitFold([OrderView(ref: "S-1")], due: [], marks: try store.ordersToFold(asOf: t0), at: t0)
        #expect(try store.ordersToFold(asOf: t0).isEmpty)
    }

    @Test func theFoldAndTheActionsItMakesDueCommitTogether() throws {
        let due = [DueAction(kind: .issueCredentials, orderRef: "S-1"), DueAction(kind: .issueCredentials, orderRef: "S-2")]
        #expect(try store.commitFold([], due: due, marks: [], at: t0) == 2)
        #expect(try store.commitFold([], due: due, marks: [], at: t0) == 0)
        #expect(try store.actions(status: .pending).map(\.key) == ["issue_credentials:S-1", "issue_credentials:S-2"])
    }

    @Test func aLiveLeaseIsNeverTakenAndAnExpiredOneIs() throws {
        try store.commitFold(
            [], due: [DueAction(kind: .issueCredentials, orderRef: "S-1"), DueAction(kind: .issueCredentials, orderRef: "S-2")], marks: [],
            at: t0)
        let now = t0
        var a = try store.claimActions(kinds: [.issueCredentials], runner: "r1", now: now, leaseUntil: now.addingTimeInterval(60), limit: 1)
        #expect(a.map(\.key) == ["issue_credentials:S-1"])
        // Pending but leased: another runner does not get it either.
        let other = try store.claimActions(
            kinds: [.issueCredentials], runner: "r2", now: now, leaseUntil: now.addingTimeInterval(60), limit: 10)
        #expect(other.map(\.key) == ["issue_credentials:S-2"])
        a[0].status = .inFlight
        try store.updateAction(a[0])
        #expect(
            try store.claimActions(kinds: [.issueCredentials], runner: "r3", now: now, leaseUntil: now.addingTimeInterval(60), limit: 10)
                .isEmpty)
        // After the lease expires it is taken over.
        let later = now.addingTimeInterval(120)
        let takeover = try store.claimActions(
            kinds: [.issueCredentials], runner: "r3", now: later, leaseUntil: later.addingTimeInterval(60), limit: 10)
        #expect(takeover.map(\.key) == ["issue_credentials:S-1", "issue_credentials:S-2"])
    }

    @Test func aDeadRunOfThisRunnerIsInterruptedAndLosesItsLeases() throws {
        try store.beginRun(RunRecord(id: "dead", command: "run", asOf: t0, startedAt: t0, runner: "host-a"))
        try store.beginRun(RunRecord(id: "elsewhere", command: "run", asOf: t0, startedAt: t0, runner: "host-b"))
        try store.beginRun(RunRecord(id: "now", command: "run", asOf: t0, startedAt: t0, runner: "host-a"))
        try store.commitFold([], due: [DueAction(kind: .notifyCustomer, orderRef: "S-1")], marks: [], at: t0)
        var held = try store.claimActions(
            kinds: [.notifyCustomer], runner: "dead", now: t0, leaseUntil: t0.addingTimeInterval(900), limit: 1)
        held[0].status = .inFlight
        try store.updateAction(held[0])
        #expect(try store.interruptDeadRuns(runner: "host-a", except: "now", at: t0) == ["dead"])
        #expect(try store.runs(onDay: "2026-10-02").first { $0.id == "dead" }?.status == "interrupted")
        #expect(try store.runs(onDay: "2026-10-02").first { $0.id == "elsewhere" }?.status == "running")
        let taken = try store.claimActions(
            kinds: [.notifyCustomer], runner: "now", now: t0, leaseUntil: t0.addingTimeInterval(900), limit: 1)
        #expect(taken.map(\.status) == [.inFlight])
    }

    @Test func aFailedActionIsMadeDueAgainWithItsHistoryKept() throws {
        try store.commitFold([], due: [DueAction(kind: .placeFactoryOrder, orderRef: "S-1")], marks: [], at: t0)
        var a = try #require(try store.actions(status: .pending).first)
        a.status = .failed
        a.attempts = 8
        a.lastError = "the factory refused our credentials (401)"
        try store.updateAction(a)
        #expect(try store.makeDue(.failed(kind: .issueCredentials, orderRef: nil), note: "n", at: t0).isEmpty)
        #expect(try store.makeDue(.failed(kind: nil, orderRef: "S-1"), note: "token fixed", at: t0) == [a.key])
        let again = try #require(try store.actions(orderRef: "S-1").first)
        #expect(again.status == .pending && again.attempts == 0 && again.lastError == nil)
        let history = try store.actionEvents(key: a.key)
        #expect(history.count == 1 && history[0].note == "token fixed" && history[0].attemptsBefore == 8)
        #expect(history[0].lastError?.contains("401") == true && history[0].statusBefore == "failed")
        // Only failed actions: a pending one is left as it is.
        #expect(try store.makeDue(.keys([a.key]), note: "again", at: t0).isEmpty)
    }

    @Test func anActionRowThatDoesNotDecodeIsAnErrorNamingIt() throws {
        try store.commitFold([], due: [DueAction(kind: .notifyCustomer, orderRef: "S-1")], marks: [], at: t0)
        try store.db.write { try $0.execute(sql: "UPDATE actions SET kind = 'teleport'") }
        #expect {
            _ = try store.actions(status: nil)
        } throws: { ($0 as? StoreError)?.message.contains("notify_customer:S-1 has an unknown kind 'teleport'") == true }
        try store.db.write { try $0.execute(sql: "UPDATE actions SET kind = 'notify_customer', status = 'dreaming'") }
        #expect {
            _ = try store.actions(status: nil)
        } throws: { ($0 as? StoreError)?.message.contains("unknown status 'dreaming'") == true }
    }

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
    @Test func anomaliesKeepWhenTheyWereFirstSeenAndLeaveWhenResolved() throws {
        var v = OrderView(ref: "S-9")
        let a = Anomaly(code: .unknownOrder, factID: "f_1", occurredAt: t0, message: "no sale yet")
        v.anomalies = [a]
        try store.commitFold([v], due: [], marks: [], at: t0)
        try store.commitFold([v], due: [], marks: [], at: t0.addingTimeInterval(3600))
        #expect(try store.anomalies() == [StoredAnomaly(orderRef: "S-9", anomaly: a, firstSeenAt: t0)])
        v.anomalies = []
        try store.commitFold([v], due: [], marks: [], at: t0.addingTimeInterval(7200))
        #expect(try store.anomalies().isEmpty)
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
