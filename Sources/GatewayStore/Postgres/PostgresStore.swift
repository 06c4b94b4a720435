import Foundation
import GatewayCore

/// The shared store: one PostgreSQL database that several runners, on several hosts, use at once.
/// The same contracts as the SQLite store, and what makes them hold with other processes writing:
/// - a file is claimed by its content hash in its ingest transaction: the second runner's insert
///   waits for the first's commit, then finds the hash taken;
/// - actions are claimed `FOR UPDATE SKIP LOCKED` with a lease, so two runners never take one;
/// - an order's change mark is cleared by version, so a fact that arrives during a fold keeps it;
/// - migrations run at start under an advisory lock, so two runners starting at once migrate once.
/// Times are milliseconds since 1970 in BIGINT columns, as in SQLite, so a store copies across
/// without conversion. Text compares byte by byte (COLLATE "C"), as in SQLite, whatever the
/// database's locale, so both stores list things in one order.
public final class PostgresStore: GatewayStore, @unchecked Sendable {
    let pool: PGPool

    /// Connects (checking the server at once) and applies the migrations this version knows, or,
    /// with `migrate` false (queries), checks that they are all applied and changes nothing.
    /// `password` comes from the environment or a file, never from the URL in a configuration.
    public init(url: String, password: String?, migrate: Bool = true) throws {
        pool = PGPool(url: url, password: password)
        try pool.with { c in try migrate ? Self.migrate(c) : Self.checkMigrated(c) }
    }

    /// How long a lock wait may last before the statement fails instead of hanging a cron run.
    static let lockTimeout = "30s"

    // MARK: Connections

    /// A connection for statements outside a transaction: each commits on its own.
    @discardableResult
    func autocommit<T>(_ body: (PGConnection) throws -> T) throws -> T {
        try pool.with(body)
    }

    /// A connection inside one transaction, retried on a serialization failure or a deadlock.
    @discardableResult
    func write<T>(_ body: (PGConnection) throws -> T) throws -> T {
        try pool.with { c in try c.transaction(body) }
    }

    static func ms(_ d: Date) -> Int64 { Timestamp.millis(d) }
    static func ms(_ d: Date?) -> Int64? { d.map(Timestamp.millis) }
    static func date(_ v: Int64?) -> Date? { v.map(Timestamp.date(millis:)) }

    /// `?, ?, ?` for an IN list of `n` values (at least one, so the SQL stays valid).
    static func marks(_ n: Int) -> String { Array(repeating: "?", count: max(1, n)).joined(separator: ",") }

    // MARK: Migrations

    /// Named, append-only migrations, as in SQLite: a released one is never edited, only followed.
    /// PostgreSQL's history starts with the SQLite store's schema as it stands at v13.
    static let migrations: [(name: String, sql: String)] = [
        ("pg1-schema", PostgresSchema.v1),
        // SQLite's v14. TEXT compares as SQLite's does here: the keys are ASCII (hashes, refs).
        ("pg2-set-aside", SetAsideSQL.table),
    ]

    /// Applies what is missing, under a transaction-level advisory lock: a second runner starting
    /// at the same moment waits, then finds every migration applied.
    static func migrate(_ c: PGConnection) throws {
        try c.transaction { c in
            try c.query("SELECT pg_advisory_xact_lock(?)", [PostgresLocks.migrations])
            try c.script(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                  name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP)
                """)
            let applied = Set(try c.query("SELECT name FROM schema_migrations").rows.map { $0["name"] as String })
            let known = Set(migrations.map(\.name))
            if let unknown = applied.subtracting(known).sorted().first {
                throw StoreError(
                    "the PostgreSQL store has migration \(unknown), which this caas-gateway does not know: it was written by a newer version; run that version (or newer) on every runner"
                )
            }
            for m in migrations where !applied.contains(m.name) {
                try c.script(m.sql)
                try c.query("INSERT INTO schema_migrations(name) VALUES (?)", [m.name])
            }
        }
    }

    static func checkMigrated(_ c: PGConnection) throws {
        let exists: Bool = try c.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS e").rows[0]["e"]
        let applied = exists ? Set(try c.query("SELECT name FROM schema_migrations").rows.map { $0["name"] as String }) : []
        guard applied == Set(migrations.map(\.name)) else {
            throw StoreError(
                "the PostgreSQL store was written by another version of caas-gateway (or nothing has run yet): a run migrates it first (caas-gateway run)"
            )
        }
    }

    // MARK: Runs

    public func beginRun(_ run: RunRecord) throws {
        try autocommit { c in
            try c.query(
                "INSERT INTO runs(id, command, as_of, started_at, status, runner) VALUES (?, ?, ?, ?, ?, ?)",
                [run.id, run.command, Self.ms(run.asOf), Self.ms(run.startedAt), run.status, run.runner])
        }
    }

    public func interruptDeadRuns(runner: String, except current: String, at: Date) throws -> [String] {
        try write { c in
            let dead = try c.query(
                "SELECT id FROM runs WHERE status = 'running' AND runner = ? AND id <> ? ORDER BY started_at FOR UPDATE",
                [runner, current]
            ).rows.map { $0["id"] as String }
            for id in dead {
                try c.query("UPDATE runs SET status = 'interrupted', finished_at = ? WHERE id = ?", [Self.ms(at), id])
                // What the dead run held is free at once: it was this runner's, and this runner
                // holds its own lock, so nobody is working on it.
                try c.query("UPDATE actions SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", [id])
                try c.query("DELETE FROM pull_claims WHERE run_id = ?", [id])
            }
            return dead
        }
    }

    public func finishRun(id: String, status: String, summaryJSON: String, finishedAt: Date) throws {
        try autocommit { c in
            try c.query(
                "UPDATE runs SET status = ?, summary_json = ?, finished_at = ? WHERE id = ?",
                [status, summaryJSON, Self.ms(finishedAt), id])
        }
    }

    public func runs(onDay day: String) throws -> [RunRecord] {
        guard let start = Timestamp.parseISO(day) else { return [] }
        let from = Self.ms(start), to = from + 86_400_000
        return try autocommit { c in
            try c.query("SELECT * FROM runs WHERE as_of >= ? AND as_of < ? ORDER BY started_at, id", [from, to]).rows.map(Self.run)
        }
    }

    static func run(_ r: PGRow) throws -> RunRecord { try StoreRows.run(r) }

    // MARK: Work one runner does at a time

    /// A session advisory lock per order, on a connection of its own held while `body` runs:
    /// if this process dies, the server ends the session and the orders are free at once.
    public func foldingExclusively<T>(_ refs: [String], _ body: ([String]) throws -> T) throws -> T {
        guard !refs.isEmpty else { return try body([]) }
        return try pool.with { c in
            let taken = try c.query(
                """
                SELECT ref FROM (VALUES \(Array(repeating: "(CAST(? AS TEXT))", count: refs.count).joined(separator: ","))) v(ref)
                WHERE pg_try_advisory_lock(hashtextextended('fold:' || ref, 0))
                """, refs
            ).rows.map { $0["ref"] as String }
            defer { _ = try? c.query("SELECT pg_advisory_unlock_all()") }
            let held = Set(taken)
            return try body(refs.filter(held.contains))
        }
    }

    public func exclusively<T>(_ work: String, _ body: () throws -> T) throws -> T {
        try pool.with { c in
            // Waiting for another runner's report may take longer than a row lock may wait.
            try c.script("SET lock_timeout = '10min'")
            try c.query("SELECT pg_advisory_lock(hashtextextended(?, 0))", ["work:" + work])
            defer {
                _ = try? c.query("SELECT pg_advisory_unlock_all()")
                try? c.script("SET lock_timeout = '\(Self.lockTimeout)'")
            }
            return try body()
        }
    }

    // MARK: Customers

    public func customer(username: String) throws -> CustomerRecord? {
        try autocommit { c in
            try c.query("SELECT * FROM customers WHERE username = ?", [username]).rows.first.map {
                CustomerRecord(customerID: $0["customer_id"], username: $0["username"], createdAt: Self.date($0["created_at"])!)
            }
        }
    }

    public func credential(customerID: String) throws -> CredentialRecord? {
        try autocommit { c in
            try c.query("SELECT * FROM credentials WHERE customer_id = ?", [customerID]).rows.first.map {
                CredentialRecord(
                    customerID: $0["customer_id"], tokenHash: $0["token_hash"], expiresAt: Self.date($0["expires_at"])!,
                    issuedAt: Self.date($0["issued_at"])!, orderRef: $0["order_ref"])
            }
        }
    }
}

/// The advisory lock keys the gateway takes, one per kind of cluster-wide work. Fixed numbers,
/// so every runner of every version takes the same ones.
enum PostgresLocks {
    static let migrations: Int64 = 0x6361_6173_0001
    /// Making every order due for review when the rules changed: once, by one runner.
    static let reviewRules: Int64 = 0x6361_6173_0002
}

/// Idle connections, reused; a connection is made when none is idle, and one that broke is
/// dropped. Each call holds one connection for its whole duration, so a call made from inside
/// another (a report reading while it writes) gets a second one instead of waiting for itself.
final class PGPool: @unchecked Sendable {
    let url: String
    let password: String?
    private let lock = NSLock()
    private var idle: [PGConnection] = []

    init(url: String, password: String?) {
        self.url = url
        self.password = password
    }

    func with<T>(_ body: (PGConnection) throws -> T) throws -> T {
        lock.lock()
        let reused = idle.popLast()
        lock.unlock()
        let c = try reused ?? Self.open(url: url, password: password)
        defer {
            if c.isUsable {
                lock.lock()
                idle.append(c)
                lock.unlock()
            }
        }
        return try body(c)
    }

    static func open(url: String, password: String?) throws -> PGConnection {
        let c = try PGConnection(url: url, password: password)
        try c.script("SET lock_timeout = '\(PostgresStore.lockTimeout)'")
        return c
    }
}
