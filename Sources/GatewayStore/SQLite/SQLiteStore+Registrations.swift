import Foundation
import GRDB
import GatewayCore

extension SQLiteStore {
    public func registration(orderRef: String) throws -> RegistrationRecord? {
        try db.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM registrations WHERE order_ref = ?", arguments: [orderRef]).map(Self.registration)
        }
    }

    public func registrations() throws -> [RegistrationRecord] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM registrations ORDER BY country, order_ref").map(Self.registration)
        }
    }

    public func unfinishedRegistrations() throws -> [RegistrationRecord] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM registrations WHERE phase != 'registered' ORDER BY country, order_ref")
                .map(Self.registration)
        }
    }

    static func insertAttempts(_ db: Database, _ attempts: [RegistrationAttempt]) throws {
        let stmt = try db.cachedStatement(
            sql: """
                INSERT INTO registration_attempts
                  (order_ref, submission_id, country, kind, at, http_status, duration_ms, outcome, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for a in attempts {
            try stmt.execute(arguments: [
                a.orderRef, a.submissionID, a.country, a.kind.rawValue, Self.ms(a.at), a.httpStatus, a.durationMillis, a.outcome, a.detail,
            ])
        }
    }

    public func registrationAttempts(orderRef: String?) throws -> [RegistrationAttempt] {
        try db.read { db in
            let rows =
                try orderRef.map {
                    try Row.fetchAll(db, sql: "SELECT * FROM registration_attempts WHERE order_ref = ? ORDER BY seq", arguments: [$0])
                } ?? Row.fetchAll(db, sql: "SELECT * FROM registration_attempts ORDER BY seq")
            return try rows.map { try StoreRows.registrationAttempt($0) }
        }
    }

    static func writeRegistration(_ db: Database, _ r: RegistrationRecord) throws {
        try db.execute(
            sql: StoreSQL.registrationUpsert,
            arguments: [
                r.orderRef, r.country, r.generation, r.submissionID, r.phase.rawValue, r.plate, r.field, r.reason, ms(r.acceptedAt),
                ms(r.updatedAt),
            ])
    }

    static func registration(_ r: Row) throws -> RegistrationRecord {
        try StoreRows.registration(r)
    }
}
