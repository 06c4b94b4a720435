import Foundation
import GatewayCore

/// Each order's folded state, its change marks and its review bookkeeping.
extension PostgresStore {
    public func ordersToFold(asOf: Date) throws -> [OrderToFold] {
        try autocommit { c in
            try c.query(
                """
                SELECT order_ref AS ref, version FROM dirty_orders
                UNION ALL SELECT ref, NULL FROM orders WHERE next_deadline_at IS NOT NULL AND next_deadline_at <= ?
                  AND ref NOT IN (SELECT order_ref FROM dirty_orders)
                ORDER BY 1
                """, [Self.ms(asOf)]
            ).rows.map { OrderToFold(ref: $0["ref"], version: $0["version"]) }
        }
    }

    @discardableResult
    public func commitFold(
        _ views: [OrderView], reviews: [String: OrderReview], due: [DueAction], marks: [OrderToFold], at: Date
    ) throws -> Int {
        let rows: [[(any PGBindable)?]] = try views.map { v in
            let deadline = v.state == .awaitingFinalPayment ? v.finalPaymentDueAt : nil
            let review = reviews[v.ref]
            return [
                v.ref, v.state?.rawValue, Self.ms(v.stateSince), v.dealerCode, v.country, Self.ms(deadline),
                v.anomalies.count, try StoreRules.viewJSON(v), Self.ms(at),
                v.currency, v.totalMinor, v.depositMinor, v.receivedMinor, v.amountDueMinor, Self.ms(v.finalPaymentDueAt),
                Self.ms(review?.nextAt), review?.flagged ?? false, v.vin,
            ]
        }
        return try write { c in
            // A batch's rows in a few statements, not a round trip per order.
            for start in stride(from: 0, to: rows.count, by: 200) {
                let chunk = rows[start..<min(start + 200, rows.count)]
                try c.query(
                    StoreSQL.orderUpsert(rows: chunk.count), chunk.flatMap { $0 })
            }
            let clean = views.filter(\.anomalies.isEmpty).map(\.ref)
            if !clean.isEmpty { try c.query("DELETE FROM anomalies WHERE order_ref = ANY(CAST(? AS ctext[]))", [clean]) }
            for v in views where !v.anomalies.isEmpty { try Self.saveAnomalies(c, of: v, at: at) }
            if !views.isEmpty { try c.query("SELECT nextval('projections_version')") }
            let added = try Self.insertDue(c, due, at: at)
            // By version, never blindly: a fact that arrived after the fold read the order keeps its mark.
            let versioned = marks.compactMap { m in m.version.map { (m.ref, $0) } }
            for start in stride(from: 0, to: versioned.count, by: 1000) {
                let chunk = versioned[start..<min(start + 1000, versioned.count)]
                try c.query(
                    """
                    DELETE FROM dirty_orders d
                    USING (VALUES \(Array(repeating: "(CAST(? AS TEXT), CAST(? AS BIGINT))", count: chunk.count).joined(separator: ", "))) v(ref, version)
                    WHERE d.order_ref = v.ref AND d.version = v.version
                    """, chunk.flatMap { [$0.0, $0.1] as [(any PGBindable)?] })
            }
            return added
        }
    }

    static func saveAnomalies(_ c: PGConnection, of v: OrderView, at: Date) throws {
        guard !v.anomalies.isEmpty else {
            try c.query("DELETE FROM anomalies WHERE order_ref = ?", [v.ref])
            return
        }
        let current = Set(v.anomalies.map { "\($0.factID)|\($0.code.rawValue)" })
        for old in try c.query("SELECT fact_id, code FROM anomalies WHERE order_ref = ?", [v.ref]).rows
        where !current.contains("\(old["fact_id"] as String)|\(old["code"] as String)") {
            try c.query(
                "DELETE FROM anomalies WHERE order_ref = ? AND fact_id = ? AND code = ?",
                [v.ref, old["fact_id"] as String, old["code"] as String])
        }
        for a in v.anomalies {
            try c.query(
                """
                INSERT INTO anomalies(order_ref, fact_id, code, message, occurred_at, first_seen_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(order_ref, fact_id, code) DO UPDATE SET message = excluded.message
                """, [v.ref, a.factID, a.code.rawValue, a.message, ms(a.occurredAt), ms(at)])
        }
    }

    public func anomalies() throws -> [StoredAnomaly] {
        try autocommit { c in
            try c.query("SELECT * FROM anomalies ORDER BY first_seen_at, order_ref, occurred_at").rows.map {
                try StoreRows.anomaly($0)
            }
        }
    }

    static func view(_ r: PGRow) throws -> OrderView { try StoreRows.view(r) }

    public func projections() throws -> [OrderView] {
        try autocommit { c in try c.query("SELECT ref, view_json FROM orders ORDER BY ref").rows.map(Self.view) }
    }

    public func ordersForReview(asOf: Date) throws -> [OrderView] {
        try autocommit { c in
            try c.query("SELECT ref, view_json FROM orders WHERE flagged = 1 OR review_at <= ? ORDER BY ref", [Self.ms(asOf)]).rows.map(Self.view)
        }
    }

    public func projectionsVersion() throws -> Int64 {
        try autocommit { c in
            // last_value is 1 before the first nextval; is_called tells the two apart.
            let r = try c.query("SELECT last_value, is_called FROM projections_version").rows[0]
            return (r["is_called"] as Bool) ? r["last_value"] : 0
        }
    }

    public func reviewAll(ifRulesChangedTo fingerprint: String) throws -> Bool {
        try write { c in
            try c.query("SELECT pg_advisory_xact_lock(?)", [PostgresLocks.reviewRules])
            let stored: String? = try c.query("SELECT value FROM settings WHERE key = 'order_rules'").rows.first?["value"]
            guard stored != fingerprint else { return false }
            try c.query("UPDATE orders SET review_at = 0")
            try c.query(
                "INSERT INTO settings(key, value) VALUES ('order_rules', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [fingerprint])
            return true
        }
    }

    public func saveReviews(_ reviews: [String: OrderReview]) throws {
        guard !reviews.isEmpty else { return }
        try write { c in
            for (ref, r) in reviews.sorted(by: { $0.key < $1.key }) {
                try c.query("UPDATE orders SET review_at = ?, flagged = ? WHERE ref = ?", [Self.ms(r.nextAt), r.flagged, ref])
            }
        }
    }

    public func stateAges(asOf: Date) throws -> [StateAge] {
        try autocommit { c in
            // Whole days in the state: as-of day minus entry day (days since 1970, UTC).
            try c.query(
                """
                SELECT state, GREATEST(0, CAST(? AS BIGINT) / 86400000 - COALESCE(state_since, 0) / 86400000) AS days, COUNT(*) AS n
                FROM orders WHERE state IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
                """, [Self.ms(asOf)]
            ).rows.map { StateAge(state: $0["state"], days: $0["days"], count: $0["n"]) }
        }
    }

    public func forEachOrderRow(_ body: (OrderListing) throws -> Void) throws {
        // A page at a time by reference, so a million orders are never one result in memory.
        var after = ""
        while true {
            let rows = try autocommit { c in
                try c.query(
                    """
                    SELECT ref, dealer_code, country, state, state_since, currency, total_minor, deposit_minor, received_minor,
                      amount_due_minor, final_payment_due_at, anomalies FROM orders WHERE state IS NOT NULL AND ref > ?
                    ORDER BY ref LIMIT 2000
                    """, [after]
                ).rows
            }
            for r in rows {
                try body(
                    OrderListing(
                        ref: r["ref"], dealer: r["dealer_code"], country: r["country"], state: r["state"],
                        stateSince: Self.date(r["state_since"]),
                        currency: r["currency"], totalMinor: r["total_minor"], depositMinor: r["deposit_minor"],
                        receivedMinor: r["received_minor"], amountDueMinor: r["amount_due_minor"],
                        finalPaymentDueAt: Self.date(r["final_payment_due_at"]), anomalies: r["anomalies"]))
            }
            guard rows.count == 2000, let last = rows.last else { return }
            after = last["ref"]
        }
    }

    public func states(refs: [String]) throws -> [String: OrderState] {
        guard !refs.isEmpty else { return [:] }
        return try autocommit { c in
            var out: [String: OrderState] = [:]
            for row in try c.query("SELECT ref, state FROM orders WHERE ref = ANY(CAST(? AS ctext[])) AND state IS NOT NULL", [refs]).rows {
                let ref: String = row["ref"], raw: String = row["state"]
                guard let state = OrderState(rawValue: raw) else { throw StoreError("order \(ref) has an unknown state '\(raw)'") }
                out[ref] = state
            }
            return out
        }
    }

    public func projections(refs: [String]) throws -> [String: OrderView] {
        guard !refs.isEmpty else { return [:] }
        return try autocommit { c in
            var out: [String: OrderView] = [:]
            for row in try c.query("SELECT ref, view_json FROM orders WHERE ref = ANY(CAST(? AS ctext[]))", [refs]).rows {
                out[row["ref"]] = try Self.view(row)
            }
            return out
        }
    }

    public func projection(ref: String) throws -> OrderView? {
        try autocommit { c in
            try c.query("SELECT ref, view_json FROM orders WHERE ref = ?", [ref]).rows.first.map(Self.view)
        }
    }
}
