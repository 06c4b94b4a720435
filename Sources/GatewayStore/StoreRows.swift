import Foundation
import GatewayCore

/// Every row decoder of the stores, written once over `StoredRow`: both backends hand their rows
/// here, so a column added, renamed or read more strictly changes one place. Each decoder names
/// its table and the column that identifies a row in messages, the same for both backends.
enum StoreRows {
    static func run(_ row: any StoredRowSource) throws -> RunRecord {
        let r = StoredRow(row, table: "runs", key: "id")
        return RunRecord(
            id: try r.text("id"), command: try r.text("command"), asOf: try r.date("as_of"), startedAt: try r.date("started_at"),
            finishedAt: try r.optionalDate("finished_at"), status: try r.text("status"), summaryJSON: try r.optionalText("summary_json"),
            runner: try r.optionalText("runner"))
    }

    static func ledgerEntry(_ row: any StoredRowSource) throws -> LedgerEntry {
        let r = StoredRow(row, table: "files", key: "hash")
        return LedgerEntry(
            hash: try r.text("hash"), feed: try r.text("feed"), name: try r.text("name"), status: try r.enumeration("status", as: FileStatus.self),
            counts: try r.json("counts_json", as: IngestCounts.self), reason: try r.optionalText("reason"), runID: try r.text("run_id"),
            at: try r.date("at"))
    }

    static func sighting(_ row: any StoredRowSource) throws -> FileSighting {
        let r = StoredRow(row, table: "file_sightings", key: "seq")
        return FileSighting(
            runID: try r.text("run_id"), hash: try r.text("hash"), name: try r.text("name"), feed: try r.optionalText("feed"),
            outcome: try r.enumeration("outcome", as: FileSighting.Outcome.self), detail: try r.optionalText("detail"), at: try r.date("at"))
    }

    static func rejection(_ row: any StoredRowSource) throws -> Rejection {
        let r = StoredRow(row, table: "rejections", key: "file_hash")
        return Rejection(
            record: try r.int("record_no"), line: try r.int("line"), field: try r.optionalText("field"), reason: try r.text("reason"),
            recordRef: try r.optionalText("record_ref"))
    }

    static func fact(_ row: any StoredRowSource) throws -> Fact {
        let r = StoredRow(row, table: "facts", key: "id")
        let prov = Provenance(
            fileHash: try r.optionalText("file_hash"), fileName: try r.optionalText("file_name"), record: try r.optionalInt("record_no"),
            line: try r.optionalInt("line"), mapping: try r.optionalText("mapping"), mappingVersion: try r.optionalInt("mapping_version"),
            action: try r.optionalText("action"))
        let payload = try r.text("fields")
        let fields: FactFields
        do { fields = try FactFieldsCodec.decode(payload) } catch {
            throw r.unreadable("fields", "\(payload.utf8.count) bytes that do not decode (\(error))", expected: "a fact's fields as JSON")
        }
        return Fact(
            id: try r.text("id"), orderRef: try r.text("order_ref"), kind: try r.enumeration("kind", as: FactKind.self),
            occurredAt: try r.date("occurred_at"), fields: fields, provenance: prov)
    }

    static func anomaly(_ row: any StoredRowSource) throws -> StoredAnomaly {
        let r = StoredRow(row, table: "anomalies", key: "order_ref")
        return StoredAnomaly(
            orderRef: try r.text("order_ref"),
            anomaly: Anomaly(
                code: try r.enumeration("code", as: Anomaly.Code.self), factID: try r.text("fact_id"), occurredAt: try r.date("occurred_at"),
                message: try r.text("message")),
            firstSeenAt: try r.date("first_seen_at"))
    }

    static func view(_ row: any StoredRowSource) throws -> OrderView {
        let r = StoredRow(row, table: "orders", key: "ref")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try r.json("view_json", as: OrderView.self, decoder: decoder)
    }

    static func action(_ row: any StoredRowSource) throws -> ActionRecord {
        let r = StoredRow(row, table: "actions", key: "key")
        let key = try r.text("key")
        let (kind, status) = try StoreRules.actionKindAndStatus(try r.text("kind"), status: try r.text("status"), key: key)
        return ActionRecord(
            key: key, orderRef: try r.text("order_ref"), kind: kind, status: status, attempts: try r.int("attempts"),
            nextAttemptAt: try r.optionalDate("next_attempt_at"), leaseOwner: try r.optionalText("lease_owner"),
            leaseUntil: try r.optionalDate("lease_until"), lastError: try r.optionalText("last_error"),
            outboxFile: try r.optionalText("outbox_file"), resultJSON: try r.optionalText("result_json"), createdAt: try r.date("created_at"),
            updatedAt: try r.date("updated_at"))
    }

    static func exception(_ row: any StoredRowSource) throws -> TrackedException {
        let r = StoredRow(row, table: "exceptions", key: "key")
        return TrackedException(
            key: try r.text("key"), rule: try r.text("rule"), owner: try r.text("owner"), subject: try r.text("subject"),
            firstSeenAt: try r.date("first_seen_at"), firstSeenRun: try r.text("first_seen_run"), resolvedAt: try r.optionalDate("resolved_at"),
            resolvedRun: try r.optionalText("resolved_run"))
    }

    static func registration(_ row: any StoredRowSource) throws -> RegistrationRecord {
        let r = StoredRow(row, table: "registrations", key: "order_ref")
        return RegistrationRecord(
            orderRef: try r.text("order_ref"), country: try r.text("country"), generation: try r.int("generation"),
            submissionID: try r.text("submission_id"), phase: try r.enumeration("phase", as: RegistrationRecord.Phase.self),
            plate: try r.optionalText("plate"), field: try r.optionalText("field"), reason: try r.optionalText("reason"),
            acceptedAt: try r.optionalDate("accepted_at"), updatedAt: try r.date("updated_at"))
    }

    static func registrationAttempt(_ row: any StoredRowSource) throws -> RegistrationAttempt {
        let r = StoredRow(row, table: "registration_attempts", key: "seq")
        return RegistrationAttempt(
            orderRef: try r.text("order_ref"), submissionID: try r.text("submission_id"), country: try r.text("country"),
            kind: try r.enumeration("kind", as: RegistrationAttempt.Kind.self), at: try r.date("at"), httpStatus: try r.optionalInt("http_status"),
            durationMillis: try r.int("duration_ms"), outcome: try r.text("outcome"), detail: try r.optionalText("detail"))
    }

    static func transfer(_ row: any StoredRowSource) throws -> TransferRecord {
        let r = StoredRow(row, table: "transfers", key: "seq")
        return TransferRecord(
            runID: try r.text("run_id"), direction: try r.text("direction"), endpoint: try r.text("endpoint"), name: try r.optionalText("name"),
            outcome: try r.enumeration("outcome", as: TransferRecord.Outcome.self), detail: try r.optionalText("detail"),
            bytes: try r.integer("bytes"), at: try r.date("at"))
    }

    static func setAsideItem(_ row: any StoredRowSource) throws -> SetAsideItem {
        let r = StoredRow(row, table: "set_aside", key: "key")
        return SetAsideItem(
            kind: try r.enumeration("kind", as: SetAsideItem.Kind.self), key: try r.text("key"), name: try r.text("name"),
            stage: try r.text("stage"), signal: try r.optionalInt("signal"), deaths: try r.int("deaths"), runID: try r.text("run_id"),
            at: try r.date("at"), isSetAside: try r.bool("set_aside"))
    }
}
