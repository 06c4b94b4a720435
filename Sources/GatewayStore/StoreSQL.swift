/// Statements both stores run with the same text: a table's columns and its conflict rule are
/// then written once, and a column added in one store's migration cannot be missed in the
/// other's writes.
enum StoreSQL {
    /// A customer's activation credential, a fresh one replacing the last one issued for the same
    /// order (a welcome an interrupted run never sent). One issued for another order is left as it
    /// is, and no row changes: another runner welcomed this customer first (`CustomerWelcomedElsewhere`).
    static let credentialsUpsert = """
        INSERT INTO credentials(customer_id, token_hash, expires_at, issued_at, order_ref) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(customer_id) DO UPDATE SET token_hash = excluded.token_hash, expires_at = excluded.expires_at,
          issued_at = excluded.issued_at, order_ref = excluded.order_ref
        WHERE credentials.order_ref = excluded.order_ref
        """

    /// Quarantined files not resent since (a name later taken in whole is dealt with: the
    /// partner resent it), and ingested files with rejected records.
    static let fileProblems = """
        SELECT f.name, f.feed, f.hash, f.status, f.reason, r.as_of,
          (SELECT COUNT(*) FROM rejections x WHERE x.file_hash = f.hash) AS rejected
        FROM files f JOIN runs r ON r.id = f.run_id
        WHERE (f.status IN ('quarantined', 'requeued') AND NOT EXISTS (
                 SELECT 1 FROM files g WHERE g.name = f.name AND g.status = 'ingested' AND g.at > f.at))
           OR (f.status = 'ingested' AND EXISTS (SELECT 1 FROM rejections x WHERE x.file_hash = f.hash))
        ORDER BY r.as_of, f.name
        """

    /// An exception opened, or opened again as new after it was resolved.
    static let exceptionOpened = """
        INSERT INTO exceptions(key, rule, owner, subject, first_seen_at, first_seen_run, resolved_at, resolved_run)
        VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)
        ON CONFLICT(key) DO UPDATE SET rule = excluded.rule, owner = excluded.owner, subject = excluded.subject,
          first_seen_at = excluded.first_seen_at, first_seen_run = excluded.first_seen_run,
          resolved_at = NULL, resolved_run = NULL
        """

    /// A registration as it stands now.
    static let registrationUpsert = """
        INSERT INTO registrations
          (order_ref, country, generation, submission_id, phase, plate, field, reason, accepted_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(order_ref) DO UPDATE SET country = excluded.country, generation = excluded.generation,
          submission_id = excluded.submission_id, phase = excluded.phase, plate = excluded.plate, field = excluded.field,
          reason = excluded.reason, accepted_at = excluded.accepted_at, updated_at = excluded.updated_at
        """

    /// Folded orders' projections and the columns the report and orders.csv read, `rows` orders
    /// in one statement (18 parameters each, in the columns' order).
    static func orderUpsert(rows: Int) -> String {
        let values = Array(repeating: "(" + Array(repeating: "?", count: 18).joined(separator: ", ") + ")", count: rows)
            .joined(separator: ", ")
        return """
            INSERT INTO orders(ref, state, state_since, dealer_code, country, next_deadline_at, anomalies, view_json, folded_at,
              currency, total_minor, deposit_minor, received_minor, amount_due_minor, final_payment_due_at, review_at, flagged, vin)
            VALUES \(values)
            ON CONFLICT(ref) DO UPDATE SET state = excluded.state, state_since = excluded.state_since,
              dealer_code = excluded.dealer_code, country = excluded.country, next_deadline_at = excluded.next_deadline_at,
              anomalies = excluded.anomalies, view_json = excluded.view_json, folded_at = excluded.folded_at,
              currency = excluded.currency, total_minor = excluded.total_minor, deposit_minor = excluded.deposit_minor,
              received_minor = excluded.received_minor, amount_due_minor = excluded.amount_due_minor,
              final_payment_due_at = excluded.final_payment_due_at, review_at = excluded.review_at, flagged = excluded.flagged,
              vin = excluded.vin
            """
    }

    /// One remote file's claim (parameters: source, path,
    /// size, mtime, run, until, then source, path, size, mtime again for the pulled check, and
    /// now; typed, because PostgreSQL cannot tell a bare parameter's type in a SELECT list).
    /// Changes one row when this run may fetch the file.
    static let claimPull = """
        INSERT INTO pull_claims(source, remote_path, size, mtime, run_id, until)
        SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT)
        WHERE NOT EXISTS (
          SELECT 1 FROM pulled_files p WHERE p.source = ? AND p.remote_path = ? AND p.size = ? AND p.mtime = ?)
        ON CONFLICT(source, remote_path, size, mtime) DO UPDATE SET run_id = excluded.run_id, until = excluded.until
        WHERE pull_claims.until < ? OR pull_claims.run_id = excluded.run_id
          OR NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = pull_claims.run_id AND runs.status = 'running')
        """
}
