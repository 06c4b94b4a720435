import CLibPQ
import Foundation

/// One libpq connection, synchronous like the rest of the store. Every statement goes through
/// `query`: parameters are sent apart from the SQL text (never spliced into it), values travel as
/// text, and each distinct SQL text is prepared once per connection. No libpq type leaves this file.
final class PGConnection {
    private let conn: OpaquePointer
    private var prepared: [String: String] = [:]

    /// `url` is a libpq connection string or URI (`postgresql://user@host:5432/db?sslmode=verify-full`);
    /// `password` comes apart from it, from the environment or a file, never from the configuration.
    init(url: String, password: String?) throws {
        var keys = ["dbname", "fallback_application_name", "connect_timeout"]
        var values = [url, "caas-gateway", "10"]
        if let password {
            keys.append("password")
            values.append(password)
        }
        let c = withCStrings(keys) { k in
            withCStrings(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let c else { throw PGError(sqlState: nil, message: "out of memory opening a PostgreSQL connection") }
        guard PQstatus(c) == CONNECTION_OK else {
            let message = Self.firstLine(PQerrorMessage(c))
            PQfinish(c)
            throw PGError(sqlState: nil, message: "cannot connect to PostgreSQL: \(message)")
        }
        caas_pq_quiet(c)
        conn = c
    }

    deinit { PQfinish(conn) }

    /// False once the server went away: the pool drops such a connection instead of reusing it.
    var isUsable: Bool { PQstatus(conn) == CONNECTION_OK }

    /// Runs one statement and returns its rows and how many rows it changed. Parameters are
    /// written `?`, as in the SQLite store's SQL, and numbered `$1…` once, when it is prepared.
    @discardableResult
    func query(_ sql: String, _ params: [(any PGBindable)?] = []) throws -> PGResult {
        let name = try statementName(sql)
        let texts: [String?] = params.map { $0?.pgText }
        let result = withOptionalCStrings(texts) { values in
            PQexecPrepared(conn, name, Int32(texts.count), values, nil, nil, 0)
        }
        return try consume(result, sql: sql)
    }

    /// Several statements without parameters (a migration's DDL), in one round trip.
    func script(_ sql: String) throws {
        _ = try consume(PQexec(conn, sql), sql: sql)
    }

    /// `body` inside BEGIN … COMMIT; any error rolls back. Serialization failures and deadlocks,
    /// which PostgreSQL resolves by aborting one transaction, are retried a few times unless
    /// `body` cannot be run twice.
    func transaction<T>(retrying: Bool = true, _ body: (PGConnection) throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            try script("BEGIN")
            do {
                let value = try body(self)
                try script("COMMIT")
                return value
            } catch let e as PGError where retrying && e.isRetryable && attempt < 5 {
                try? script("ROLLBACK")
                usleep(UInt32.random(in: 1_000...20_000) * UInt32(attempt))
            } catch {
                try? script("ROLLBACK")
                throw error
            }
        }
    }

    private func statementName(_ sql: String) throws -> String {
        if let name = prepared[sql] { return name }
        let name = "s\(prepared.count + 1)"
        _ = try consume(PQprepare(conn, name, Self.numberedParameters(sql), 0, nil), sql: sql)
        prepared[sql] = name
        return name
    }

    private func consume(_ result: OpaquePointer?, sql: String) throws -> PGResult {
        guard let result else {
            throw PGError(sqlState: nil, message: Self.firstLine(PQerrorMessage(conn)))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            break
        default:
            // The primary message only: DETAIL lines quote the row's values (an e-mail, a
            // national id), which never go to a log.
            let state = caas_pq_sqlstate(result).map { String(cString: $0) }
            let message = caas_pq_primary_message(result).map { String(cString: $0) } ?? Self.firstLine(PQerrorMessage(conn))
            throw PGError(sqlState: state, message: message)
        }
        let columnCount = Int(PQnfields(result))
        var columns: [String: Int] = [:]
        for i in 0..<columnCount { columns[String(cString: PQfname(result, Int32(i)))] = i }
        let rowCount = Int(PQntuples(result))
        var rows: [PGRow] = []
        rows.reserveCapacity(rowCount)
        let names = PGColumns(indexes: columns)
        for r in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for c in 0..<columnCount {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
                }
            }
            rows.append(PGRow(columns: names, values: values))
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PGResult(rows: rows, affected: affected)
    }

    /// `?` becomes `$1`, `$2`…, except inside quotes.
    static func numberedParameters(_ sql: String) -> String {
        var out = "", n = 0, quoted = false
        for c in sql {
            if c == "'" { quoted.toggle() }
            if c == "?" && !quoted {
                n += 1
                out += "$\(n)"
            } else {
                out.append(c)
            }
        }
        return out
    }

    private static func firstLine(_ p: UnsafePointer<CChar>?) -> String {
        guard let p else { return "unknown error" }
        return String(cString: p).split(separator: "\n").first.map(String.init) ?? "unknown error"
    }
}

/// A failed statement: SQLSTATE (`23505` a unique key taken, `40001` a serialization failure,
/// `40P01` a deadlock) and the server's primary message, without the row's values.
public struct PGError: Error, CustomStringConvertible, Sendable {
    public let sqlState: String?
    public let message: String

    var isUniqueViolation: Bool { sqlState == "23505" }
    var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" }
    public var description: String { "PostgreSQL: \(message)" + (sqlState.map { " (SQLSTATE \($0))" } ?? "") }
}

struct PGResult {
    let rows: [PGRow]
    /// Rows inserted, updated or deleted.
    let affected: Int
}

final class PGColumns {
    let indexes: [String: Int]
    init(indexes: [String: Int]) { self.indexes = indexes }
}

/// A row as text values, read by column name as the Swift type the column holds.
struct PGRow {
    let columns: PGColumns
    let values: [String?]

    /// A column that is not in the result, or a value that does not read as `T`, is a bug in the
    /// store's SQL, not in the data: it stops at once with the column's name.
    subscript<T: PGDecodable>(_ name: String) -> T {
        guard let i = columns.indexes[name] else { fatalError("PostgreSQL result has no column \(name)") }
        guard let v = T.pgDecode(values[i]) else { fatalError("PostgreSQL column \(name) does not read as \(T.self)") }
        return v
    }
}

/// A Swift value sent as a parameter, as PostgreSQL's text form.
protocol PGBindable {
    var pgText: String { get }
}

extension String: PGBindable { var pgText: String { self } }
extension Int: PGBindable { var pgText: String { String(self) } }
extension Int64: PGBindable { var pgText: String { String(self) } }
/// Stored as an integer 0 or 1, as in SQLite, so both stores have one schema shape.
extension Bool: PGBindable { var pgText: String { self ? "1" : "0" } }
/// A text array (`CAST(? AS ctext[])`), so that one statement takes a whole batch's keys
/// (`= ANY(…)`) instead of one round trip per key.
extension Array: PGBindable where Element == String {
    var pgText: String {
        "{"
            + map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }
}

/// A Swift value read from a column's text form; nil when it does not read.
protocol PGDecodable {
    static func pgDecode(_ text: String?) -> Self?
}

extension String: PGDecodable { static func pgDecode(_ t: String?) -> String? { t } }
extension Int: PGDecodable { static func pgDecode(_ t: String?) -> Int? { t.flatMap { Int($0) } } }
extension Int64: PGDecodable { static func pgDecode(_ t: String?) -> Int64? { t.flatMap { Int64($0) } } }
extension Bool: PGDecodable {
    static func pgDecode(_ t: String?) -> Bool? {
        switch t {
        case "1", "t", "true": return true
        case "0", "f", "false": return false
        default: return nil
        }
    }
}
extension Optional: PGDecodable where Wrapped: PGDecodable {
    static func pgDecode(_ t: String?) -> Wrapped?? {
        guard let t else { return .some(nil) }
        return Wrapped.pgDecode(t).map { .some($0) }
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) } + [nil]
    defer { copies.forEach { free($0) } }
    return copies.map { $0.map { UnsafePointer($0) } }.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let copies = strings.map { $0.map { strdup($0) } ?? nil }
    defer { copies.forEach { free($0) } }
    return copies.map { $0.map { UnsafePointer($0) } }.withUnsafeBufferPointer { body($0.baseAddress) }
}
