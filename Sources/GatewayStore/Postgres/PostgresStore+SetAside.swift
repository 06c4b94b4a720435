import Foundation

extension PostgresStore {
    public func itemDeaths(kind: SetAsideItem.Kind, key: String) throws -> SetAsideItem? {
        try autocommit { c in try c.query(SetAsideSQL.one, [kind.rawValue, key]).rows.first.map(Self.setAsideItem) }
    }

    public func recordItemDeath(_ i: SetAsideItem) throws {
        try write { c in
            try c.query(
                SetAsideSQL.upsert,
                [
                    i.kind.rawValue, i.key, i.name, i.stage, i.signal.map { Int64($0) }, Int64(i.deaths), i.runID, Self.ms(i.at),
                    Int64(i.isSetAside ? 1 : 0),
                ])
        }
    }

    public func setAsideItems() throws -> [SetAsideItem] {
        SetAsideSQL.ordered(try autocommit { c in try c.query(SetAsideSQL.active).rows.map(Self.setAsideItem) })
    }

    public func bringBack(kind: SetAsideItem.Kind, key: String, note: String, at: Date) throws -> SetAsideItem? {
        try write { c in
            guard let was = try c.query(SetAsideSQL.one + " FOR UPDATE", [kind.rawValue, key]).rows.first.map(Self.setAsideItem),
                was.isSetAside
            else { return nil }
            try c.query(SetAsideSQL.bringBack, [note, Self.ms(at), kind.rawValue, key])
            return was
        }
    }

    static func setAsideItem(_ r: PGRow) throws -> SetAsideItem {
        try StoreRows.setAsideItem(r)
    }
}

/// A PostgreSQL row (every value in its text form) as the shared decoders read it (`StoreRows`).
extension PGRow: StoredRowSource {
    func cell(_ column: String) -> StoredCell {
        guard let i = columns.indexes[column] else { return .absent }
        return values[i].map(StoredCell.text) ?? .null
    }
}
