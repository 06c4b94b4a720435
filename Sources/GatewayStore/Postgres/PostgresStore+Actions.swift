import Foundation
import GatewayCore

/// Actions: claimed `FOR UPDATE SKIP LOCKED` with a lease, so runners share the queue without
/// ever taking one action twice; an expired lease (its runner died) is taken over.
extension PostgresStore {
    static func insertDue(_ c: PGConnection, _ actions: [DueAction], at: Date) throws -> Int {
        var added = 0
        for start in stride(from: 0, to: actions.count, by: 500) {
            let chunk = actions[start..<min(start + 500, actions.count)]
            let values = Array(repeating: "(?, ?, ?, 'pending', 0, ?, ?)", count: chunk.count).joined(separator: ", ")
            added +=
                try c.query(
                    "INSERT INTO actions(key, order_ref, kind, status, attempts, created_at, updated_at) VALUES \(values) ON CONFLICT(key) DO NOTHING",
                    chunk.flatMap { a -> [(any PGBindable)?] in [a.idempotencyKey, a.orderRef, a.kind.rawValue, ms(at), ms(at)] }
                ).affected
        }
        return added
    }

    public func claimActions(
        kinds: [DueActionKind], orderRefs: [String]?, runner: String, now: Date, leaseUntil: Date, limit: Int
    ) throws -> [ActionRecord] {
        guard !kinds.isEmpty, orderRefs.map({ !$0.isEmpty }) ?? true else { return [] }
        var args: [(any PGBindable)?] = kinds.map(\.rawValue)
        var orders = ""
        if let orderRefs {
            orders = "AND order_ref IN (\(Self.marks(orderRefs.count)))"
            args += orderRefs
        }
        args += [Self.ms(now), Self.ms(now), limit]
        return try write { c in
            // A row another runner is claiming at this moment is skipped, not waited for; one it
            // leased is skipped until its lease ends.
            let rows = try c.query(
                """
                SELECT * FROM actions WHERE kind IN (\(Self.marks(kinds.count))) \(orders) AND status IN ('pending', 'in_flight')
                  AND (status = 'in_flight' OR next_attempt_at IS NULL OR next_attempt_at <= ?)
                  AND (lease_until IS NULL OR lease_until < ?)
                ORDER BY created_at, key LIMIT ? FOR UPDATE SKIP LOCKED
                """, args
            ).rows
            let out = try rows.map { r in
                var a = try Self.action(r)
                a.leaseOwner = runner
                a.leaseUntil = leaseUntil
                a.updatedAt = now
                return a
            }
            if !out.isEmpty {
                try c.query(
                    "UPDATE actions SET lease_owner = ?, lease_until = ?, updated_at = ? WHERE key = ANY(CAST(? AS ctext[]))",
                    [runner, Self.ms(leaseUntil), Self.ms(now), out.map(\.key)])
            }
            return out
        }
    }

    public func updateAction(_ a: ActionRecord) throws {
        try write { c in try Self.writeAction(c, a) }
    }

    static func writeAction(_ c: PGConnection, _ a: ActionRecord) throws {
        try c.query(
            """
            UPDATE actions SET status = ?, attempts = ?, next_attempt_at = ?, lease_owner = ?, lease_until = ?, last_error = ?,
              outbox_file = ?, result_json = ?, updated_at = ? WHERE key = ?
            """,
            [
                a.status.rawValue, a.attempts, ms(a.nextAttemptAt), a.leaseOwner, ms(a.leaseUntil), a.lastError,
                a.outboxFile, a.resultJSON, ms(a.updatedAt), a.key,
            ])
    }

    public func actions(status: ActionStatus?) throws -> [ActionRecord] {
        try autocommit { c in
            if let status {
                return try c.query("SELECT * FROM actions WHERE status = ? ORDER BY created_at, key", [status.rawValue]).rows.map(
                    Self.action)
            }
            return try c.query("SELECT * FROM actions ORDER BY created_at, key").rows.map(Self.action)
        }
    }

    public func actions(orderRef: String) throws -> [ActionRecord] {
        try autocommit { c in
            try c.query("SELECT * FROM actions WHERE order_ref = ? ORDER BY created_at, key", [orderRef]).rows.map(Self.action)
        }
    }

    public func actionCounts() throws -> [ActionStatus: Int] {
        try autocommit { c in
            var out: [ActionStatus: Int] = [:]
            for r in try c.query("SELECT status, COUNT(*) AS n FROM actions GROUP BY status").rows {
                guard let s = ActionStatus(rawValue: r["status"]) else {
                    throw StoreError("actions: unknown status \(r["status"] as String)")
                }
                out[s] = r["n"]
            }
            return out
        }
    }

    static func action(_ r: PGRow) throws -> ActionRecord { try StoreRows.action(r) }

    public func makeDue(_ selector: ActionSelector, note: String, at: Date) throws -> [String] {
        var sql = "SELECT * FROM actions WHERE status = 'failed'"
        var args: [(any PGBindable)?] = []
        switch selector {
        case .keys(let keys):
            sql += " AND key IN (\(Self.marks(keys.count)))"
            args += keys.isEmpty ? [""] : keys
        case .failed(let kind, let orderRef):
            if let kind {
                sql += " AND kind = ?"
                args.append(kind.rawValue)
            }
            if let orderRef {
                sql += " AND order_ref = ?"
                args.append(orderRef)
            }
        }
        return try write { c in
            var keys: [String] = []
            for r in try c.query(sql + " ORDER BY created_at, key FOR UPDATE", args).rows {
                let a = try Self.action(r)
                try Self.recordEvent(c, key: a.key, event: "made_due", before: a, note: note, at: at)
                try c.query(
                    """
                    UPDATE actions SET status = 'pending', attempts = 0, next_attempt_at = NULL, lease_owner = NULL,
                      lease_until = NULL, last_error = NULL, updated_at = ? WHERE key = ?
                    """, [Self.ms(at), a.key])
                keys.append(a.key)
            }
            return keys
        }
    }

    public func actionEvents(key: String) throws -> [ActionEvent] {
        try autocommit { c in
            try c.query("SELECT * FROM action_events WHERE key = ? ORDER BY seq", [key]).rows.map {
                ActionEvent(
                    key: $0["key"], at: Self.date($0["at"])!, event: $0["event"], statusBefore: $0["status_before"],
                    attemptsBefore: $0["attempts_before"], lastError: $0["last_error"], note: $0["note"])
            }
        }
    }

    static func recordEvent(_ c: PGConnection, key: String, event: String, before a: ActionRecord, note: String?, at: Date) throws {
        try c.query(
            "INSERT INTO action_events(key, at, event, status_before, attempts_before, last_error, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [key, ms(at), event, a.status.rawValue, a.attempts, a.lastError, note])
    }

    public func commitActions(_ commit: ActionCommit, runID: String) throws {
        guard !commit.isEmpty else { return }
        try write { c in
            for item in commit.credentials {
                try c.query(
                    "INSERT INTO customers(customer_id, username, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    [item.customer.customerID, item.customer.username, Self.ms(item.customer.createdAt)])
                if let credential = item.credential {
                    let written = try c.query(
                        StoreSQL.credentialsUpsert,
                        [
                            credential.customerID, credential.tokenHash, Self.ms(credential.expiresAt), Self.ms(credential.issuedAt),
                            credential.orderRef,
                        ])
                    guard written.affected == 1 else { throw CustomerWelcomedElsewhere(customerID: credential.customerID, orderRef: credential.orderRef) }
                }
            }
            try Self.insertAttempts(c, commit.registrationAttempts)
            try Self.insertFacts(c, commit.facts, runID: runID)
            for r in commit.registrations { try Self.writeRegistration(c, r) }
            for a in commit.actions { try Self.writeAction(c, a) }
        }
    }
}
