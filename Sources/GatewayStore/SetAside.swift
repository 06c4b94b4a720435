import Foundation
import GatewayCore

/// A file or an order whose handling killed the gateway's process (a trap, a bad access, a
/// kill), as the next run found it in the run's "working on" mark; and whether it is set aside,
/// that is, left alone by every run until an operator brings it back (`requeue` for a file,
/// `retry fold:<ref>` for an order).
public struct SetAsideItem: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// An inbox file: `key` is its SHA-256, `name` its path under the inbox.
        case file
        /// An order: `key` and `name` are its reference.
        case order
    }

    public let kind: Kind
    public let key: String
    public let name: String
    /// What the process was doing with it: `read` or `archive` for a file; `fold`, `expediente`,
    /// `review` or `due actions` for an order.
    public let stage: String
    /// The fatal signal the process received, if it lived to write it (SIGKILL and a power loss
    /// leave none).
    public let signal: Int?
    /// Deaths while handling it since it was last brought back, this one included.
    public let deaths: Int
    /// The run that died.
    public let runID: String
    /// When the next run found the death (its as-of time).
    public let at: Date
    public let isSetAside: Bool

    public init(kind: Kind, key: String, name: String, stage: String, signal: Int?, deaths: Int, runID: String, at: Date, isSetAside: Bool) {
        self.kind = kind
        self.key = key
        self.name = name
        self.stage = stage
        self.signal = signal
        self.deaths = deaths
        self.runID = runID
        self.at = at
        self.isSetAside = isSetAside
    }
}

/// The deaths of items and the items set aside, shared by every runner of a store: a poisoned
/// order one runner found is left alone by all of them.
public protocol CrashLedger: Sendable {
    /// What is known of the item's deaths, set aside or not.
    func itemDeaths(kind: SetAsideItem.Kind, key: String) throws -> SetAsideItem?
    /// Records a death as the engine judged it (replacing what was known of the item).
    func recordItemDeath(_ item: SetAsideItem) throws
    /// Items set aside now, oldest first.
    func setAsideItems() throws -> [SetAsideItem]
    /// Brings an item back: it is handled again, with no deaths counted. Returns what it was,
    /// or nil when it was not set aside.
    func bringBack(kind: SetAsideItem.Kind, key: String, note: String, at: Date) throws -> SetAsideItem?
}

/// The statements of the crash ledger, the same text on both stores.
enum SetAsideSQL {
    /// The table, in both stores' migrations (BIGINT is SQLite's INTEGER).
    static let table = """
        CREATE TABLE set_aside (
            kind TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, stage TEXT NOT NULL, signal BIGINT,
            deaths BIGINT NOT NULL, run_id TEXT NOT NULL, at BIGINT NOT NULL, set_aside BIGINT NOT NULL,
            note TEXT, brought_back_at BIGINT, PRIMARY KEY (kind, key))
        """

    static let columns = "kind, key, name, stage, signal, deaths, run_id, at, set_aside"

    static let upsert = """
        INSERT INTO set_aside(\(columns), note, brought_back_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)
        ON CONFLICT(kind, key) DO UPDATE SET name = excluded.name, stage = excluded.stage, signal = excluded.signal,
          deaths = excluded.deaths, run_id = excluded.run_id, at = excluded.at, set_aside = excluded.set_aside
        """

    static let one = "SELECT \(columns) FROM set_aside WHERE kind = ? AND key = ?"
    static let active = "SELECT \(columns) FROM set_aside WHERE set_aside = 1"
    static let bringBack = """
        UPDATE set_aside SET set_aside = 0, deaths = 0, note = ?, brought_back_at = ? WHERE kind = ? AND key = ? AND set_aside = 1
        """

    /// Oldest first, the same on both stores (PostgreSQL's text order follows its locale).
    static func ordered(_ items: [SetAsideItem]) -> [SetAsideItem] {
        items.sorted { (Timestamp.millis($0.at), $0.kind.rawValue, $0.key) < (Timestamp.millis($1.at), $1.kind.rawValue, $1.key) }
    }
}
