import Foundation
import GatewayCore

extension TransferLedger {
    /// One file's claim (`claimPulls`).
    public func claimPull(source: String, remotePath: String, size: Int64, mtime: Int64, runID: String, now: Date, until: Date) throws
        -> Bool
    {
        try claimPulls(source: source, files: [(remotePath, size, mtime)], runID: runID, now: now, until: until).contains(remotePath)
    }
}

/// Runs, and the reconciliation exceptions they opened and resolved.
public protocol RunLog: Sendable {
    func beginRun(_ run: RunRecord) throws
    func finishRun(id: String, status: String, summaryJSON: String, finishedAt: Date) throws
    func runs(onDay day: String) throws -> [RunRecord]
    /// Runs of `runner` still marked running, other than `current`: with the runner's lock held
    /// they are dead. Marks them interrupted, frees their leases, and returns their ids.
    func interruptDeadRuns(runner: String, except current: String, at: Date) throws -> [String]

    /// Runs `body` while no other runner does the same cluster-wide `work` (the daily report and
    /// its exception bookkeeping), waiting for its turn.
    func exclusively<T>(_ work: String, _ body: () throws -> T) throws -> T

    /// Exceptions seen open by the last tracked run.
    func openExceptions() throws -> [TrackedException]
    /// Exceptions that opened (or reopened) and that were resolved, in one transaction.
    func recordExceptions(opened: [TrackedException], resolved: [TrackedException]) throws
    /// Keys an operator dismissed: never opened again.
    func dismissedExceptionKeys() throws -> Set<String>
    /// An operator closes an open exception nothing in the data can resolve; false when no open
    /// exception has the key.
    func dismissException(key: String, note: String, at: Date) throws -> Bool
    /// Openings, resolutions and dismissals between `from` (inclusive) and `to`, oldest first.
    func exceptionEvents(from: Date, to: Date) throws -> [ExceptionEvent]
}

public struct RunRecord: Sendable, Equatable {
    public let id: String
    public let command: String
    public let asOf: Date
    public let startedAt: Date
    public var finishedAt: Date?
    public var status: String
    public var summaryJSON: String?
    /// The runner (host) that started it.
    public var runner: String?

    public init(
        id: String, command: String, asOf: Date, startedAt: Date, finishedAt: Date? = nil, status: String = "running",
        summaryJSON: String? = nil, runner: String? = nil
    ) {
        self.runner = runner
        self.id = id
        self.command = command
        self.asOf = asOf
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.summaryJSON = summaryJSON
    }
}
