import Foundation
import GatewayCore

/// A value in a stored row, as either backend hands it over.
enum StoredCell {
    case null
    case integer(Int64)
    case text(String)
    /// Bytes SQLite holds as a blob: read as UTF-8 text (facts' fields are written as bytes).
    case blob(Data)
    /// The query did not select the column: a bug in the store's SQL.
    case absent
}

/// What a backend's row gives the shared decoders: a cell by column name.
protocol StoredRowSource {
    func cell(_ column: String) -> StoredCell
}

/// A stored value this caas-gateway cannot read as what its column holds: the table, the row's
/// key, the column and the value (cut short, and only for short, non-personal columns) are named,
/// so that a corrupted or newer row is an error someone can act on, never another truth.
public struct UnreadableStoredValue: Error, CustomStringConvertible, Sendable, Equatable {
    public let table: String
    public let key: String
    public let column: String
    /// The value as stored, or a description of it when it may hold personal data (JSON).
    public let value: String
    public let expected: String

    public var description: String {
        "the store's \(table) row \(key) has \(column) = \(value), which is not \(expected): was the store written by a newer caas-gateway, or edited by hand? Nothing was changed; restore the row (or the store from its backup) or run the newer version"
    }
}

/// One row read strictly by the decoders both stores share (`StoreRows`): every column is read
/// as its type, a NULL only where the column may hold one, an enum only as one of its cases,
/// JSON only as its type. No default stands in for a value that does not read.
struct StoredRow {
    let source: any StoredRowSource
    let table: String
    /// The column that names the row in messages (its key).
    let keyColumn: String

    init(_ source: any StoredRowSource, table: String, key keyColumn: String) {
        self.source = source
        self.table = table
        self.keyColumn = keyColumn
    }

    var key: String {
        switch source.cell(keyColumn) {
        case .text(let s): return s
        case .integer(let i): return String(i)
        case .blob(let d): return String(decoding: d, as: UTF8.self)
        case .null, .absent: return "(no \(keyColumn))"
        }
    }

    func unreadable(_ column: String, _ value: String, expected: String) -> UnreadableStoredValue {
        UnreadableStoredValue(table: table, key: key, column: column, value: value, expected: expected)
    }

    static func shown(_ s: String) -> String {
        "'" + (s.count > 60 ? String(s.prefix(60)) + "…" : s) + "'"
    }

    func optionalText(_ column: String) throws -> String? {
        switch source.cell(column) {
        case .null: return nil
        case .text(let s): return s
        case .integer(let i): return String(i)
        case .blob(let d):
            guard let s = String(validating: d, as: UTF8.self) else {
                throw unreadable(column, "\(d.count) bytes", expected: "UTF-8 text")
            }
            return s
        case .absent: throw StoreError("the store's query of \(table) did not select \(column) (a bug in caas-gateway)")
        }
    }

    func text(_ column: String) throws -> String {
        guard let s = try optionalText(column) else { throw unreadable(column, "NULL", expected: "a text") }
        return s
    }

    func optionalInteger(_ column: String) throws -> Int64? {
        switch source.cell(column) {
        case .null: return nil
        case .integer(let i): return i
        case .text(let s):
            guard let i = Int64(s) else { throw unreadable(column, Self.shown(s), expected: "an integer") }
            return i
        case .blob(let d): throw unreadable(column, "\(d.count) bytes", expected: "an integer")
        case .absent: throw StoreError("the store's query of \(table) did not select \(column) (a bug in caas-gateway)")
        }
    }

    func integer(_ column: String) throws -> Int64 {
        guard let i = try optionalInteger(column) else { throw unreadable(column, "NULL", expected: "an integer") }
        return i
    }

    func int(_ column: String) throws -> Int {
        let i = try integer(column)
        guard let n = Int(exactly: i) else { throw unreadable(column, String(i), expected: "an integer this machine holds") }
        return n
    }

    func optionalInt(_ column: String) throws -> Int? {
        guard let i = try optionalInteger(column) else { return nil }
        guard let n = Int(exactly: i) else { throw unreadable(column, String(i), expected: "an integer this machine holds") }
        return n
    }

    /// A time, stored as milliseconds since 1970.
    func optionalDate(_ column: String) throws -> Date? {
        try optionalInteger(column).map(Timestamp.date(millis:))
    }

    func date(_ column: String) throws -> Date {
        Timestamp.date(millis: try integer(column))
    }

    func bool(_ column: String) throws -> Bool {
        switch try integer(column) {
        case 0: return false
        case 1: return true
        case let other: throw unreadable(column, String(other), expected: "0 or 1")
        }
    }

    func enumeration<E: RawRepresentable & CaseIterable>(_ column: String, as: E.Type) throws -> E where E.RawValue == String {
        let raw = try text(column)
        guard let value = E(rawValue: raw) else {
            let known = E.allCases.map(\.rawValue).joined(separator: ", ")
            throw unreadable(column, Self.shown(raw), expected: "one of \(known)")
        }
        return value
    }

    /// JSON of type `T`. The value is not shown (it may hold personal data); where it fails is.
    func json<T: Decodable>(_ column: String, as: T.Type, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        let raw = try text(column)
        do { return try decoder.decode(T.self, from: Data(raw.utf8)) } catch let error as DecodingError {
            throw unreadable(column, "\(raw.utf8.count) bytes of JSON that fail \(Self.describe(error))", expected: "a \(T.self)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "at the top" : "at \(p)"
        }
        switch error {
        case .dataCorrupted(let c): return "\(path(c)) (not valid JSON, or a value out of place)"
        case .keyNotFound(let k, let c): return "\(path(c)): no \(k.stringValue)"
        case .typeMismatch(let t, let c): return "\(path(c)): not a \(t)"
        case .valueNotFound(let t, let c): return "\(path(c)): null where a \(t) belongs"
        @unknown default: return "to decode"
        }
    }
}
