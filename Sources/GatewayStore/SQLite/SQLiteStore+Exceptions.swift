import Foundation
import GRDB
import GatewayCore

extension SQLiteStore {
    public func openExceptions() throws -> [TrackedException] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM exceptions WHERE resolved_at IS NULL ORDER BY key").map(Self.exception)
        }
    }

    public func dismissedExceptionKeys() throws -> Set<String> {
        try db.read { db in Set(try String.fetchAll(db, sql: "SELECT key FROM exceptions WHERE dismissed_note IS NOT NULL")) }
    }

    public func dismissException(key: String, note: String, at: Date) throws -> Bool {
        try db.write { db in
            try db.execute(
                sql:
                    "UPDATE exceptions SET resolved_at = ?, resolved_run = 'dismissed', dismissed_note = ? WHERE key = ? AND resolved_at IS NULL",
                arguments: [Self.ms(at), note, key])
            guard db.changesCount > 0 else { return false }
            try db.execute(
                sql: """
                    INSERT INTO exception_events(key, rule, owner, subject, event, at, run_id)
                    SELECT key, rule, owner, subject, 'dismissed', ?, 'dismissed' FROM exceptions WHERE key = ?
                    """, arguments: [Self.ms(at), key])
            return true
        }
    }

    public func exceptionEvents(from: Date, to: Date) throws -> [ExceptionEvent] {
        try db.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM exception_events WHERE at >= ? AND at < ? ORDER BY seq", arguments: [Self.ms(from), Self.ms(to)]
            ).map {
                ExceptionEvent(
                    key: $0["key"], rule: $0["rule"], owner: $0["owner"], subject: $0["subject"], event: $0["event"],
                    at: Self.date($0["at"])!, runID: $0["run_id"])
            }
        }
    }

    static func insertEvent(_ db: Database, _ e: TrackedException, _ event: String, at: Date?, run: String?) throws {
        try db.execute(
            sql: "INSERT INTO exception_events(key, rule, owner, subject, event, at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [e.key, e.rule, e.owner, e.subject, event, ms(at ?? e.firstSeenAt) as Int64, run ?? e.firstSeenRun])
    }

    public func fileProblems() throws -> [ProblemFile] {
        try db.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: StoreSQL.fileProblems)
            return try rows.map { r in
                let hash: String = r["hash"]
                let first = try Row.fetchOne(
                    db, sql: "SELECT * FROM rejections WHERE file_hash = ? ORDER BY record_no, rowid LIMIT 1", arguments: [hash])
                return ProblemFile(
                    name: r["name"], feed: r["feed"], hash: hash, arrivedAt: Self.date(r["as_of"])!,
                    quarantineReason: StoreRules.problemReason(status: r["status"], reason: r["reason"]), rejected: r["rejected"],
                    firstRejection: try first.map { try StoreRows.rejection($0) })
            }
        }
    }

    public func recordExceptions(opened: [TrackedException], resolved: [TrackedException]) throws {
        try db.write { db in
            // A key that was resolved once and comes back is opened again, as new.
            for e in opened {
                try db.execute(
                    sql: StoreSQL.exceptionOpened,
                    arguments: [e.key, e.rule, e.owner, e.subject, Self.ms(e.firstSeenAt), e.firstSeenRun])
                try Self.insertEvent(db, e, "opened", at: e.firstSeenAt, run: e.firstSeenRun)
            }
            for e in resolved {
                try db.execute(
                    sql: "UPDATE exceptions SET resolved_at = ?, resolved_run = ? WHERE key = ?",
                    arguments: [Self.ms(e.resolvedAt), e.resolvedRun, e.key])
                try Self.insertEvent(db, e, "resolved", at: e.resolvedAt, run: e.resolvedRun)
            }
        }
    }

    public func feedArrivals() throws -> [String: [Date]] {
        try db.read { db in
            var out: [String: [Date]] = [:]
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT f.feed AS feed, r.as_of AS as_of FROM files f JOIN runs r ON r.id = f.run_id
                    WHERE f.status = 'ingested' ORDER BY r.as_of
                    """)
            for r in rows { out[r["feed"], default: []].append(Self.date(r["as_of"])!) }
            return out
        }
    }

    static func exception(_ r: Row) throws -> TrackedException { try StoreRows.exception(r) }
}
