import Foundation
import GatewayCore

// MARK: Transfers

extension PostgresStore {
    public func pulled(source: String, remotePath: String, size: Int64, mtime: Int64) throws -> PulledFile? {
        try autocommit { c in
            try c.query(
                "SELECT * FROM pulled_files WHERE source = ? AND remote_path = ? AND size = ? AND mtime = ?",
                [source, remotePath, size, mtime]
            ).rows.first.map {
                PulledFile(
                    source: $0["source"], remotePath: $0["remote_path"], size: $0["size"], mtime: $0["mtime"],
                    localName: $0["local_name"], fetchedAt: Self.date($0["fetched_at"])!, afterActionDone: $0["after_done"])
            }
        }
    }

    public func recordPulls(_ files: [(file: PulledFile, transfer: TransferRecord?)]) throws {
        try write { c in
            for (f, transfer) in files {
                if let transfer { try Self.insertTransfer(c, transfer) }
                try c.query(
                    """
                    INSERT INTO pulled_files(source, remote_path, size, mtime, local_name, fetched_at, after_done)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(source, remote_path, size, mtime) DO UPDATE SET after_done = excluded.after_done
                    """,
                    [f.source, f.remotePath, f.size, f.mtime, f.localName, Self.ms(f.fetchedAt), f.afterActionDone])
            }
        }
    }

    public func observe(source: String, remotePath: String, size: Int64, mtime: Int64, at: Date) throws -> RemoteObservation? {
        try write { c in
            let before = try c.query(
                "SELECT * FROM remote_observations WHERE source = ? AND remote_path = ? FOR UPDATE", [source, remotePath]
            ).rows.first.map {
                RemoteObservation(size: $0["size"], mtime: $0["mtime"], since: Self.date($0["since"])!)
            }
            if before?.size != size || before?.mtime != mtime {
                try c.query(
                    """
                    INSERT INTO remote_observations(source, remote_path, size, mtime, since) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(source, remote_path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, since = excluded.since
                    """, [source, remotePath, size, mtime, Self.ms(at)])
            }
            return before
        }
    }

    public func pushed(destination: String, localPath: String, hash: String) throws -> Bool {
        try autocommit { c in
            !(try c.query(
                "SELECT 1 FROM pushed_files WHERE destination = ? AND local_path = ? AND hash = ?", [destination, localPath, hash]
            ).rows.isEmpty)
        }
    }

    public func recordPush(destination: String, localPath: String, hash: String, remotePath: String, at: Date) throws {
        try autocommit { c in
            try c.query(
                """
                INSERT INTO pushed_files(destination, local_path, hash, remote_path, pushed_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT DO NOTHING
                """, [destination, localPath, hash, remotePath, Self.ms(at)])
        }
    }

    public func logTransfer(_ t: TransferRecord) throws {
        try autocommit { c in try Self.insertTransfer(c, t) }
    }

    static func insertTransfer(_ c: PGConnection, _ t: TransferRecord) throws {
        try c.query(
            "INSERT INTO transfers(run_id, direction, endpoint, name, outcome, detail, bytes, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [t.runID, t.direction, t.endpoint, t.name, t.outcome.rawValue, t.detail, t.bytes, ms(t.at)])
    }

    public func claimPulls(
        source: String, files: [(path: String, size: Int64, mtime: Int64)], runID: String, now: Date, until: Date
    ) throws -> Set<String> {
        guard !files.isEmpty else { return [] }
        return try write { c in
            // Two runners claiming at once: the second's insert waits for the first's, then
            // finds a live claim of another run and changes nothing.
            var claimed: Set<String> = []
            for f in files {
                let args: [(any PGBindable)?] = [
                    source, f.path, f.size, f.mtime, runID, Self.ms(until), source, f.path, f.size, f.mtime, Self.ms(now),
                ]
                if try c.query(StoreSQL.claimPull, args).affected == 1 { claimed.insert(f.path) }
            }
            return claimed
        }
    }

    public func transfers(runIDs: [String]) throws -> [TransferRecord] {
        guard !runIDs.isEmpty else { return [] }
        return try autocommit { c in
            try c.query("SELECT * FROM transfers WHERE run_id IN (\(Self.marks(runIDs.count))) ORDER BY seq", runIDs).rows.map {
                try StoreRows.transfer($0)
            }
        }
    }
}

// MARK: Exceptions

extension PostgresStore {
    public func openExceptions() throws -> [TrackedException] {
        try autocommit { c in try c.query("SELECT * FROM exceptions WHERE resolved_at IS NULL ORDER BY key").rows.map(Self.exception) }
    }

    public func dismissedExceptionKeys() throws -> Set<String> {
        try autocommit { c in
            Set(try c.query("SELECT key FROM exceptions WHERE dismissed_note IS NOT NULL").rows.map { $0["key"] as String })
        }
    }

    public func dismissException(key: String, note: String, at: Date) throws -> Bool {
        try write { c in
            let changed = try c.query(
                "UPDATE exceptions SET resolved_at = ?, resolved_run = 'dismissed', dismissed_note = ? WHERE key = ? AND resolved_at IS NULL",
                [Self.ms(at), note, key]
            ).affected
            guard changed > 0 else { return false }
            try c.query(
                """
                INSERT INTO exception_events(key, rule, owner, subject, event, at, run_id)
                SELECT key, rule, owner, subject, 'dismissed', CAST(? AS BIGINT), 'dismissed' FROM exceptions WHERE key = ?
                """, [Self.ms(at), key])
            return true
        }
    }

    public func exceptionEvents(from: Date, to: Date) throws -> [ExceptionEvent] {
        try autocommit { c in
            try c.query("SELECT * FROM exception_events WHERE at >= ? AND at < ? ORDER BY seq", [Self.ms(from), Self.ms(to)]).rows.map {
                ExceptionEvent(
                    key: $0["key"], rule: $0["rule"], owner: $0["owner"], subject: $0["subject"], event: $0["event"],
                    at: Self.date($0["at"])!, runID: $0["run_id"])
            }
        }
    }

    static func insertEvent(_ c: PGConnection, _ e: TrackedException, _ event: String, at: Date?, run: String?) throws {
        try c.query(
            "INSERT INTO exception_events(key, rule, owner, subject, event, at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [e.key, e.rule, e.owner, e.subject, event, ms(at ?? e.firstSeenAt) as Int64, run ?? e.firstSeenRun])
    }

    public func recordExceptions(opened: [TrackedException], resolved: [TrackedException]) throws {
        try write { c in
            for e in opened {
                try c.query(
                    StoreSQL.exceptionOpened, [e.key, e.rule, e.owner, e.subject, Self.ms(e.firstSeenAt), e.firstSeenRun])
                try Self.insertEvent(c, e, "opened", at: e.firstSeenAt, run: e.firstSeenRun)
            }
            for e in resolved {
                try c.query(
                    "UPDATE exceptions SET resolved_at = ?, resolved_run = ? WHERE key = ?", [Self.ms(e.resolvedAt), e.resolvedRun, e.key])
                try Self.insertEvent(c, e, "resolved", at: e.resolvedAt, run: e.resolvedRun)
            }
        }
    }

    static func exception(_ r: PGRow) throws -> TrackedException { try StoreRows.exception(r) }
}

// MARK: Registrations

extension PostgresStore {
    public func registration(orderRef: String) throws -> RegistrationRecord? {
        try autocommit { c in try c.query("SELECT * FROM registrations WHERE order_ref = ?", [orderRef]).rows.first.map(Self.registration) }
    }

    public func registrations() throws -> [RegistrationRecord] {
        try autocommit { c in try c.query("SELECT * FROM registrations ORDER BY country, order_ref").rows.map(Self.registration) }
    }

    public func unfinishedRegistrations() throws -> [RegistrationRecord] {
        try autocommit { c in
            try c.query("SELECT * FROM registrations WHERE phase <> 'registered' ORDER BY country, order_ref").rows.map(Self.registration)
        }
    }

    static func insertAttempts(_ c: PGConnection, _ attempts: [RegistrationAttempt]) throws {
        for a in attempts {
            try c.query(
                """
                INSERT INTO registration_attempts
                  (order_ref, submission_id, country, kind, at, http_status, duration_ms, outcome, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    a.orderRef, a.submissionID, a.country, a.kind.rawValue, ms(a.at), a.httpStatus, a.durationMillis, a.outcome,
                    a.detail,
                ])
        }
    }

    public func registrationAttempts(orderRef: String?) throws -> [RegistrationAttempt] {
        try autocommit { c in
            let rows =
                try orderRef.map { try c.query("SELECT * FROM registration_attempts WHERE order_ref = ? ORDER BY seq", [$0]).rows }
                ?? c.query("SELECT * FROM registration_attempts ORDER BY seq").rows
            return try rows.map { try StoreRows.registrationAttempt($0) }
        }
    }

    static func writeRegistration(_ c: PGConnection, _ r: RegistrationRecord) throws {
        try c.query(
            StoreSQL.registrationUpsert,
            [
                r.orderRef, r.country, r.generation, r.submissionID, r.phase.rawValue, r.plate, r.field, r.reason, ms(r.acceptedAt),
                ms(r.updatedAt),
            ])
    }

    static func registration(_ r: PGRow) throws -> RegistrationRecord {
        try StoreRows.registration(r)
    }
}
