import Foundation
import GatewayCore

/// What the engine keeps between runs, as one store with every capability. Each capability is
/// a small protocol of its own concern; SQLite implements them all first. The contract is
/// written so that a store shared by several runners (PostgreSQL) can implement them too:
/// - a file is claimed by its content hash inside its ingest transaction (unique row), so two
///   runners never ingest the same file;
/// - facts are idempotent by id;
/// - actions are claimed with a lease (`claimActions`), and an expired lease is taken over;
/// - projections are written per order, after folding that order's facts, and a change mark is
///   cleared by version.
///
/// Each capability and its values live in a file of their own (FactLedger, ProjectionStore,
/// ActionQueue, TransferLedger, RunLog, RegistrationStore in Registration, CustomerStore,
/// CrashLedger in SetAside); a stage asks for the ones it uses.
public protocol GatewayStore:
    FactLedger, ProjectionStore, ActionQueue, TransferLedger, RunLog, RegistrationStore, CustomerStore, CrashLedger
{}

public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
