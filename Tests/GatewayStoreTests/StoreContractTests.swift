import Foundation
import GRDB
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayStore

/// The two stores the gateway can run on. Every store-semantics test runs on both, with the same
/// code: what the engine relies on is the contract, not one engine's habits.
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// A new, empty store.
    func newStore() throws -> any GatewayStore {
        try opener()()
    }

    /// Opens stores over one new, empty database: each call is another connection to it, as
    /// another process (another runner) would have.
    func opener() throws -> @Sendable () throws -> any GatewayStore {
        switch self {
        case .sqlite:
            let path = Fixtures.tempDir("contract") + "/gateway.sqlite"
            return { try SQLiteStore(path: path) }
        case .postgres:
            let pg = try TestPostgres.shared()
            let url = try pg.newDatabase("contract")
            let password = pg.password
            return { try PostgresStore(url: url, password: password) }
        }
    }

    /// A statement behind the store's back, as a hand edit or a newer version would write.
    func execute(_ sql: String, in store: any GatewayStore) throws {
        switch self {
        case .sqlite: try (store as! SQLiteStore).db.write { try $0.execute(sql: sql) }
        case .postgres: try (store as! PostgresStore).autocommit { try $0.script(sql) }
        }
    }
}

@Suite("Store contract (SQLite and PostgreSQL)")
struct StoreContractTests {
    let t0 = Timestamp.parseISO("2026-10-02T12:00:00Z")!

    func fact(_ ref: String, _ kind: FactKind = .saleCancelled, reason: String = "r", record: Int = 1, id: String? = nil) -> Fact {
        Fact(
            id: id ?? FactID.make(source: "feed", kind: kind, key: [ref]), orderRef: ref, kind: kind, occurredAt: t0,
            fields: ["reason": .string(reason)],
            provenance: Provenance(fileHash: "h", fileName: "f.xml", record: record, line: record + 1, mapping: "feed", mappingVersion: 1))
    }

    func file(_ hash: String) -> IncomingFile { IncomingFile(hash: hash, name: "f-\(hash).xml", feed: "feed", size: 10) }

    @Test(arguments: StoreBackend.allCases)
    func aFileIsOneTransactionAndItsFactsAreIdempotent(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
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

    @Test(arguments: StoreBackend.allCases)
    func aRepeatWithOtherContentIsRejectedAndTheFirstStands(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
        _ = try store.ingestFile(file("a"), runID: "r1", at: t0) { w in _ = try w.add(fact("S-1", reason: "first")) }
        let c = try store.ingestFile(file("b"), runID: "r1", at: t0) { w in
            let r = try w.add(fact("S-1", reason: "second"))
            #expect(r == .conflicting(firstFile: "f-a.xml"))  // the ledger names the file that brought it
        }
        #expect(c.accepted == 0 && c.rejected == 1 && c.factsConflicting == 1)
        #expect(try store.facts(orderRef: "S-1").first?.string("reason") == "first")
        #expect(try store.rejections(fileHash: "b").first?.reason.contains("the first version stands") == true)
    }

    @Test(arguments: StoreBackend.allCases)
    func aFailingFileLeavesNothingBehind(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
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

    @Test(arguments: StoreBackend.allCases)
    func aFileIsClaimedOnceByItsContentHash(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
        _ = try store.ingestFile(file("a"), runID: "r1", at: t0) { _ in }
        #expect(throws: FileAlreadyClaimed.self) { try store.ingestFile(file("a"), runID: "r2", at: t0) { _ in } }
    }

    @Test(arguments: StoreBackend.allCases)
    func newFactsMarkOrdersForFoldingUntilTheProjectionIsSaved(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
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

    @Test(arguments: StoreBackend.allCases)
    func aFactArrivingDuringAFoldKeepsItsOrderMarked(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
        _ = try store.ingestFile(file("a"), runID: "r1", at: t0) { w in _ = try w.add(fact("S-1")) }
        let read = try store.ordersToFold(asOf: t0)
        // Another process adds a fact after the fold read the order, before it commits.
        try store.appendFacts([fact("S-1", id: "f_2")], runID: "r2")
        try store.commitFold([OrderView(ref: "S-1")], due: [], marks: read, at: t0)
        #expect(try store.ordersToFold(asOf: t0).map(\.ref) == ["S-1"])
        try store.commitFold([OrderView(ref: "S-1")], due: [], marks: try store.ordersToFold(asOf: t0), at: t0)
        #expect(try store.ordersToFold(asOf: t0).isEmpty)
    }

    @Test(arguments: StoreBackend.allCases)
    func theFoldAndTheActionsItMakesDueCommitTogether(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
        let due = [DueAction(kind: .issueCredentials, orderRef: "S-1"), DueAction(kind: .issueCredentials, orderRef: "S-2")]
        #expect(try store.commitFold([], due: due, marks: [], at: t0) == 2)
        #expect(try store.commitFold([], due: due, marks: [], at: t0) == 0)
        #expect(try store.actions(status: .pending).map(\.key) == ["issue_credentials:S-1", "issue_credentials:S-2"])
    }

    @Test(arguments: StoreBackend.allCases)
    func aLiveLeaseIsNeverTakenAndAnExpiredOneIs(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
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

    @Test(arguments: StoreBackend.allCases)
    func aDeadRunOfThisRunnerIsInterruptedAndLosesItsLeases(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
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

    @Test(arguments: StoreBackend.allCases)
    func aFailedActionIsMadeDueAgainWithItsHistoryKept(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
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

    @Test(arguments: StoreBackend.allCases)
    func anomaliesKeepWhenTheyWereFirstSeenAndLeaveWhenResolved(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
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

    @Test(arguments: StoreBackend.allCases)
    func anActionRowThatDoesNotDecodeIsAnErrorNamingIt(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
        try store.commitFold([], due: [DueAction(kind: .notifyCustomer, orderRef: "S-1")], marks: [], at: t0)
        try backend.execute("UPDATE actions SET kind = 'teleport'", in: store)
        #expect {
            _ = try store.actions(status: nil)
        } throws: { ($0 as? StoreError)?.message.contains("notify_customer:S-1 has an unknown kind 'teleport'") == true }
        try backend.execute("UPDATE actions SET kind = 'notify_customer', status = 'dreaming'", in: store)
        #expect {
            _ = try store.actions(status: nil)
        } throws: { ($0 as? StoreError)?.message.contains("unknown status 'dreaming'") == true }
    }

    // MARK: Several processes on one store

    @Test(arguments: StoreBackend.allCases)
    func aFileIngestedByFourProcessesAtOnceIsTakenOnce(_ backend: StoreBackend) throws {
        let open = try backend.opener()
        let stores = try (0..<4).map { _ in try open() }
        let outcomes = Outcomes()
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            do {
                _ = try stores[i].ingestFile(file("same"), runID: "r\(i)", at: t0) { w in
                    _ = try w.add(fact("S-1"))
                    usleep(20_000)  // long enough for the others to arrive while this one holds it
                }
                outcomes.add("ingested")
            } catch is FileAlreadyClaimed {
                outcomes.add("claimed")
            } catch {
                outcomes.add("\(error)")
            }
        }
        #expect(outcomes.sorted == ["claimed", "claimed", "claimed", "ingested"])
        #expect(try stores[0].facts(orderRef: "S-1").count == 1)
    }

    @Test(arguments: StoreBackend.allCases)
    func fourProcessesClaimingActionsNeverTakeOneTwice(_ backend: StoreBackend) throws {
        let open = try backend.opener()
        let stores = try (0..<4).map { _ in try open() }
        try stores[0].commitFold(
            [], due: (1...120).map { DueAction(kind: .notifyCustomer, orderRef: "S-\($0)") }, marks: [], at: t0)
        let claimed = Outcomes()
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            while true {
                guard
                    let batch = try? stores[i].claimActions(
                        kinds: [.notifyCustomer], runner: "runner-\(i)", now: t0, leaseUntil: t0.addingTimeInterval(600), limit: 7),
                    !batch.isEmpty
                else { return }
                for a in batch { claimed.add(a.key) }
            }
        }
        #expect(claimed.sorted.count == 120)
        #expect(Set(claimed.sorted).count == 120)
        #expect(try stores[1].actions(status: .pending).allSatisfy { $0.leaseOwner?.hasPrefix("runner-") == true })
    }

    @Test(arguments: StoreBackend.allCases)
    func aRemoteFileIsFetchedByOneRunUntilItsClaimEnds(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
        func claim(_ run: String, at t: Date) throws -> Bool {
            try store.claimPull(
                source: "bank", remotePath: "/out/a.xml", size: 10, mtime: 5, runID: run, now: t, until: t.addingTimeInterval(60))
        }
        for run in ["r1", "r2"] { try store.beginRun(RunRecord(id: run, command: "run", asOf: t0, startedAt: t0, runner: "h-" + run)) }
        #expect(try claim("r1", at: t0))
        #expect(try claim("r1", at: t0.addingTimeInterval(1)))  // its own claim, again (a rerun of the batch)
        #expect(try !claim("r2", at: t0.addingTimeInterval(30)))  // live: another run's
        #expect(try claim("r2", at: t0.addingTimeInterval(120)))  // expired: taken over
        // A claim of a run that has ended is void: what it left waiting is anyone's.
        try store.finishRun(id: "r2", status: "ok", summaryJSON: "{}", finishedAt: t0)
        #expect(try claim("r1", at: t0.addingTimeInterval(130)))
        // Another version of the file (size, mtime) is another claim.
        #expect(
            try store.claimPull(
                source: "bank", remotePath: "/out/a.xml", size: 11, mtime: 6, runID: "r3", now: t0, until: t0.addingTimeInterval(60)))
        // A file another runner fetched (and recorded) between the listing and the claim is not claimed.
        try store.recordPulls([
            (
                PulledFile(
                    source: "bank", remotePath: "/out/c.xml", size: 2, mtime: 2, localName: "c.xml", fetchedAt: t0, afterActionDone: true),
                nil
            )
        ])
        #expect(
            try store.claimPulls(
                source: "bank", files: [("/out/c.xml", 2, 2), ("/out/d.xml", 2, 2)], runID: "r1", now: t0, until: t0.addingTimeInterval(60))
                == ["/out/d.xml"])
        // A dead run's claims end with it.
        try store.beginRun(RunRecord(id: "r4", command: "run", asOf: t0, startedAt: t0, runner: "host-a"))
        try store.beginRun(RunRecord(id: "r5", command: "run", asOf: t0, startedAt: t0, runner: "host-a"))
        #expect(
            try store.claimPull(
                source: "bank", remotePath: "/out/b.xml", size: 1, mtime: 1, runID: "r4", now: t0, until: t0.addingTimeInterval(600)))
        _ = try store.interruptDeadRuns(runner: "host-a", except: "r5", at: t0)
        #expect(
            try store.claimPull(
                source: "bank", remotePath: "/out/b.xml", size: 1, mtime: 1, runID: "r5", now: t0, until: t0.addingTimeInterval(600)))
    }

    /// PostgreSQL is shared by runners, so it keeps them apart itself; a SQLite store has one
    /// runner (its run lock keeps a second process out), so it gives its one caller every order.
    @Test(arguments: StoreBackend.allCases)
    func anOrderBeingFoldedByOneProcessIsLeftByAnother(_ backend: StoreBackend) throws {
        let open = try backend.opener()
        let a = try open(), b = try open()
        let (mine, theirs) = try a.foldingExclusively(["S-1", "S-2"]) { mine in
            (mine, try b.foldingExclusively(["S-2", "S-3"]) { $0 })
        }
        #expect(mine == ["S-1", "S-2"])
        #expect(theirs == (backend == .postgres ? ["S-3"] : ["S-2", "S-3"]))
        // Freed once the fold returns.
        #expect(try b.foldingExclusively(["S-1", "S-2"]) { $0 } == ["S-1", "S-2"])
    }

    @Test(arguments: StoreBackend.allCases)
    func clusterWideWorkIsDoneByOneProcessAtATime(_ backend: StoreBackend) throws {
        let open = try backend.opener()
        let stores = try (0..<3).map { _ in try open() }
        let inside = Outcomes()
        DispatchQueue.concurrentPerform(iterations: 3) { i in
            _ = try? stores[i].exclusively("report") {
                inside.add("in")
                let overlapping = inside.sorted.filter { $0 == "in" }.count - inside.sorted.filter { $0 == "out" }.count
                if overlapping > 1 { inside.add("overlap") }
                usleep(50_000)
                inside.add("out")
            }
        }
        #expect(inside.sorted.filter { $0 == "in" }.count == 3)
        if backend == .postgres { #expect(!inside.sorted.contains("overlap")) }
    }
}

/// Strict reads (issue 26): a stored value that does not decode is an error naming the table, the
/// row, the column and the value, on both stores; never a default standing in for it.
@Suite("A stored value that does not read is an error naming it (SQLite and PostgreSQL)")
struct StrictReadContractTests {
    let t0 = Timestamp.parseISO("2026-10-02T12:00:00Z")!

    struct Corruption: CustomTestStringConvertible, Sendable {
        let table: String
        let column: String
        let key: String
        let sql: String
        let read: @Sendable (any GatewayStore) throws -> Void
        var testDescription: String { "\(table).\(column)" }
    }

    static let corruptions: [Corruption] = [
        Corruption(table: "files", column: "status", key: "a", sql: "UPDATE files SET status = 'lost'") { _ = try $0.ledgerEntry(hash: "a") },
        Corruption(table: "files", column: "counts_json", key: "a", sql: "UPDATE files SET counts_json = '{\"records\":'") {
            _ = try $0.ledgerEntries(named: "f-a.xml")
        },
        Corruption(table: "file_sightings", column: "outcome", key: "", sql: "UPDATE file_sightings SET outcome = 'eaten'") {
            _ = try $0.sightings(runIDs: ["r1"])
        },
        Corruption(table: "facts", column: "kind", key: "f_1", sql: "UPDATE facts SET kind = 'teleported'") { _ = try $0.facts(orderRef: "S-1") },
        Corruption(table: "facts", column: "fields", key: "f_1", sql: "UPDATE facts SET fields = 'not json'") {
            _ = try $0.facts(orderRefs: ["S-1"])
        },
        Corruption(table: "anomalies", column: "code", key: "S-1", sql: "UPDATE anomalies SET code = 'weird'") { _ = try $0.anomalies() },
        Corruption(table: "orders", column: "view_json", key: "S-1", sql: "UPDATE orders SET view_json = '{\"ref\": 5}'") {
            _ = try $0.projections()
        },
        Corruption(table: "orders", column: "view_json", key: "S-1", sql: "UPDATE orders SET view_json = 'truncated {'") {
            _ = try $0.projection(ref: "S-1")
        },
        Corruption(table: "registrations", column: "phase", key: "S-1", sql: "UPDATE registrations SET phase = 'limbo'") {
            _ = try $0.registrations()
        },
        Corruption(table: "registration_attempts", column: "kind", key: "", sql: "UPDATE registration_attempts SET kind = 'prayer'") {
            _ = try $0.registrationAttempts(orderRef: nil)
        },
        Corruption(table: "transfers", column: "outcome", key: "", sql: "UPDATE transfers SET outcome = 'lost'") {
            _ = try $0.transfers(runIDs: ["r1"])
        },
    ]

    /// One row in every table the corruptions touch.
    func populate(_ store: any GatewayStore, _ backend: StoreBackend) throws {
        try store.beginRun(RunRecord(id: "r1", command: "run", asOf: t0, startedAt: t0, runner: "test"))
        _ = try store.ingestFile(IncomingFile(hash: "a", name: "f-a.xml", feed: "feed", size: 10), runID: "r1", at: t0) { w in
            _ = try w.add(
                Fact(
                    id: "f_1", orderRef: "S-1", kind: .saleCancelled, occurredAt: t0, fields: ["reason": .string("r")],
                    provenance: Provenance(fileHash: "a", fileName: "f-a.xml", record: 1, line: 2, mapping: "feed", mappingVersion: 1)))
            try w.reject([Rejection(record: 3, line: 4, field: "x", reason: "bad")])
        }
        try store.recordSighting(FileSighting(runID: "r1", hash: "a", name: "f-a.xml", feed: "feed", outcome: .ingested, detail: nil, at: t0))
        var v = OrderView(ref: "S-1")
        v.anomalies = [Anomaly(code: .unknownOrder, factID: "f_1", occurredAt: t0, message: "no sale yet")]
        try store.commitFold([v], due: [], marks: [], at: t0)
        try store.logTransfer(TransferRecord(runID: "r1", direction: "pull", endpoint: "bank", name: "x.xml", outcome: .pulled, detail: nil, at: t0))
        try backend.execute(
            """
            INSERT INTO registrations(order_ref, country, generation, submission_id, phase, updated_at) VALUES ('S-1', 'ES', 1, 'ES-S-1-1', 'sent', 0);
            INSERT INTO registration_attempts(order_ref, submission_id, country, kind, at, http_status, duration_ms, outcome, detail)
              VALUES ('S-1', 'ES-S-1-1', 'ES', 'submit', 0, 202, 5, 'accepted', NULL);
            """, in: store)
    }

    @Test(arguments: StoreBackend.allCases, corruptions)
    func aCorruptedValueNamesTableRowColumnAndValue(_ backend: StoreBackend, _ c: Corruption) throws {
        let store = try backend.newStore()
        try populate(store, backend)
        try c.read(store)  // reads before the corruption
        try backend.execute(c.sql, in: store)
        #expect {
            try c.read(store)
        } throws: { error in
            guard let e = error as? UnreadableStoredValue else { return false }
            return e.table == c.table && e.column == c.column && (c.key.isEmpty || e.key == c.key)
                && "\(e)".contains("newer caas-gateway")
        }
    }
}

/// The crash ledger: deaths of files and orders, shared by every runner of a store.
@Suite("Items set aside after a crash (SQLite and PostgreSQL)")
struct SetAsideContractTests {
    let t0 = Timestamp.parseISO("2026-10-02T23:00:00Z")!

    func death(_ kind: SetAsideItem.Kind, _ key: String, deaths: Int, signal: Int?, aside: Bool, run: String = "r1") -> SetAsideItem {
        SetAsideItem(
            kind: kind, key: key, name: kind == .file ? "psp/\(key).csv" : key, stage: kind == .file ? "read" : "fold", signal: signal,
            deaths: deaths, runID: run, at: t0, isSetAside: aside)
    }

    @Test(arguments: StoreBackend.allCases)
    func deathsAreCountedSetAsideSharedAndBroughtBack(_ backend: StoreBackend) throws {
        let open = try backend.opener()
        let store = try open()
        #expect(try store.itemDeaths(kind: .order, key: "S-1") == nil)
        try store.recordItemDeath(death(.order, "S-1", deaths: 1, signal: nil, aside: false))
        try store.recordItemDeath(death(.file, "ab12", deaths: 1, signal: 4, aside: true))
        #expect(try store.itemDeaths(kind: .order, key: "S-1")?.deaths == 1)
        #expect(try store.setAsideItems().map(\.key) == ["ab12"], "a death without a signal sets nothing aside")
        try store.recordItemDeath(death(.order, "S-1", deaths: 2, signal: nil, aside: true, run: "r2"))
        // Another runner of the same store sees it.
        let other = try open()
        let aside = try other.setAsideItems()
        #expect(aside.map(\.key).sorted() == ["S-1", "ab12"])
        #expect(aside.first { $0.key == "S-1" } == death(.order, "S-1", deaths: 2, signal: nil, aside: true, run: "r2"))
        #expect(aside.first { $0.key == "ab12" }?.signal == 4)

        let was = try other.bringBack(kind: .order, key: "S-1", note: "fixed in 1.4", at: t0)
        #expect(was?.deaths == 2)
        #expect(try other.bringBack(kind: .order, key: "S-1", note: "again", at: t0) == nil, "no longer set aside")
        #expect(try store.itemDeaths(kind: .order, key: "S-1")?.deaths == 0, "brought back with no deaths counted")
        #expect(try store.setAsideItems().map(\.key) == ["ab12"])
        #expect(try store.bringBack(kind: .file, key: "S-1", note: "n", at: t0) == nil, "kinds do not mix")
    }

    @Test(arguments: StoreBackend.allCases)
    func aKindThisVersionDoesNotKnowIsAnErrorNotAnotherKind(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
        try backend.execute(
            "INSERT INTO set_aside(kind, key, name, stage, signal, deaths, run_id, at, set_aside) VALUES ('action', 'k', 'k', 'act', 4, 1, 'r', 0, 1)",
            in: store)
        #expect {
            try store.setAsideItems()
        } throws: { error in
            "\(error)".contains("set_aside") && "\(error)".contains("action")
        }
    }
}

/// Two runners issuing one customer's credentials at once (`SharedCustomerTests` in the engine's
/// tests stages the race): the second order's credential is refused, the same order's replaced.
@Suite("Credentials for a customer welcomed elsewhere (SQLite and PostgreSQL)")
struct CredentialConflictContractTests {
    let t0 = Timestamp.parseISO("2026-10-03T23:00:00Z")!

    func commit(_ store: any GatewayStore, order: String, token: String) throws {
        var c = ActionCommit()
        let customer = CustomerRecord(customerID: "C-1", username: "a@example.es", createdAt: t0)
        c.credentials.append((customer, CredentialRecord(customerID: "C-1", tokenHash: token, expiresAt: t0, issuedAt: t0, orderRef: order)))
        c.facts.append(
            Fact(
                id: "f_" + order, orderRef: order, kind: .credentialsIssued, occurredAt: t0, fields: [:],
                provenance: Provenance(action: "issue_credentials:" + order)))
        try store.commitActions(c, runID: "r1")
    }

    @Test(arguments: StoreBackend.allCases)
    func aSecondOrdersWelcomeWritesNothingAndTheSameOrdersReplaces(_ backend: StoreBackend) throws {
        let store = try backend.newStore()
        try commit(store, order: "S-1", token: "h1")
        #expect(throws: CustomerWelcomedElsewhere.self) { try commit(store, order: "S-2", token: "h2") }
        #expect(try store.credential(customerID: "C-1")?.tokenHash == "h1", "the first welcome's link still works")
        #expect(try store.facts(orderRef: "S-2").isEmpty, "nothing of the refused step was written")
        // The same order again (a welcome an interrupted run never sent): a fresh token replaces it.
        try commit(store, order: "S-1", token: "h3")
        #expect(try store.credential(customerID: "C-1")?.tokenHash == "h3")
    }
}

/// What concurrent callers saw, in one place.
final class Outcomes: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) {
        lock.lock()
        items.append(s)
        lock.unlock()
    }
    var sorted: [String] {
        lock.lock()
        defer { lock.unlock() }
        return items.sorted()
    }
}
