import Foundation
import GRDB
import GRDBSQLite
import GatewayCore

/// The embedded store: one SQLite file in WAL mode, through GRDB. Synchronous commits are FULL:
/// a file moves to the archive only after its transaction is on disk.
public final class SQLiteStore: GatewayStore {
    let db: any DatabaseWriter

    /// Opens (and migrates) the store at `path`; `:memory:` gives a private in-memory store for tests.
    public convenience init(path: String) throws {
        try self.init(path: path, readOnly: false)
    }

    /// A store another process may be writing, opened for queries only: no lock, no migration
    /// (a store a newer or older gateway left must be migrated by a run first).
    public convenience init(readOnlyAt path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError("no store at \(path) yet: nothing has run here (caas-gateway run creates it)")
        }
        try self.init(path: path, readOnly: true)
    }

    init(path: String, readOnly: Bool) throws {
        var config = Configuration()
        config.readonly = readOnly
        config.prepareDatabase { db in
            // A file is one transaction on the writer: with the default 2 MB page cache, a large
            // file spills pages mid-transaction and every row gets slower. 64 MB is a bound, not a
            // growth. Readers read a batch at a time and keep 8 MB each, so a run's memory does
            // not grow by 64 MB per reader connection.
            try db.execute(sql: db.configuration.readonly ? "PRAGMA cache_size = -8192" : "PRAGMA cache_size = -32768")
        }
        config.maximumReaderCount = 2
        config.busyMode = .timeout(10)
        if path == ":memory:" {
            db = try DatabaseQueue(configuration: config)
        } else {
            db = try DatabasePool(path: path, configuration: config)
        }
        // FULL: a commit is on disk before the call returns, because a file moves to the archive
        // right after its transaction. Set on the writer once it is open: GRDB's pool switches WAL
        // connections to NORMAL after prepareDatabase has run, which would silently undo it.
        if readOnly {
            guard try db.read({ try Self.migrator.hasCompletedMigrations($0) }) else {
                throw StoreError(
                    "the store at \(path) was written by another version of caas-gateway: a run migrates it first (caas-gateway run)")
            }
            return
        }
        try db.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(db)
        // The store holds personal data (national ids, e-mails): its owner only, whatever the
        // umask. SQLite gives the -wal and -shm files the main file's mode.
        if path != ":memory:" { for suffix in ["", "-wal", "-shm"] { chmod(path + suffix, 0o600) } }
    }

    /// Named, append-only migrations: a released migration is never edited, only followed.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-fact-log-ledger-projection") { db in
            try db.execute(
                sql: """
                    CREATE TABLE runs (
                        id TEXT PRIMARY KEY, command TEXT NOT NULL, as_of INTEGER NOT NULL, started_at INTEGER NOT NULL,
                        finished_at INTEGER, status TEXT NOT NULL, summary_json TEXT);
                    CREATE INDEX runs_as_of ON runs(as_of);

                    -- A fact from a file points at its ledger row (file_id) instead of repeating the
                    -- file's hash and name on every row: a million-row file writes a million fewer of them.
                    CREATE TABLE facts (
                        id TEXT PRIMARY KEY, order_ref TEXT NOT NULL, kind TEXT NOT NULL, occurred_at INTEGER NOT NULL,
                        fields TEXT NOT NULL, file_id INTEGER REFERENCES files(id), record_no INTEGER, line INTEGER,
                        mapping TEXT, mapping_version INTEGER, action TEXT, run_id TEXT NOT NULL);
                    CREATE INDEX facts_order ON facts(order_ref);

                    CREATE TABLE files (
                        id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, feed TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL,
                        status TEXT NOT NULL, counts_json TEXT NOT NULL, reason TEXT, run_id TEXT NOT NULL, at INTEGER NOT NULL);

                    CREATE TABLE file_sightings (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, hash TEXT NOT NULL, name TEXT NOT NULL,
                        feed TEXT, outcome TEXT NOT NULL, detail TEXT, at INTEGER NOT NULL);
                    CREATE INDEX file_sightings_run ON file_sightings(run_id);

                    CREATE TABLE rejections (
                        file_hash TEXT NOT NULL, record_no INTEGER NOT NULL, line INTEGER NOT NULL, field TEXT,
                        reason TEXT NOT NULL);
                    CREATE INDEX rejections_file ON rejections(file_hash);

                    CREATE TABLE dirty_orders (order_ref TEXT PRIMARY KEY);

                    -- What the last fold of each order found that does not fit; first_seen_at survives
                    -- refolds so a report can tell new anomalies from old ones.
                    CREATE TABLE anomalies (
                        order_ref TEXT NOT NULL, fact_id TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL,
                        occurred_at INTEGER NOT NULL, first_seen_at INTEGER NOT NULL,
                        PRIMARY KEY (order_ref, fact_id, code));

                    CREATE TABLE orders (
                        ref TEXT PRIMARY KEY, state TEXT, state_since INTEGER, dealer_code TEXT, country TEXT,
                        next_deadline_at INTEGER, anomalies INTEGER NOT NULL, view_json TEXT NOT NULL, folded_at INTEGER NOT NULL);
                    CREATE INDEX orders_deadline ON orders(next_deadline_at);

                    CREATE TABLE actions (
                        key TEXT PRIMARY KEY, order_ref TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
                        attempts INTEGER NOT NULL, next_attempt_at INTEGER, lease_owner TEXT, lease_until INTEGER,
                        last_error TEXT, outbox_file TEXT, result_json TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
                    CREATE INDEX actions_status ON actions(status, kind);

                    CREATE TABLE customers (
                        customer_id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL);
                    CREATE TABLE credentials (
                        customer_id TEXT PRIMARY KEY REFERENCES customers(customer_id), token_hash TEXT NOT NULL,
                        expires_at INTEGER NOT NULL, issued_at INTEGER NOT NULL, order_ref TEXT NOT NULL);
                    """)
        }
        m.registerMigration("v2-transfers") { db in
            try db.execute(
                sql: """
                    CREATE TABLE pulled_files (
                        source TEXT NOT NULL, remote_path TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL,
                        local_name TEXT NOT NULL, fetched_at INTEGER NOT NULL, after_done INTEGER NOT NULL,
                        PRIMARY KEY (source, remote_path, size, mtime));
                    CREATE TABLE remote_observations (
                        source TEXT NOT NULL, remote_path TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL,
                        since INTEGER NOT NULL, PRIMARY KEY (source, remote_path));
                    CREATE TABLE pushed_files (
                        destination TEXT NOT NULL, local_path TEXT NOT NULL, hash TEXT NOT NULL, remote_path TEXT NOT NULL,
                        pushed_at INTEGER NOT NULL, PRIMARY KEY (destination, local_path, hash));
                    CREATE TABLE transfers (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, direction TEXT NOT NULL, endpoint TEXT NOT NULL,
                        name TEXT, outcome TEXT NOT NULL, detail TEXT, bytes INTEGER NOT NULL, at INTEGER NOT NULL);
                    CREATE INDEX transfers_run ON transfers(run_id);
                    """)
        }
        m.registerMigration("v3-feed-sequences") { db in
            try db.execute(
                sql: """
                    CREATE TABLE feed_sequences (
                        feed TEXT NOT NULL, scope TEXT NOT NULL, number INTEGER NOT NULL, file_hash TEXT NOT NULL,
                        PRIMARY KEY (feed, scope, number));
                    """)
        }
        m.registerMigration("v4-registrations") { db in
            try db.execute(
                sql: """
                    CREATE TABLE registrations (
                        order_ref TEXT PRIMARY KEY, country TEXT NOT NULL, generation INTEGER NOT NULL,
                        submission_id TEXT NOT NULL UNIQUE, phase TEXT NOT NULL, plate TEXT, field TEXT, reason TEXT,
                        accepted_at INTEGER, updated_at INTEGER NOT NULL);
                    CREATE TABLE registration_attempts (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, order_ref TEXT NOT NULL, submission_id TEXT NOT NULL,
                        country TEXT NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL, http_status INTEGER,
                        duration_ms INTEGER NOT NULL, outcome TEXT NOT NULL, detail TEXT);
                    CREATE INDEX registration_attempts_order ON registration_attempts(order_ref);
                    """)
        }
        m.registerMigration("v5-exceptions") { db in
            // Open and resolved reconciliation exceptions, so a report can say what is new
            // since the previous run and what was resolved.
            try db.execute(
                sql: """
                    CREATE TABLE exceptions (
                        key TEXT PRIMARY KEY, rule TEXT NOT NULL, owner TEXT NOT NULL, subject TEXT NOT NULL,
                        first_seen_at INTEGER NOT NULL, first_seen_run TEXT NOT NULL, resolved_at INTEGER, resolved_run TEXT,
                        dismissed_note TEXT);
                    CREATE INDEX exceptions_open ON exceptions(resolved_at);
                    """)
        }
        m.registerMigration("v6-versioned-marks-runners-action-events") { db in
            // A change mark counts the changes to its order, so a fold clears it only if nothing
            // arrived since the fold read the order's facts. A run names the runner (host) that
            // started it, so a runner can tell its own dead runs from another host's live ones.
            // An action's history keeps what an operator did to it (made due again, and why).
            try db.execute(
                sql: """
                    ALTER TABLE dirty_orders ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
                    ALTER TABLE runs ADD COLUMN runner TEXT;
                    CREATE TABLE action_events (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, at INTEGER NOT NULL, event TEXT NOT NULL,
                        status_before TEXT NOT NULL, attempts_before INTEGER NOT NULL, last_error TEXT, note TEXT);
                    CREATE INDEX action_events_key ON action_events(key);
                    CREATE INDEX actions_order ON actions(order_ref);
                    CREATE INDEX runs_status ON runs(status);
                    """)
        }
        m.registerMigration("v7-exception-events") { db in
            // Every opening, resolution and dismissal of an exception, so a day's report can say what
            // was new and what was resolved across all the day's runs, not only since the last one.
            try db.execute(
                sql: """
                    CREATE TABLE exception_events (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, rule TEXT NOT NULL, owner TEXT NOT NULL,
                        subject TEXT NOT NULL, event TEXT NOT NULL, at INTEGER NOT NULL, run_id TEXT NOT NULL);
                    CREATE INDEX exception_events_at ON exception_events(at);
                    """)
        }
        m.registerMigration("v8-order-columns-and-reviews") { db in
            // What the report and orders.csv need of every order, as columns, so neither decodes
            // every order's JSON; and when the reconciliation rules must look at an order again
            // without a new fact (review_at), or every run because it has exceptions (flagged).
            // Every order is folded once more to fill them in.
            try db.execute(
                sql: """
                    ALTER TABLE orders ADD COLUMN currency TEXT;
                    ALTER TABLE orders ADD COLUMN total_minor INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE orders ADD COLUMN deposit_minor INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE orders ADD COLUMN received_minor INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE orders ADD COLUMN amount_due_minor INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE orders ADD COLUMN final_payment_due_at INTEGER;
                    ALTER TABLE orders ADD COLUMN review_at INTEGER;
                    ALTER TABLE orders ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0;
                    CREATE INDEX orders_review ON orders(review_at);
                    CREATE INDEX orders_flagged ON orders(flagged);
                    CREATE INDEX orders_folded ON orders(folded_at);
                    CREATE INDEX orders_state ON orders(state, state_since);
                    INSERT INTO dirty_orders(order_ref, version) SELECT ref, 1 FROM orders WHERE true
                      ON CONFLICT(order_ref) DO UPDATE SET version = version + 1;
                    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                    INSERT INTO counters(name, value) VALUES ('projections', 0);
                    """)
        }
        m.registerMigration("v9-counts-kept-by-triggers") { db in
            // What every report and metrics file counts, kept up to date by the writes themselves, so
            // an idle run reads a few rows instead of scanning every action and order.
            try db.execute(
                sql: """
                    CREATE TABLE action_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL);
                    INSERT INTO action_counts(status, n) SELECT status, COUNT(*) FROM actions GROUP BY status;
                    CREATE TRIGGER action_counts_insert AFTER INSERT ON actions BEGIN
                      INSERT INTO action_counts(status, n) VALUES (NEW.status, 1) ON CONFLICT(status) DO UPDATE SET n = n + 1;
                    END;
                    CREATE TRIGGER action_counts_update AFTER UPDATE OF status ON actions WHEN OLD.status != NEW.status BEGIN
                      UPDATE action_counts SET n = n - 1 WHERE status = OLD.status;
                      INSERT INTO action_counts(status, n) VALUES (NEW.status, 1) ON CONFLICT(status) DO UPDATE SET n = n + 1;
                    END;
                    CREATE TRIGGER action_counts_delete AFTER DELETE ON actions BEGIN
                      UPDATE action_counts SET n = n - 1 WHERE status = OLD.status;
                    END;

                    -- Known orders by state and the day they entered it (days since 1970, UTC).
                    CREATE TABLE order_days (state TEXT NOT NULL, day INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (state, day));
                    INSERT INTO order_days(state, day, n)
                      SELECT state, COALESCE(state_since, 0) / 86400000, COUNT(*) FROM orders WHERE state IS NOT NULL GROUP BY 1, 2;
                    CREATE TRIGGER order_days_insert AFTER INSERT ON orders WHEN NEW.state IS NOT NULL BEGIN
                      INSERT INTO order_days(state, day, n) VALUES (NEW.state, COALESCE(NEW.state_since, 0) / 86400000, 1)
                        ON CONFLICT(state, day) DO UPDATE SET n = n + 1;
                    END;
                    CREATE TRIGGER order_days_update AFTER UPDATE OF state, state_since ON orders
                      WHEN OLD.state IS NOT NEW.state OR OLD.state_since IS NOT NEW.state_since BEGIN
                      UPDATE order_days SET n = n - 1
                        WHERE OLD.state IS NOT NULL AND state = OLD.state AND day = COALESCE(OLD.state_since, 0) / 86400000;
                      INSERT INTO order_days(state, day, n)
                        SELECT NEW.state, COALESCE(NEW.state_since, 0) / 86400000, 1 WHERE NEW.state IS NOT NULL
                        ON CONFLICT(state, day) DO UPDATE SET n = n + 1;
                    END;
                    """)
        }
        m.registerMigration("v10-settings") { db in
            // What the store must remember about how it was written, such as the thresholds the
            // stored reviews were computed with.
            try db.execute(sql: "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        }
        m.registerMigration("v11-file-requeues") { db in
            // An operator sends a file back to the inbox: its ledger row becomes 'requeued' (so the
            // same bytes are claimed again instead of being a duplicate), and what it was before,
            // rejected records included, is kept here.
            try db.execute(
                sql: """
                    CREATE TABLE file_requeues (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL, name TEXT NOT NULL, feed TEXT NOT NULL,
                        status_before TEXT NOT NULL, reason_before TEXT, counts_before TEXT NOT NULL, run_before TEXT NOT NULL,
                        at_before INTEGER NOT NULL, note TEXT NOT NULL, at INTEGER NOT NULL);
                    CREATE INDEX file_requeues_hash ON file_requeues(hash);
                    CREATE TABLE requeued_rejections (
                        requeue_seq INTEGER NOT NULL, record_no INTEGER NOT NULL, line INTEGER NOT NULL, field TEXT, reason TEXT NOT NULL,
                        record_ref TEXT);
                    -- A rejected record's business reference (a sale's), for the person who asks the partner.
                    ALTER TABLE rejections ADD COLUMN record_ref TEXT;
                    """)
        }
        m.registerMigration("v12-stock-sales") { db in
            // A vehicle sold again from dealership stock: which sale took which VIN, from the
            // order that released it. The projection's VIN becomes a column so that a sale naming
            // a vehicle finds the orders holding it.
            try db.execute(
                sql: """
                    ALTER TABLE orders ADD COLUMN vin TEXT;
                    UPDATE orders SET vin = json_extract(view_json, '$.vin');
                    CREATE INDEX orders_vin ON orders(vin) WHERE vin IS NOT NULL;
                    CREATE TABLE stock_sales (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, vin TEXT NOT NULL, order_ref TEXT NOT NULL, released_by TEXT NOT NULL,
                        sale_fact TEXT NOT NULL, claimed_at INTEGER NOT NULL, UNIQUE(order_ref, vin));
                    CREATE INDEX stock_sales_vin ON stock_sales(vin);
                    """)
        }
        m.registerMigration("v13-pull-claims") { db in
            // A remote file claimed before it is fetched, so that runners sharing a store never
            // fetch it twice; a claim ends at `until`, or with its run.
            try db.execute(
                sql: """
                    CREATE TABLE pull_claims (
                        source TEXT NOT NULL, remote_path TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL,
                        run_id TEXT NOT NULL, until INTEGER NOT NULL, PRIMARY KEY (source, remote_path, size, mtime));
                    """)
        }
        m.registerMigration("v14-set-aside") { db in
            // Files and orders whose handling killed the process, from the run's "working on"
            // mark: how often, and whether every run leaves them alone until an operator brings
            // them back.
            try db.execute(sql: SetAsideSQL.table)
        }
        return m
    }

    static func ms(_ d: Date) -> Int64 { Timestamp.millis(d) }
    static func ms(_ d: Date?) -> Int64? { d.map(Timestamp.millis) }
    static func date(_ v: Int64?) -> Date? { v.map(Timestamp.date(millis:)) }

    // MARK: Runs

    public func beginRun(_ run: RunRecord) throws {
        try db.write { db in
            try db.execute(
                sql: "INSERT INTO runs(id, command, as_of, started_at, status, runner) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [run.id, run.command, Self.ms(run.asOf), Self.ms(run.startedAt), run.status, run.runner])
        }
    }

    public func interruptDeadRuns(runner: String, except current: String, at: Date) throws -> [String] {
        try db.write { db in
            let dead = try String.fetchAll(
                db, sql: "SELECT id FROM runs WHERE status = 'running' AND runner IS ? AND id != ? ORDER BY started_at",
                arguments: [runner, current])
            for id in dead {
                try db.execute(sql: "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE id = ?", arguments: [Self.ms(at), id])
                // What the dead run held is free at once: nobody else can be working on it.
                try db.execute(sql: "UPDATE actions SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM pull_claims WHERE run_id = ?", arguments: [id])
            }
            return dead
        }
    }

    public func finishRun(id: String, status: String, summaryJSON: String, finishedAt: Date) throws {
        try db.write { db in
            try db.execute(
                sql: "UPDATE runs SET status = ?, summary_json = ?, finished_at = ? WHERE id = ?",
                arguments: [status, summaryJSON, Self.ms(finishedAt), id])
        }
    }

    public func runs(onDay day: String) throws -> [RunRecord] {
        guard let start = Timestamp.parseISO(day) else { return [] }
        let from = Self.ms(start), to = from + 86_400_000
        return try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM runs WHERE as_of >= ? AND as_of < ? ORDER BY started_at, id", arguments: [from, to])
                .map(Self.run)
        }
    }

    static func run(_ r: Row) throws -> RunRecord { try StoreRows.run(r) }

    // MARK: File ledger

    public func ledgerEntry(hash: String) throws -> LedgerEntry? {
        try db.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM files WHERE hash = ?", arguments: [hash]).map(Self.ledgerEntry)
        }
    }

    public func ledgerEntries(named nameOrHash: String) throws -> [LedgerEntry] {
        try db.read { db in
            let hex = nameOrHash.lowercased()
            let byHash = hex.count >= 8 && hex.allSatisfy(\.isHexDigit)
            let rows = try Row.fetchAll(
                db,
                sql: byHash ? "SELECT * FROM files WHERE hash LIKE ? || '%' ORDER BY at" : "SELECT * FROM files WHERE name = ? ORDER BY at",
                arguments: [byHash ? hex : nameOrHash])
            return try rows.map(Self.ledgerEntry)
        }
    }

    static func ledgerEntry(_ r: Row) throws -> LedgerEntry { try StoreRows.ledgerEntry(r) }

    public func requeueFile(hash: String, note: String, at: Date) throws -> LedgerEntry? {
        try db.write { db in
            guard let r = try Row.fetchOne(db, sql: "SELECT * FROM files WHERE hash = ?", arguments: [hash]) else { return nil }
            let before = try Self.ledgerEntry(r)
            // Asked again after a crash between the store and the move: already done here.
            guard before.status != .requeued else { return before }
            try db.execute(
                sql: """
                    INSERT INTO file_requeues(hash, name, feed, status_before, reason_before, counts_before, run_before, at_before, note, at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    hash, before.name, before.feed, before.status.rawValue, before.reason, r["counts_json"] as String, before.runID,
                    r["at"] as Int64, note, Self.ms(at),
                ])
            let seq = db.lastInsertedRowID
            try db.execute(
                sql: """
                    INSERT INTO requeued_rejections(requeue_seq, record_no, line, field, reason, record_ref)
                      SELECT ?, record_no, line, field, reason, record_ref FROM rejections WHERE file_hash = ?;
                    DELETE FROM rejections WHERE file_hash = ?;
                    UPDATE files SET status = 'requeued' WHERE hash = ?;
                    """, arguments: [seq, hash, hash, hash])
            return before
        }
    }

    public func recordSighting(_ s: FileSighting) throws {
        try db.write { db in try Self.insertSighting(db, s) }
    }

    static func insertSighting(_ db: Database, _ s: FileSighting) throws {
        try db.execute(
            sql: "INSERT INTO file_sightings(run_id, hash, name, feed, outcome, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [s.runID, s.hash, s.name, s.feed, s.outcome.rawValue, s.detail, ms(s.at)])
    }

    public func sightings(runIDs: [String]) throws -> [FileSighting] {
        guard !runIDs.isEmpty else { return [] }
        return try db.read { db in
            let marks = Array(repeating: "?", count: runIDs.count).joined(separator: ",")
            return try Row.fetchAll(
                db, sql: "SELECT * FROM file_sightings WHERE run_id IN (\(marks)) ORDER BY seq",
                arguments: StatementArguments(runIDs)
            ).map { try StoreRows.sighting($0) }
        }
    }

    public func ingestFile(
        _ file: IncomingFile, runID: String, at: Date,
        _ body: (inout any FactWriter) throws -> Void
    ) throws -> IngestCounts {
        var counts = IngestCounts()
        do {
            try db.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    // The claim: a second runner (or a rerun) with the same content hits the unique
                    // hash. A file an operator requeued is claimed again, keeping its row (and id).
                    try db.execute(
                        sql: """
                            INSERT INTO files(hash, feed, name, size, status, counts_json, run_id, at) VALUES (?, ?, ?, ?, 'ingesting', '{}', ?, ?)
                            ON CONFLICT(hash) DO UPDATE SET feed = excluded.feed, name = excluded.name, status = 'ingesting',
                              counts_json = '{}', reason = NULL, run_id = excluded.run_id, at = excluded.at
                            WHERE files.status = 'requeued'
                            """,
                        arguments: [file.hash, file.feed, file.name, file.size, runID, Self.ms(at)])
                    guard db.changesCount == 1 else { throw FileAlreadyClaimed(hash: file.hash) }
                    let fileID = try Int64.fetchOne(db, sql: "SELECT id FROM files WHERE hash = ?", arguments: [file.hash])!
                    let firstFact = (try Int64.fetchOne(db, sql: "SELECT max(rowid) FROM facts") ?? 0) + 1
                    var writer: any FactWriter = try SQLiteFactWriter(db: db, file: file, fileID: fileID, runID: runID)
                    try body(&writer)
                    counts = (writer as! SQLiteFactWriter).counts
                    // Orders with new facts are marked once per file, not once per fact.
                    try db.execute(
                        sql: """
                            INSERT INTO dirty_orders(order_ref, version) SELECT DISTINCT order_ref, 1 FROM facts WHERE rowid >= ? AND order_ref <> ''
                            ON CONFLICT(order_ref) DO UPDATE SET version = version + 1
                            """,
                        arguments: [firstFact])
                    let json = String(decoding: try JSONEncoder().encode(counts), as: UTF8.self)
                    try db.execute(
                        sql: "UPDATE files SET status = 'ingested', counts_json = ? WHERE hash = ?", arguments: [json, file.hash])
                    try Self.insertSighting(
                        db,
                        FileSighting(
                            runID: runID, hash: file.hash, name: file.name, feed: file.feed,
                            outcome: .ingested, detail: nil, at: at))
                    return .commit
                }
            }
        } catch let e as DatabaseError where e.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw FileAlreadyClaimed(hash: file.hash)
        }
        return counts
    }

    public func quarantine(_ file: IncomingFile, runID: String, at: Date, reason: String) throws {
        try db.write { db in
            try db.execute(
                sql: """
                    INSERT INTO files(hash, feed, name, size, status, counts_json, reason, run_id, at) VALUES (?, ?, ?, ?, 'quarantined', '{}', ?, ?, ?)
                    ON CONFLICT(hash) DO UPDATE SET feed = excluded.feed, name = excluded.name, status = 'quarantined',
                      counts_json = '{}', reason = excluded.reason, run_id = excluded.run_id, at = excluded.at
                    WHERE files.status = 'requeued'
                    """, arguments: [file.hash, file.feed, file.name, file.size, reason, runID, Self.ms(at)])
            try Self.insertSighting(
                db,
                FileSighting(
                    runID: runID, hash: file.hash, name: file.name, feed: file.feed,
                    outcome: .quarantined, detail: reason, at: at))
        }
    }

    public func sequenceGaps() throws -> [SequenceGap] {
        try db.read { db in
            StoreRules.gaps(
                try Row.fetchAll(db, sql: "SELECT feed, scope, number FROM feed_sequences ORDER BY feed, scope, number").map {
                    (feed: $0["feed"], scope: $0["scope"], number: $0["number"])
                })
        }
    }

    public func rejections(fileHash: String) throws -> [Rejection] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM rejections WHERE file_hash = ? ORDER BY record_no, rowid", arguments: [fileHash]).map {
                try StoreRows.rejection($0)
            }
        }
    }

    // MARK: Facts and projection

    public func facts(orderRef: String) throws -> [Fact] {
        try db.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT facts.*, files.hash AS file_hash, files.name AS file_name FROM facts
                    LEFT JOIN files ON files.id = facts.file_id WHERE order_ref = ? ORDER BY occurred_at, facts.id
                    """, arguments: [orderRef]
            ).map(Self.fact)
        }
    }

    public func unplacedPayments() throws -> [Fact] { try facts(orderRef: "") }

    public func stockSale(orderRef: String) throws -> StockSale? {
        try db.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM stock_sales WHERE order_ref = ? ORDER BY seq DESC LIMIT 1", arguments: [orderRef]).map
            {
                StockSale(vin: $0["vin"], orderRef: $0["order_ref"], releasedBy: $0["released_by"], claimedAt: Self.date($0["claimed_at"])!)
            }
        }
    }

    public func facts(orderRefs: [String]) throws -> [String: [Fact]] {
        guard !orderRefs.isEmpty else { return [:] }
        return try db.read { db in
            let stmt = try db.cachedStatement(
                sql: """
                    SELECT facts.*, files.hash AS file_hash, files.name AS file_name FROM facts
                    LEFT JOIN files ON files.id = facts.file_id WHERE order_ref = ? ORDER BY occurred_at, facts.id
                    """)
            var out: [String: [Fact]] = [:]
            for ref in Set(orderRefs) { out[ref] = try Row.fetchAll(stmt, arguments: [ref]).map(Self.fact) }
            return out
        }
    }

    static func fact(_ r: Row) throws -> Fact { try StoreRows.fact(r) }

    public func appendFacts(_ facts: [Fact], runID: String) throws {
        try db.write { db in
            try Self.insertFacts(db, facts, runID: runID)
        }
    }

    /// Facts the gateway produced, each new one marking its order changed.
    static func insertFacts(_ db: Database, _ facts: [Fact], runID: String) throws {
        let insert = try FactInsert(db)
        for f in facts where try insert.run(f, fileID: nil, runID: runID) { try markChanged(db, f.orderRef) }
    }

    static func markChanged(_ db: Database, _ ref: String) throws {
        try db.cachedStatement(
            sql: "INSERT INTO dirty_orders(order_ref, version) VALUES (?, 1) ON CONFLICT(order_ref) DO UPDATE SET version = version + 1"
        ).execute(arguments: [ref])
    }

    public func ordersToFold(asOf: Date) throws -> [OrderToFold] {
        try db.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT order_ref AS ref, version FROM dirty_orders
                    UNION ALL SELECT ref, NULL FROM orders WHERE next_deadline_at IS NOT NULL AND next_deadline_at <= ?
                      AND ref NOT IN (SELECT order_ref FROM dirty_orders)
                    ORDER BY 1
                    """, arguments: [Self.ms(asOf)]
            ).map { OrderToFold(ref: $0["ref"], version: $0["version"]) }
        }
    }

    @discardableResult
    public func commitFold(
        _ views: [OrderView], reviews: [String: OrderReview], due: [DueAction], marks: [OrderToFold], at: Date
    ) throws -> Int {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return try db.write { db in
            let upsert = try db.cachedStatement(
                sql: StoreSQL.orderUpsert(rows: 1))
            for v in views {
                let deadline = v.state == .awaitingFinalPayment ? v.finalPaymentDueAt : nil
                let review = reviews[v.ref]
                var args: StatementArguments = [
                    v.ref, v.state?.rawValue, Self.ms(v.stateSince), v.dealerCode, v.country, Self.ms(deadline),
                    v.anomalies.count, String(decoding: try encoder.encode(v), as: UTF8.self), Self.ms(at),
                ]
                args += [
                    v.currency, v.totalMinor, v.depositMinor, v.receivedMinor, v.amountDueMinor, Self.ms(v.finalPaymentDueAt),
                    Self.ms(review?.nextAt), review?.flagged ?? false, v.vin,
                ]
                try upsert.execute(arguments: args)
                try Self.saveAnomalies(db, of: v, at: at)
            }
            if !views.isEmpty { try db.execute(sql: "UPDATE counters SET value = value + 1 WHERE name = 'projections'") }
            let added = try Self.insertDue(db, due, at: at)
            // By version, never blindly: a fact that arrived after the fold read the order keeps its mark.
            let clear = try db.cachedStatement(sql: "DELETE FROM dirty_orders WHERE order_ref = ? AND version = ?")
            for m in marks {
                guard let version = m.version else { continue }
                try clear.execute(arguments: [m.ref, version])
            }
            return added
        }
    }

    static func saveAnomalies(_ db: Database, of v: OrderView, at: Date) throws {
        guard !v.anomalies.isEmpty else {
            try db.execute(sql: "DELETE FROM anomalies WHERE order_ref = ?", arguments: [v.ref])
            return
        }
        let current = Set(v.anomalies.map { "\($0.factID)|\($0.code.rawValue)" })
        for old in try Row.fetchAll(db, sql: "SELECT fact_id, code FROM anomalies WHERE order_ref = ?", arguments: [v.ref])
        where !current.contains("\(old["fact_id"] as String)|\(old["code"] as String)") {
            try db.execute(
                sql: "DELETE FROM anomalies WHERE order_ref = ? AND fact_id = ? AND code = ?",
                arguments: [v.ref, old["fact_id"] as String, old["code"] as String])
        }
        for a in v.anomalies {
            try db.execute(
                sql: """
                    INSERT INTO anomalies(order_ref, fact_id, code, message, occurred_at, first_seen_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(order_ref, fact_id, code) DO UPDATE SET message = excluded.message
                    """, arguments: [v.ref, a.factID, a.code.rawValue, a.message, ms(a.occurredAt), ms(at)])
        }
    }

    public func anomalies() throws -> [StoredAnomaly] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM anomalies ORDER BY first_seen_at, order_ref, occurred_at").map {
                try StoreRows.anomaly($0)
            }
        }
    }

    static func view(_ r: Row) throws -> OrderView { try StoreRows.view(r) }

    public func projections() throws -> [OrderView] {
        try db.read { db in try Row.fetchAll(db, sql: "SELECT ref, view_json FROM orders ORDER BY ref").map(Self.view) }
    }

    public func ordersForReview(asOf: Date) throws -> [OrderView] {
        try db.read { db in
            try Row.fetchAll(
                db,
                // Each condition through its own index: with OR, SQLite scans every order's row.
                sql: """
                    SELECT ref, view_json FROM orders WHERE ref IN (
                      SELECT ref FROM orders WHERE flagged = 1 UNION SELECT ref FROM orders WHERE review_at <= ?) ORDER BY ref
                    """, arguments: [Self.ms(asOf)]
            ).map(Self.view)
        }
    }

    public func projectionsVersion() throws -> Int64 {
        try db.read { db in try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'projections'") ?? 0 }
    }

    public func reviewAll(ifRulesChangedTo fingerprint: String) throws -> Bool {
        try db.write { db in
            let stored = try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = 'order_rules'")
            guard stored != fingerprint else { return false }
            // A store without a fingerprint yet was reviewed with whatever rules it had: once more.
            try db.execute(sql: "UPDATE orders SET review_at = 0")
            try db.execute(
                sql: "INSERT INTO settings(key, value) VALUES ('order_rules', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [fingerprint])
            return true
        }
    }

    public func saveReviews(_ reviews: [String: OrderReview]) throws {
        guard !reviews.isEmpty else { return }
        try db.write { db in
            let stmt = try db.cachedStatement(sql: "UPDATE orders SET review_at = ?, flagged = ? WHERE ref = ?")
            for (ref, r) in reviews { try stmt.execute(arguments: [Self.ms(r.nextAt), r.flagged, ref]) }
        }
    }

    public func stateAges(asOf: Date) throws -> [StateAge] {
        try db.read { db in
            // Whole days in the state: as-of day minus entry day, from the counts the triggers keep.
            try Row.fetchAll(
                db,
                sql: """
                    SELECT state, MAX(0, ? / 86400000 - day) AS days, SUM(n) AS n FROM order_days WHERE n > 0
                    GROUP BY state, days ORDER BY state, days
                    """, arguments: [Self.ms(asOf)]
            ).map { StateAge(state: $0["state"], days: $0["days"] ?? 0, count: $0["n"]) }
        }
    }

    public func forEachOrderRow(_ body: (OrderListing) throws -> Void) throws {
        try db.read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT ref, dealer_code, country, state, state_since, currency, total_minor, deposit_minor, received_minor,
                      amount_due_minor, final_payment_due_at, anomalies FROM orders WHERE state IS NOT NULL ORDER BY ref
                    """)
            while let r = try rows.next() {
                try body(
                    OrderListing(
                        ref: r["ref"], dealer: r["dealer_code"], country: r["country"], state: r["state"],
                        stateSince: Self.date(r["state_since"]),
                        currency: r["currency"], totalMinor: r["total_minor"], depositMinor: r["deposit_minor"],
                        receivedMinor: r["received_minor"], amountDueMinor: r["amount_due_minor"],
                        finalPaymentDueAt: Self.date(r["final_payment_due_at"]), anomalies: r["anomalies"]))
            }
        }
    }

    public func states(refs: [String]) throws -> [String: OrderState] {
        guard !refs.isEmpty else { return [:] }
        return try db.read { db in
            let stmt = try db.cachedStatement(sql: "SELECT state FROM orders WHERE ref = ?")
            var out: [String: OrderState] = [:]
            for ref in Set(refs) {
                guard let raw = try String.fetchOne(stmt, arguments: [ref]) else { continue }
                guard let state = OrderState(rawValue: raw) else { throw StoreError("order \(ref) has an unknown state '\(raw)'") }
                out[ref] = state
            }
            return out
        }
    }

    public func projections(refs: [String]) throws -> [String: OrderView] {
        guard !refs.isEmpty else { return [:] }
        return try db.read { db in
            let stmt = try db.cachedStatement(sql: "SELECT ref, view_json FROM orders WHERE ref = ?")
            var out: [String: OrderView] = [:]
            for ref in Set(refs) { out[ref] = try Row.fetchOne(stmt, arguments: [ref]).map(Self.view) }
            return out
        }
    }

    public func projection(ref: String) throws -> OrderView? {
        try db.read { db in try Row.fetchOne(db, sql: "SELECT ref, view_json FROM orders WHERE ref = ?", arguments: [ref]).map(Self.view) }
    }

    // MARK: Transfers

    public func pulled(source: String, remotePath: String, size: Int64, mtime: Int64) throws -> PulledFile? {
        try db.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM pulled_files WHERE source = ? AND remote_path = ? AND size = ? AND mtime = ?",
                arguments: [source, remotePath, size, mtime]
            ).map {
                PulledFile(
                    source: $0["source"], remotePath: $0["remote_path"], size: $0["size"], mtime: $0["mtime"],
                    localName: $0["local_name"], fetchedAt: Self.date($0["fetched_at"])!,
                    afterActionDone: $0["after_done"])
            }
        }
    }

    public func recordPulls(_ files: [(file: PulledFile, transfer: TransferRecord?)]) throws {
        try db.write { db in
            for (f, transfer) in files {
                if let transfer { try Self.insertTransfer(db, transfer) }
                try db.execute(
                    sql: """
                        INSERT INTO pulled_files(source, remote_path, size, mtime, local_name, fetched_at, after_done)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT(source, remote_path, size, mtime) DO UPDATE SET after_done = excluded.after_done
                        """,
                    arguments: [f.source, f.remotePath, f.size, f.mtime, f.localName, Self.ms(f.fetchedAt), f.afterActionDone])
            }
        }
    }

    public func observe(source: String, remotePath: String, size: Int64, mtime: Int64, at: Date) throws -> RemoteObservation? {
        try db.write { db in
            let before = try Row.fetchOne(
                db, sql: "SELECT * FROM remote_observations WHERE source = ? AND remote_path = ?",
                arguments: [source, remotePath]
            ).map {
                RemoteObservation(size: $0["size"], mtime: $0["mtime"], since: Self.date($0["since"])!)
            }
            if before?.size != size || before?.mtime != mtime {
                try db.execute(
                    sql: """
                        INSERT INTO remote_observations(source, remote_path, size, mtime, since) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT(source, remote_path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, since = excluded.since
                        """, arguments: [source, remotePath, size, mtime, Self.ms(at)])
            }
            return before
        }
    }

    public func pushed(destination: String, localPath: String, hash: String) throws -> Bool {
        try db.read { db in
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM pushed_files WHERE destination = ? AND local_path = ? AND hash = ?",
                arguments: [destination, localPath, hash]) ?? false
        }
    }

    public func recordPush(destination: String, localPath: String, hash: String, remotePath: String, at: Date) throws {
        try db.write { db in
            try db.execute(
                sql: """
                    INSERT INTO pushed_files(destination, local_path, hash, remote_path, pushed_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT DO NOTHING
                    """, arguments: [destination, localPath, hash, remotePath, Self.ms(at)])
        }
    }

    public func logTransfer(_ t: TransferRecord) throws {
        try db.write { db in try Self.insertTransfer(db, t) }
    }

    static func insertTransfer(_ db: Database, _ t: TransferRecord) throws {
        try db.execute(
            sql: """
                INSERT INTO transfers(run_id, direction, endpoint, name, outcome, detail, bytes, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [t.runID, t.direction, t.endpoint, t.name, t.outcome.rawValue, t.detail, t.bytes, ms(t.at)])
    }

    public func transfers(runIDs: [String]) throws -> [TransferRecord] {
        guard !runIDs.isEmpty else { return [] }
        return try db.read { db in
            let marks = Array(repeating: "?", count: runIDs.count).joined(separator: ",")
            return try Row.fetchAll(
                db, sql: "SELECT * FROM transfers WHERE run_id IN (\(marks)) ORDER BY seq", arguments: StatementArguments(runIDs)
            ).map { try StoreRows.transfer($0) }
        }
    }

    public func claimPulls(
        source: String, files: [(path: String, size: Int64, mtime: Int64)], runID: String, now: Date, until: Date
    ) throws -> Set<String> {
        guard !files.isEmpty else { return [] }
        return try db.write { db in
            let claim = try db.cachedStatement(sql: StoreSQL.claimPull)
            var claimed: Set<String> = []
            for f in files {
                try claim.execute(arguments: [
                    source, f.path, f.size, f.mtime, runID, Self.ms(until), source, f.path, f.size, f.mtime, Self.ms(now),
                ])
                if db.changesCount == 1 { claimed.insert(f.path) }
            }
            return claimed
        }
    }

    /// One SQLite store has one runner (its run lock): nothing else folds its orders.
    public func foldingExclusively<T>(_ refs: [String], _ body: ([String]) throws -> T) throws -> T { try body(refs) }

    /// One SQLite store has one runner (its run lock): nothing else does cluster-wide work.
    public func exclusively<T>(_ work: String, _ body: () throws -> T) throws -> T { try body() }

    // MARK: Customers

    public func customer(username: String) throws -> CustomerRecord? {
        try db.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM customers WHERE username = ?", arguments: [username]).map {
                CustomerRecord(customerID: $0["customer_id"], username: $0["username"], createdAt: Self.date($0["created_at"])!)
            }
        }
    }

    public func credential(customerID: String) throws -> CredentialRecord? {
        try db.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM credentials WHERE customer_id = ?", arguments: [customerID]).map {
                CredentialRecord(
                    customerID: $0["customer_id"], tokenHash: $0["token_hash"], expiresAt: Self.date($0["expires_at"])!,
                    issuedAt: Self.date($0["issued_at"])!, orderRef: $0["order_ref"])
            }
        }
    }
}

/// The per-file writer: facts by id (a repeat is counted, a changed repeat is flagged) and rejections.
struct SQLiteFactWriter: FactWriter {
    let db: Database
    let file: IncomingFile
    let fileID: Int64
    let runID: String
    var counts = IngestCounts()
    /// Prepared once per file: a statement per record was most of the insert's cost.
    let insert: FactInsert

    init(db: Database, file: IncomingFile, fileID: Int64, runID: String) throws {
        self.db = db
        self.file = file
        self.fileID = fileID
        self.runID = runID
        insert = try FactInsert(db)
    }

    mutating func add(_ fact: Fact) throws -> FactWriteResult {
        counts.records += 1
        counts.accepted += 1
        if try insert.run(fact, fileID: fileID, runID: runID) {
            counts.factsNew += 1
            return .inserted
        }
        let existing = try Row.fetchOne(
            db,
            sql: """
                SELECT facts.fields, files.name AS file_name FROM facts LEFT JOIN files ON files.id = facts.file_id WHERE facts.id = ?
                """, arguments: [fact.id])
        if let existing, (existing["fields"] as String) != FactFieldsCodec.encode(fact.fields) {
            // Same natural key, other content: the record is not applied, and the operator is told why.
            let first: String = existing["file_name"] ?? "an earlier file"
            counts.factsConflicting += 1
            counts.accepted -= 1
            counts.records -= 1
            try reject([StoreRules.conflictingRepeat(of: fact, firstFile: first)])
            return .conflicting(firstFile: first)
        }
        counts.factsKnown += 1
        return .known
    }

    mutating func recordSequence(scope: String, number: Int) throws {
        // A number is used once: the same file read again (requeued) keeps it, any other file
        // claiming it is a reused number.
        if let holder = try Row.fetchOne(
            db,
            sql: """
                SELECT s.file_hash, f.name, f.at FROM feed_sequences s LEFT JOIN files f ON f.hash = s.file_hash
                WHERE s.feed = ? AND s.scope = ? AND s.number = ?
                """, arguments: [file.feed, scope, number])
        {
            guard (holder["file_hash"] as String) != file.hash else { return }
            throw SequenceNumberTaken(
                scope: scope, number: number, byFile: holder["name"] ?? "an earlier file",
                at: SQLiteStore.date(holder["at"] as Int64?))
        }
        try db.execute(
            sql: "INSERT INTO feed_sequences(feed, scope, number, file_hash) VALUES (?, ?, ?, ?)",
            arguments: [file.feed, scope, number, file.hash])
    }

    mutating func skip() {
        counts.records += 1
        counts.skipped += 1
    }

    mutating func claimStockVehicle(vin: String, for orderRef: String, saleFact: String, asOf: Date) throws -> StockClaim {
        if let mine = try String.fetchOne(
            db, sql: "SELECT released_by FROM stock_sales WHERE vin = ? AND order_ref = ?", arguments: [vin, orderRef])
        {
            return .alreadyClaimed(releasedBy: mine)
        }
        // Every order that holds or held the vehicle: those whose projection has its VIN, and the
        // sales that claimed it (a claim of this run is not folded yet).
        let claimants = Set(
            try String.fetchAll(db, sql: "SELECT order_ref FROM stock_sales WHERE vin = ? AND order_ref <> ?", arguments: [vin, orderRef]))
        let orders = try Row.fetchAll(
            db, sql: "SELECT ref, state, final_payment_due_at FROM orders WHERE vin = ? AND ref <> ?", arguments: [vin, orderRef]
        ).map { (ref: $0["ref"] as String, state: $0["state"] as String?, windowClosesAt: SQLiteStore.date($0["final_payment_due_at"])) }
        let outcome = StockHolder.decide(StoreRules.stockHolders(orders: orders, claimants: claimants), asOf: asOf)
        if case .claimed(let releasedBy) = outcome {
            try db.execute(
                sql: "INSERT INTO stock_sales(vin, order_ref, released_by, sale_fact, claimed_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [vin, orderRef, releasedBy, saleFact, SQLiteStore.ms(asOf)])
        }
        return outcome
    }

    mutating func withdrawStockClaim(vin: String, for orderRef: String) throws {
        try db.execute(sql: "DELETE FROM stock_sales WHERE vin = ? AND order_ref = ?", arguments: [vin, orderRef])
    }

    mutating func reject(_ problems: [Rejection]) throws {
        counts.records += 1
        counts.rejected += 1
        let stmt = try db.cachedStatement(
            sql: "INSERT INTO rejections(file_hash, record_no, line, field, reason, record_ref) VALUES (?, ?, ?, ?, ?, ?)")
        for r in problems {
            try stmt.execute(arguments: [file.hash, r.record, r.line, r.field, r.reason, r.recordRef])
        }
    }
}

/// The one insert of a fact (unless its id is known), for the ingest's writer and the facts the
/// gateway's actions produce. Prepared once per use and bound with SQLite's own calls: GRDB's
/// arguments box every value, and the fields would be built into a String only to be validated
/// again. Nothing else uses its statement, so nothing else sees its state.
struct FactInsert {
    let db: Database
    let statement: Statement

    init(_ db: Database) throws {
        self.db = db
        statement = try db.makeStatement(
            sql: """
                INSERT INTO facts(id, order_ref, kind, occurred_at, fields, file_id, record_no, line, mapping, mapping_version, action, run_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING
                """)
    }

    /// Inserts the fact unless its id is known; true when it was new.
    func run(_ f: Fact, fileID: Int64?, runID: String) throws -> Bool {
        let s = statement.sqliteStatement
        sqlite3_reset(s)
        sqlite3_clear_bindings(s)
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        // A NULL pointer would bind NULL: an empty value (an order_ref of money naming no sale) is "".
        func bytes(_ i: Int32, _ b: UnsafeRawBufferPointer) {
            if let base = b.baseAddress, b.count > 0 {
                _ = sqlite3_bind_text(s, i, base.assumingMemoryBound(to: CChar.self), Int32(b.count), transient)
            } else {
                _ = sqlite3_bind_text(s, i, "", 0, transient)
            }
        }
        func text(_ i: Int32, _ v: String?) {
            guard var v else { return }  // left NULL
            v.withUTF8 { bytes(i, UnsafeRawBufferPointer($0)) }
        }
        func int(_ i: Int32, _ v: Int64?) { if let v { sqlite3_bind_int64(s, i, v) } }
        let p = f.provenance
        text(1, f.id)
        text(2, f.orderRef)
        text(3, f.kind.rawValue)
        int(4, SQLiteStore.ms(f.occurredAt))
        let fields = FactFieldsCodec.encodeBytes(f.fields)
        fields.withUnsafeBytes { bytes(5, $0) }
        int(6, fileID)
        int(7, p.record.map(Int64.init))
        int(8, p.line.map(Int64.init))
        text(9, p.mapping)
        int(10, p.mappingVersion.map(Int64.init))
        text(11, p.action)
        text(12, runID)
        let rc = sqlite3_step(s)
        defer { sqlite3_reset(s) }
        guard rc == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
        return sqlite3_changes(db.sqliteConnection) > 0
    }
}
