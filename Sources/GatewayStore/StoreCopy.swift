import Foundation
import GRDB

/// Moving up: an existing SQLite store copied, row for row, into an empty PostgreSQL store, in one
/// PostgreSQL transaction (a copy that fails leaves the target empty, so it can simply be run
/// again), then every table counted on both sides. The two schemas have the same columns, so
/// nothing is converted. The SQLite store is only read.
public enum StoreCopy {
    /// What was copied: rows per table, as read from SQLite and as counted in PostgreSQL after.
    public struct TableCount: Sendable, Equatable {
        public let table: String
        public let source: Int
        public let target: Int
    }

    /// The tables that hold history, parents before children (`facts` points at `files`). SQLite's
    /// counts kept by triggers are not copied: PostgreSQL counts rows itself.
    static let tables = [
        "runs", "files", "facts", "file_sightings", "rejections", "feed_sequences", "file_requeues", "requeued_rejections",
        "dirty_orders", "orders", "anomalies", "stock_sales", "actions", "action_events", "customers", "credentials",
        "registrations", "registration_attempts", "exceptions", "exception_events", "settings", "pulled_files",
        "remote_observations", "pushed_files", "transfers", "set_aside",
    ]

    /// PostgreSQL's generated keys, moved on past the copied rows.
    static let serials = [
        ("files", "id"), ("file_sightings", "seq"), ("rejections", "seq"), ("action_events", "seq"), ("transfers", "seq"),
        ("registration_attempts", "seq"), ("exception_events", "seq"), ("file_requeues", "seq"), ("stock_sales", "seq"),
    ]

    /// Copies `source` into `target`, which must hold nothing yet; `progress` hears each table as it is done.
    public static func copy(
        from source: SQLiteStore, to target: PostgresStore, progress: (String, Int) -> Void = { _, _ in }
    ) throws -> [TableCount] {
        try target.write { c in
            let present: Int = try c.query(
                "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM files) + (SELECT count(*) FROM facts) AS n"
            ).rows[0]["n"]
            guard present == 0 else {
                throw StoreError(
                    "the PostgreSQL store is not empty (it has runs, files or facts): copy only into a new database, or drop this one first"
                )
            }
            var copied: [String: Int] = [:]
            for table in tables {
                copied[table] = try copyTable(table, from: source, into: c)
                progress(table, copied[table]!)
            }
            for (table, column) in serials {
                try c.query(
                    "SELECT setval(pg_get_serial_sequence('\(table)', '\(column)'), COALESCE((SELECT MAX(\(column)) FROM \(table)), 0) + 1, false)"
                )
            }
            // What was written from the projections stays right until they change again.
            let version = try source.projectionsVersion()
            if version > 0 { try c.query("SELECT setval('projections_version', ?)", [version]) }
            return try tables.map { table in
                let n: Int = try c.query("SELECT count(*) AS n FROM \(table)").rows[0]["n"]
                return TableCount(table: table, source: copied[table]!, target: n)
            }
        }
    }

    /// Rows in batches of one multi-row INSERT each, in the SQLite table's insertion order.
    static func copyTable(_ table: String, from source: SQLiteStore, into c: PGConnection) throws -> Int {
        let columns = try source.db.read { db in try db.columns(in: table).map(\.name) }
        let list = columns.joined(separator: ", ")
        let perInsert = max(1, 8_000 / columns.count)
        var batch: [(any PGBindable)?] = []
        var rows = 0
        func flush() throws {
            guard !batch.isEmpty else { return }
            let row = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
            let values = Array(repeating: row, count: batch.count / columns.count).joined(separator: ", ")
            try c.query("INSERT INTO \(table) (\(list)) VALUES \(values)", batch)
            batch.removeAll(keepingCapacity: true)
        }
        try source.db.read { db in
            let cursor = try Row.fetchCursor(db, sql: "SELECT \(list) FROM \(table) ORDER BY rowid")
            while let r = try cursor.next() {
                for i in 0..<columns.count { batch.append(bindable(r[i] as DatabaseValue)) }
                rows += 1
                if rows % perInsert == 0 { try flush() }
            }
        }
        try flush()
        return rows
    }

    static func bindable(_ v: DatabaseValue) -> (any PGBindable)? {
        switch v.storage {
        case .null: return nil
        case .int64(let i): return i
        case .double(let d): return Int64(d)
        case .string(let s): return s
        case .blob(let b): return String(decoding: b, as: UTF8.self)
        }
    }
}
