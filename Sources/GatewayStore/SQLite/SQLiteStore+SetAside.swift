import Foundation
import GRDB

extension SQLiteStore {
    public func itemDeaths(kind: SetAsideItem.Kind, key: String) throws -> SetAsideItem? {
        try db.read { db in
            try Row.fetchOne(db, sql: SetAsideSQL.one, arguments: [kind.rawValue, key]).map(Self.setAsideItem)
        }
    }

    public func recordItemDeath(_ i: SetAsideItem) throws {
        try db.write { db in
            try db.execute(
                sql: SetAsideSQL.upsert,
                arguments: [
                    i.kind.rawValue, i.key, i.name, i.stage, i.signal.map { Int64($0) }, Int64(i.deaths), i.runID, Self.ms(i.at),
                    i.isSetAside ? 1 : 0,
                ])
        }
    }

    public func setAsideItems() throws -> [SetAsideItem] {
        SetAsideSQL.ordered(try db.read { db in try Row.fetchAll(db, sql: SetAsideSQL.active).map(Self.setAsideItem) })
    }

    public func bringBack(kind: SetAsideItem.Kind, key: String, note: String, at: Date) throws -> SetAsideItem? {
        try db.write { db in
            guard let was = try Row.fetchOne(db, sql: SetAsideSQL.one, arguments: [kind.rawValue, key]).map(Self.setAsideItem),
                was.isSetAside
            else { return nil }
            try db.execute(sql: SetAsideSQL.bringBack, arguments: [note, Self.ms(at), kind.rawValue, key])
            return was
        }
    }

    static func setAsideItem(_ r: Row) throws -> SetAsideItem {
        try StoreRows.setAsideItem(r)
    }
}

/// A GRDB row as the shared decoders read it (`StoreRows`).
extension Row: StoredRowSource {
    func cell(_ column: String) -> StoredCell {
        guard hasColumn(column) else { return .absent }
        switch (self[column] as DatabaseValue).storage {
        case .null: return .null
        case .int64(let i): return .integer(i)
        case .double(let d): return Int64(exactly: d).map(StoredCell.integer) ?? .text(String(d))
        case .string(let s): return .text(s)
        case .blob(let b): return .blob(b)
        }
    }
}
