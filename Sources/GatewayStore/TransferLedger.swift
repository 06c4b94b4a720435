import Foundation
import GatewayCore

/// The SFTP pull and push ledgers and the transfer log.
public protocol TransferLedger: Sendable {
    /// The pull ledger: a remote file, by source, path, size and mtime, once fetched.
    func pulled(source: String, remotePath: String, size: Int64, mtime: Int64) throws -> PulledFile?
    /// Records fetched files, and their transfer log entries, in one transaction.
    func recordPulls(_ files: [(file: PulledFile, transfer: TransferRecord?)]) throws
    /// Remembers how a remote file looked and returns how it looked before, for readiness rules.
    func observe(source: String, remotePath: String, size: Int64, mtime: Int64, at: Date) throws -> RemoteObservation?
    func pushed(destination: String, localPath: String, hash: String) throws -> Bool
    func recordPush(destination: String, localPath: String, hash: String, remotePath: String, at: Date) throws
    func logTransfer(_ t: TransferRecord) throws
    func transfers(runIDs: [String]) throws -> [TransferRecord]
    /// Claims remote files of one source (each by path, size and mtime) for `runID` before they
    /// are fetched, in one transaction, and returns the paths this run may fetch: not those
    /// another run's claim still holds, nor those already fetched (by a runner that took them
    /// between the listing and the claim). A claim ends at `until`, when its run ends (a file it
    /// left waiting is anyone's next time), or when its run is found dead, so a runner that died
    /// mid-download does not keep it from the others.
    func claimPulls(
        source: String, files: [(path: String, size: Int64, mtime: Int64)], runID: String, now: Date, until: Date
    ) throws -> Set<String>
}

public struct PulledFile: Sendable, Equatable {
    public let source: String
    public let remotePath: String
    public let size: Int64
    public let mtime: Int64
    public let localName: String
    public let fetchedAt: Date
    /// The source's after-action (keep, move, delete) is done.
    public var afterActionDone: Bool

    public init(
        source: String, remotePath: String, size: Int64, mtime: Int64, localName: String, fetchedAt: Date,
        afterActionDone: Bool
    ) {
        self.source = source
        self.remotePath = remotePath
        self.size = size
        self.mtime = mtime
        self.localName = localName
        self.fetchedAt = fetchedAt
        self.afterActionDone = afterActionDone
    }
}

public struct RemoteObservation: Sendable, Equatable {
    public let size: Int64
    public let mtime: Int64
    /// When the file was first seen with this size and mtime.
    public let since: Date
}

/// One thing a pull or push did or refused, for the report.
public struct TransferRecord: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable, CaseIterable {
        case pulled, pushed, waiting, refused, failed
    }

    public let runID: String
    public let direction: String  // pull | push
    public let endpoint: String
    @Nullable public var name: String?
    public let outcome: Outcome
    @Nullable public var detail: String?
    public let bytes: Int64
    public let at: Date

    public init(
        runID: String, direction: String, endpoint: String, name: String?, outcome: Outcome, detail: String?, bytes: Int64 = 0,
        at: Date
    ) {
        self.runID = runID
        self.direction = direction
        self.endpoint = endpoint
        self.name = name
        self.outcome = outcome
        self.detail = detail
        self.bytes = bytes
        self.at = at
    }
}
