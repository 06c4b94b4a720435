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
        try SetAsideSQL.item(
            kind: r["kind"], key: r["key"], name: r["name"], stage: r["stage"], signal: r["signal"], deaths: r["deaths"],
            runID: r["run_id"], at: r["at"], aside: r["set_aside"])
    }
}
