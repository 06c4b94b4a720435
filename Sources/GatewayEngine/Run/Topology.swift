import Foundation
import GatewayStore

/// What depends on the deployment, decided once from the configuration: a single runner on its
/// own SQLite store, or runners sharing one PostgreSQL store. Nothing else in the engine asks
/// which store it has; it asks the topology how to share work.
struct Topology {
    /// The store, as every stage uses it.
    let store: any GatewayStore
    /// The PostgreSQL store, when runners share one (`store copy` writes into it).
    let shared: PostgresStore?
    /// Orders folded (and, with a shared store, held while the runner acts on them) per transaction.
    let foldBatch: Int
    /// Actions of a kind claimed at a time, given what one pass may take.
    let claim: (Int) -> Int
    /// Claims of one kind a pass may make: alone, one claims the whole batch at once; sharing, a
    /// full claim may have left more behind, so the runner claims again until one is not full.
    let claimsPerPass: Int

    /// Orders a runner folds and holds at a time with a shared store: smaller batches let the
    /// others take the next ones instead of waiting for one runner's 500.
    static let sharedFoldBatch = 50
    /// Actions a runner claims at a time from a shared store, so that a backlog is spread over
    /// every runner instead of leased whole to the first.
    static let sharedClaim = 100
    /// Claims of one kind in one pass, at most, with a shared store: a bound, not a number reached.
    static let maxClaimsPerPass = 10_000

    /// Opens the store the configuration names. Queries neither migrate nor wait: a PostgreSQL
    /// store a newer runner migrated is refused, not changed, and a SQLite store is opened
    /// read-only (an empty one in memory where nothing has run yet).
    static func open(_ config: GatewayConfig, access: Gateway.Access) throws -> Topology {
        if let pg = config.postgres {
            let store = try PostgresStore(url: pg.url, password: try pg.password?.resolve(), migrate: access == .write)
            return Topology(
                store: store, shared: store, foldBatch: sharedFoldBatch, claim: { min($0, sharedClaim) }, claimsPerPass: maxClaimsPerPass)
        }
        let store: SQLiteStore
        switch access {
        case .write: store = try SQLiteStore(path: config.storePath)
        case .read where !FileManager.default.fileExists(atPath: config.storePath): store = try SQLiteStore(path: ":memory:")
        case .read: store = try SQLiteStore(readOnlyAt: config.storePath)
        }
        return Topology(store: store, shared: nil, foldBatch: 500, claim: { $0 }, claimsPerPass: 1)
    }
}
