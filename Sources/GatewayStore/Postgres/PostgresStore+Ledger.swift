import Foundation
import GatewayCore

/// The file ledger and the fact log.
extension PostgresStore {
    public func ledgerEntry(hash: String) throws -> LedgerEntry? {
        try autocommit { c in try c.query("SELECT * FROM files WHERE hash = ?", [hash]).rows.first.map(Self.ledgerEntry) }
    }

    public func ledgerEntries(named nameOrHash: String) throws -> [LedgerEntry] {
        let hex = nameOrHash.lowercased()
        let byHash = hex.count >= 8 && hex.allSatisfy(\.isHexDigit)
        return try autocommit { c in
            try c.query(
                byHash ? "SELECT * FROM files WHERE hash LIKE ? || '%' ORDER BY at" : "SELECT * FROM files WHERE name = ? ORDER BY at",
                [byHash ? hex : nameOrHash]
            ).rows.map(Self.ledgerEntry)
        }
    }

    static func ledgerEntry(_ r: PGRow) throws -> LedgerEntry { try StoreRows.ledgerEntry(r) }

    public func requeueFile(hash: String, note: String, at: Date) throws -> LedgerEntry? {
        try write { c in
            guard let r = try c.query("SELECT * FROM files WHERE hash = ? FOR UPDATE", [hash]).rows.first else { return nil }
            let before = try Self.ledgerEntry(r)
            guard before.status != .requeued else { return before }
            let seq: Int64 = try c.query(
                """
                INSERT INTO file_requeues(hash, name, feed, status_before, reason_before, counts_before, run_before, at_before, note, at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq
                """,
                [
                    hash, before.name, before.feed, before.status.rawValue, before.reason, r["counts_json"] as String, before.runID,
                    r["at"] as Int64, note, Self.ms(at),
                ]
            ).rows[0]["seq"]
            try c.query(
                """
                INSERT INTO requeued_rejections(requeue_seq, record_no, line, field, reason, record_ref)
                  SELECT CAST(? AS BIGINT), record_no, line, field, reason, record_ref FROM rejections WHERE file_hash = ? ORDER BY seq
                """, [seq, hash])
            try c.query("DELETE FROM rejections WHERE file_hash = ?", [hash])
            try c.query("UPDATE files SET status = 'requeued' WHERE hash = ?", [hash])
            return before
        }
    }

    public func recordSighting(_ s: FileSighting) throws {
        try autocommit { c in try Self.insertSighting(c, s) }
    }

    static func insertSighting(_ c: PGConnection, _ s: FileSighting) throws {
        try c.query(
            "INSERT INTO file_sightings(run_id, hash, name, feed, outcome, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [s.runID, s.hash, s.name, s.feed, s.outcome.rawValue, s.detail, ms(s.at)])
    }

    public func sightings(runIDs: [String]) throws -> [FileSighting] {
        guard !runIDs.isEmpty else { return [] }
        return try autocommit { c in
            try c.query("SELECT * FROM file_sightings WHERE run_id IN (\(Self.marks(runIDs.count))) ORDER BY seq", runIDs).rows.map {
                try StoreRows.sighting($0)
            }
        }
    }

    public func ingestFile(
        _ file: IncomingFile, runID: String, at: Date,
        _ body: (inout any FactWriter) throws -> Void
    ) throws -> IngestCounts {
        // Not retried on a serialization failure: `body` reads the file as it goes.
        try pool.with { c in
            try c.transaction(retrying: false) { c in
                // The claim: another runner inserting the same hash waits here for this
                // transaction, then finds the hash taken. A requeued file is claimed again.
                let claimed = try c.query(
                    """
                    INSERT INTO files(hash, feed, name, size, status, counts_json, run_id, at) VALUES (?, ?, ?, ?, 'ingesting', '{}', ?, ?)
                    ON CONFLICT(hash) DO UPDATE SET feed = excluded.feed, name = excluded.name, status = 'ingesting',
                      counts_json = '{}', reason = NULL, run_id = excluded.run_id, at = excluded.at
                    WHERE files.status = 'requeued'
                    RETURNING id
                    """,
                    [file.hash, file.feed, file.name, file.size, runID, Self.ms(at)])
                guard let fileID: Int64 = claimed.rows.first?["id"] else { throw FileAlreadyClaimed(hash: file.hash) }
                var writer: any FactWriter = PostgresFactWriter(c: c, file: file, fileID: fileID, runID: runID)
                try body(&writer)
                let counts = (writer as! PostgresFactWriter).counts
                // Orders with new facts are marked once per file, not once per fact.
                try c.query(
                    """
                    INSERT INTO dirty_orders(order_ref, version) SELECT DISTINCT order_ref, 1 FROM facts WHERE file_id = ? AND order_ref <> ''
                    ON CONFLICT(order_ref) DO UPDATE SET version = dirty_orders.version + 1
                    """, [fileID])
                let json = String(decoding: try JSONEncoder().encode(counts), as: UTF8.self)
                try c.query("UPDATE files SET status = 'ingested', counts_json = ? WHERE id = ?", [json, fileID])
                try Self.insertSighting(
                    c,
                    FileSighting(runID: runID, hash: file.hash, name: file.name, feed: file.feed, outcome: .ingested, detail: nil, at: at))
                return counts
            }
        }
    }

    public func quarantine(_ file: IncomingFile, runID: String, at: Date, reason: String) throws {
        try write { c in
            try c.query(
                """
                INSERT INTO files(hash, feed, name, size, status, counts_json, reason, run_id, at) VALUES (?, ?, ?, ?, 'quarantined', '{}', ?, ?, ?)
                ON CONFLICT(hash) DO UPDATE SET feed = excluded.feed, name = excluded.name, status = 'quarantined',
                  counts_json = '{}', reason = excluded.reason, run_id = excluded.run_id, at = excluded.at
                WHERE files.status = 'requeued'
                """, [file.hash, file.feed, file.name, file.size, reason, runID, Self.ms(at)])
            try Self.insertSighting(
                c,
                FileSighting(runID: runID, hash: file.hash, name: file.name, feed: file.feed, outcome: .quarantined, detail: reason, at: at)
            )
        }
    }

    public func sequenceGaps() throws -> [SequenceGap] {
        let rows = try autocommit { c in try c.query("SELECT feed, scope, number FROM feed_sequences ORDER BY feed, scope, number").rows }
        return StoreRules.gaps(rows.map { (feed: $0["feed"], scope: $0["scope"], number: $0["number"]) })
    }

    public func rejections(fileHash: String) throws -> [Rejection] {
        try autocommit { c in
            try c.query("SELECT * FROM rejections WHERE file_hash = ? ORDER BY record_no, seq", [fileHash]).rows.map(Self.rejection)
        }
    }

    static func rejection(_ r: PGRow) throws -> Rejection { try StoreRows.rejection(r) }

    public func fileProblems() throws -> [ProblemFile] {
        try autocommit { c in
            let rows = try c.query(
                StoreSQL.fileProblems
            ).rows
            return try rows.map { r in
                let hash: String = r["hash"]
                let first = try c.query("SELECT * FROM rejections WHERE file_hash = ? ORDER BY record_no, seq LIMIT 1", [hash]).rows.first
                return ProblemFile(
                    name: r["name"], feed: r["feed"], hash: hash, arrivedAt: Self.date(r["as_of"])!,
                    quarantineReason: StoreRules.problemReason(status: r["status"], reason: r["reason"]), rejected: r["rejected"],
                    firstRejection: try first.map(Self.rejection))
            }
        }
    }

    public func feedArrivals() throws -> [String: [Date]] {
        try autocommit { c in
            var out: [String: [Date]] = [:]
            for r in try c.query(
                """
                SELECT f.feed AS feed, r.as_of AS as_of FROM files f JOIN runs r ON r.id = f.run_id
                WHERE f.status = 'ingested' ORDER BY r.as_of
                """
            ).rows {
                out[r["feed"], default: []].append(Self.date(r["as_of"])!)
            }
            return out
        }
    }

    // MARK: Facts

    static let factsOfOrder = """
        SELECT facts.*, files.hash AS file_hash, files.name AS file_name FROM facts
        LEFT JOIN files ON files.id = facts.file_id WHERE order_ref = ? ORDER BY occurred_at, facts.id
        """

    public func facts(orderRef: String) throws -> [Fact] {
        try autocommit { c in try c.query(Self.factsOfOrder, [orderRef]).rows.map(Self.fact) }
    }

    public func facts(orderRefs: [String]) throws -> [String: [Fact]] {
        guard !orderRefs.isEmpty else { return [:] }
        return try autocommit { c in
            var out: [String: [Fact]] = [:]
            for ref in orderRefs { out[ref] = [] }
            let rows = try c.query(
                """
                SELECT facts.*, files.hash AS file_hash, files.name AS file_name FROM facts
                LEFT JOIN files ON files.id = facts.file_id WHERE order_ref = ANY(CAST(? AS ctext[]))
                ORDER BY order_ref, occurred_at, facts.id
                """, [Array(Set(orderRefs))]
            ).rows
            for r in rows { out[r["order_ref"], default: []].append(try Self.fact(r)) }
            return out
        }
    }

    public func unplacedPayments() throws -> [Fact] { try facts(orderRef: "") }

    public func stockSale(orderRef: String) throws -> StockSale? {
        try autocommit { c in
            try c.query("SELECT * FROM stock_sales WHERE order_ref = ? ORDER BY seq DESC LIMIT 1", [orderRef]).rows.first.map {
                StockSale(vin: $0["vin"], orderRef: $0["order_ref"], releasedBy: $0["released_by"], claimedAt: Self.date($0["claimed_at"])!)
            }
        }
    }

    static func fact(_ r: PGRow) throws -> Fact { try StoreRows.fact(r) }

    public func appendFacts(_ facts: [Fact], runID: String) throws {
        try write { c in try Self.insertFacts(c, facts, runID: runID) }
    }

    /// Facts the gateway produced, each new one marking its order changed.
    static func insertFacts(_ c: PGConnection, _ facts: [Fact], runID: String) throws {
        for f in facts where try insertFact(c, f, fileID: nil, runID: runID) { try markChanged(c, f.orderRef) }
    }

    /// Inserts the fact unless its id is known; true when it was new.
    static func insertFact(_ c: PGConnection, _ f: Fact, fileID: Int64?, runID: String) throws -> Bool {
        let p = f.provenance
        return try c.query(
            """
            INSERT INTO facts(id, order_ref, kind, occurred_at, fields, file_id, record_no, line, mapping, mapping_version, action, run_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING
            """,
            [
                f.id, f.orderRef, f.kind.rawValue, ms(f.occurredAt), FactFieldsCodec.encode(f.fields), fileID, p.record, p.line,
                p.mapping, p.mappingVersion, p.action, runID,
            ]
        ).affected > 0
    }

    static func markChanged(_ c: PGConnection, _ ref: String) throws {
        try c.query(
            """
            INSERT INTO dirty_orders(order_ref, version) VALUES (?, 1)
            ON CONFLICT(order_ref) DO UPDATE SET version = dirty_orders.version + 1
            """, [ref])
    }
}

/// The per-file writer, inside the file's transaction: facts by id (a repeat is counted, a
/// changed repeat is rejected), sequence numbers, stock claims and rejections.
struct PostgresFactWriter: FactWriter {
    let c: PGConnection
    let file: IncomingFile
    let fileID: Int64
    let runID: String
    var counts = IngestCounts()

    init(c: PGConnection, file: IncomingFile, fileID: Int64, runID: String) {
        self.c = c
        self.file = file
        self.fileID = fileID
        self.runID = runID
    }

    mutating func add(_ fact: Fact) throws -> FactWriteResult {
        counts.records += 1
        counts.accepted += 1
        if try PostgresStore.insertFact(c, fact, fileID: fileID, runID: runID) {
            counts.factsNew += 1
            return .inserted
        }
        let existing = try c.query(
            "SELECT facts.fields, files.name AS file_name FROM facts LEFT JOIN files ON files.id = facts.file_id WHERE facts.id = ?",
            [fact.id]
        ).rows.first
        if let existing, (existing["fields"] as String) != FactFieldsCodec.encode(fact.fields) {
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
        // Inserted unless taken; a runner ingesting another file with the same number at once
        // waits for it here, then finds it taken.
        let taken =
            try c.query(
                "INSERT INTO feed_sequences(feed, scope, number, file_hash) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [file.feed, scope, number, file.hash]
            ).affected == 0
        guard taken,
            let holder = try c.query(
                """
                SELECT s.file_hash, f.name, f.at FROM feed_sequences s LEFT JOIN files f ON f.hash = s.file_hash
                WHERE s.feed = ? AND s.scope = ? AND s.number = ?
                """, [file.feed, scope, number]
            ).rows.first
        else { return }
        guard (holder["file_hash"] as String) != file.hash else { return }
        throw SequenceNumberTaken(
            scope: scope, number: number, byFile: holder["name"] ?? "an earlier file", at: PostgresStore.date(holder["at"] as Int64?))
    }

    mutating func skip() {
        counts.records += 1
        counts.skipped += 1
    }

    mutating func claimStockVehicle(vin: String, for orderRef: String, saleFact: String, asOf: Date) throws -> StockClaim {
        // One claim of a VIN at a time across runners: a second sale of it waits for this
        // file's transaction and then sees its claim.
        try c.query("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", ["stock:" + vin])
        if let mine = try c.query("SELECT released_by FROM stock_sales WHERE vin = ? AND order_ref = ?", [vin, orderRef]).rows.first {
            return .alreadyClaimed(releasedBy: mine["released_by"])
        }
        let claimants = Set(
            try c.query("SELECT order_ref FROM stock_sales WHERE vin = ? AND order_ref <> ?", [vin, orderRef]).rows.map {
                $0["order_ref"] as String
            })
        let orders = try c.query("SELECT ref, state, final_payment_due_at FROM orders WHERE vin = ? AND ref <> ?", [vin, orderRef]).rows
            .map {
                (ref: $0["ref"] as String, state: $0["state"] as String?, windowClosesAt: PostgresStore.date($0["final_payment_due_at"]))
            }
        let outcome = StockHolder.decide(StoreRules.stockHolders(orders: orders, claimants: claimants), asOf: asOf)
        if case .claimed(let releasedBy) = outcome {
            try c.query(
                "INSERT INTO stock_sales(vin, order_ref, released_by, sale_fact, claimed_at) VALUES (?, ?, ?, ?, ?)",
                [vin, orderRef, releasedBy, saleFact, PostgresStore.ms(asOf)])
        }
        return outcome
    }

    mutating func withdrawStockClaim(vin: String, for orderRef: String) throws {
        try c.query("DELETE FROM stock_sales WHERE vin = ? AND order_ref = ?", [vin, orderRef])
    }

    mutating func reject(_ problems: [Rejection]) throws {
        counts.records += 1
        counts.rejected += 1
        for r in problems {
            try c.query(
                "INSERT INTO rejections(file_hash, record_no, line, field, reason, record_ref) VALUES (?, ?, ?, ?, ?, ?)",
                [file.hash, r.record, r.line, r.field, r.reason, r.recordRef])
        }
    }
}
