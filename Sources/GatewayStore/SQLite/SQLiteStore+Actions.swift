import Foundation
import GRDB
import GatewayCore

/// Actions: the transactional outbox the fold fills, claimed with leases, made due again by an
/// operator, with their history.
extension SQLiteStore {
    /// Inserts the actions that do not exist yet, by idempotency key; returns how many were new.
    static func insertDue(_ db: Database, _ actions: [DueAction], at: Date) throws -> Int {
        let stmt = try db.cachedStatement(
            sql: """
                INSERT INTO actions(key, order_ref, kind, status, attempts, created_at, updated_at)
                VALUES (?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT(key) DO NOTHING
                """)
        var added = 0
        for a in actions {
            try stmt.execute(arguments: [a.idempotencyKey, a.orderRef, a.kind.rawValue, ms(at), ms(at)])
            added += db.changesCount
        }
        return added
    }

    public func claimActions(
        kinds: [DueActionKind], orderRefs: [String]?, runner: String, now: Date, leaseUntil: Date, limit: Int
    ) throws -> [ActionRecord] {
        guard !kinds.isEmpty, orderRefs.map({ !$0.isEmpty }) ?? true else { return [] }
        return try db.write { db in
            let marks = Array(repeating: "?", count: kinds.count).joined(separator: ",")
            var args = StatementArguments(kinds.map(\.rawValue))
            var orders = ""
            if let orderRefs {
                orders = "AND order_ref IN (\(Array(repeating: "?", count: orderRefs.count).joined(separator: ",")))"
                args += StatementArguments(orderRefs)
            }
            args += [Self.ms(now), Self.ms(now), limit]
            // Pending and due, or in flight; either way not under another runner's live lease
            // (a runner that died loses its leases when they expire, or when its run is found
            // interrupted).
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM actions WHERE kind IN (\(marks)) \(orders) AND status IN ('pending', 'in_flight')
                      AND (status = 'in_flight' OR next_attempt_at IS NULL OR next_attempt_at <= ?)
                      AND (lease_until IS NULL OR lease_until < ?)
                    ORDER BY created_at, key LIMIT ?
                    """, arguments: args)
            var out: [ActionRecord] = []
            let lease = try db.cachedStatement(sql: "UPDATE actions SET lease_owner = ?, lease_until = ?, updated_at = ? WHERE key = ?")
            for r in rows {
                var a = try Self.action(r)
                a.leaseOwner = runner
                a.leaseUntil = leaseUntil
                a.updatedAt = now
                try lease.execute(arguments: [runner, Self.ms(leaseUntil), Self.ms(now), a.key])
                out.append(a)
            }
            return out
        }
    }

    public func updateAction(_ a: ActionRecord) throws {
        try db.write { db in try Self.writeAction(db, a) }
    }

    static func writeAction(_ db: Database, _ a: ActionRecord) throws {
        try db.cachedStatement(
            sql: """
                UPDATE actions SET status = ?, attempts = ?, next_attempt_at = ?, lease_owner = ?, lease_until = ?, last_error = ?,
                  outbox_file = ?, result_json = ?, updated_at = ? WHERE key = ?
                """
        ).execute(arguments: [
            a.status.rawValue, a.attempts, ms(a.nextAttemptAt), a.leaseOwner, ms(a.leaseUntil), a.lastError,
            a.outboxFile, a.resultJSON, ms(a.updatedAt), a.key,
        ])
    }

    public func actions(status: ActionStatus?) throws -> [ActionRecord] {
        try db.read { db in
            if let status {
                return try Row.fetchAll(
                    db, sql: "SELECT * FROM actions WHERE status = ? ORDER BY created_at, key", arguments: [status.rawValue]
                ).map(Self.action)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM actions ORDER BY created_at, key").map(Self.action)
        }
    }

    public func actions(orderRef: String) throws -> [ActionRecord] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM actions WHERE order_ref = ? ORDER BY created_at, key", arguments: [orderRef])
                .map(Self.action)
        }
    }

    public func actionCounts() throws -> [ActionStatus: Int] {
        try db.read { db in
            var out: [ActionStatus: Int] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT status, n FROM action_counts WHERE n > 0") {
                guard let s = ActionStatus(rawValue: r["status"]) else {
                    throw StoreError("actions: unknown status \(r["status"] as String)")
                }
                out[s] = r["n"]
            }
            return out
        }
    }

    static func action(_ r: Row) throws -> ActionRecord { try StoreRows.action(r) }

    public func makeDue(_ selector: ActionSelector, note: String, at: Date) throws -> [String] {
        try db.write { db in
            var sql = "SELECT * FROM actions WHERE status = 'failed'"
            var args = StatementArguments()
            switch selector {
            case .keys(let keys):
                sql += " AND key IN (\(Array(repeating: "?", count: max(1, keys.count)).joined(separator: ",")))"
                args += StatementArguments(keys.isEmpty ? [""] : keys)
            case .failed(let kind, let orderRef):
                if let kind {
                    sql += " AND kind = ?"
                    args += [kind.rawValue]
                }
                if let orderRef {
                    sql += " AND order_ref = ?"
                    args += [orderRef]
                }
            }
            let rows = try Row.fetchAll(db, sql: sql + " ORDER BY created_at, key", arguments: args)
            var keys: [String] = []
            for r in rows {
                let a = try Self.action(r)
                try Self.recordEvent(db, key: a.key, event: "made_due", before: a, note: note, at: at)
                // A fresh attempt budget; the failure stays in the history.
                try db.execute(
                    sql: """
                        UPDATE actions SET status = 'pending', attempts = 0, next_attempt_at = NULL, lease_owner = NULL,
                          lease_until = NULL, last_error = NULL, updated_at = ? WHERE key = ?
                        """, arguments: [Self.ms(at), a.key])
                keys.append(a.key)
            }
            return keys
        }
    }

    public func actionEvents(key: String) throws -> [ActionEvent] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM action_events WHERE key = ? ORDER BY seq", arguments: [key]).map {
                ActionEvent(
                    key: $0["key"], at: Self.date($0["at"])!, event: $0["event"], statusBefore: $0["status_before"],
                    attemptsBefore: $0["attempts_before"], lastError: $0["last_error"], note: $0["note"])
            }
        }
    }

    static func recordEvent(_ db: Database, key: String, event: String, before a: ActionRecord, note: String?, at: Date) throws {
        try db.execute(
            sql: """
                INSERT INTO action_events(key, at, event, status_before, attempts_before, last_error, note) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [key, ms(at), event, a.status.rawValue, a.attempts, a.lastError, note])
    }

    public func commitActions(_ c: ActionCommit, runID: String) throws {
        guard !c.isEmpty else { return }
        try db.write { db in
            for item in c.credentials {
                try db.execute(
                    sql: "INSERT INTO customers(customer_id, username, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    arguments: [item.customer.customerID, item.customer.username, Self.ms(item.customer.createdAt)])
                if let credential = item.credential {
                    try db.execute(
                        sql: StoreSQL.credentialsUpsert,
                        arguments: [
                            credential.customerID, credential.tokenHash, Self.ms(credential.expiresAt), Self.ms(credential.issuedAt),
                            credential.orderRef,
                        ])
                    guard db.changesCount == 1 else { throw CustomerWelcomedElsewhere(customerID: credential.customerID, orderRef: credential.orderRef) }
                }
            }
            try Self.insertAttempts(db, c.registrationAttempts)
            try Self.insertFacts(db, c.facts, runID: runID)
            for r in c.registrations { try Self.writeRegistration(db, r) }
            for a in c.actions { try Self.writeAction(db, a) }
        }
    }
}
