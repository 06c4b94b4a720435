import Foundation
import GatewayCore
import GatewayFiles
import GatewayFormats
import GatewayStore
import Logging

/// What became of one inbox file in this run.
public struct FileOutcome: Sendable, Codable, Equatable {
    public let name: String
    public let feed: String?
    public let outcome: FileSighting.Outcome
    public let detail: String?
    public let counts: IngestCounts?
    public let hash: String
    /// The first rejected records of the file (at most `Ingestor.rejectionsShown`); all are in the report.
    public var rejections: [Rejection] = []
}

/// The ingest stage: each inbox file is identified by content, read through its mapping inside
/// one store transaction, then archived; or quarantined with its reason. Input is never deleted.
struct Ingestor {
    static let rejectionsShown = 10
    let config: GatewayConfig
    /// The file ledger is all the ingest touches.
    let store: any FactLedger
    let recogniser: Recogniser
    let logger: Logger
    let crashPoint: CrashPoint
    /// Names the file being handled, so that if it kills the process the next run sets it aside.
    var mark: WorkMark? = nil
    /// Files (by SHA-256) whose handling killed a run: quarantined instead of read again.
    var setAside: [String: SetAsideItem] = [:]

    func ingestAll(runID: String, asOf: Date, wallClock: Date) throws -> (outcomes: [FileOutcome], deferred: Int) {
        var outcomes: [FileOutcome] = []
        var deferred = 0
        let scan = InboxScanner.scan(config.inbox)
        for problem in scan.problems {
            logger.warning("inbox entry left in place", metadata: ["file.name": "\(problem.relativePath)", "reason": "\(problem.reason)"])
        }
        for file in scan.files {
            if config.inboxMinAgeSeconds > 0, wallClock.timeIntervalSince(file.modified) < Double(config.inboxMinAgeSeconds) {
                logger.info("file is too recent, left for the next run", metadata: ["file.name": "\(file.relativePath)"])
                deferred += 1
                continue
            }
            do {
                outcomes.append(try ingest(file, runID: runID, asOf: asOf))
            } catch let unreadable as InboxFileUnreadable {
                // Nothing was written for it: it waits in the inbox, the report shows it, the rest goes on.
                logger.warning("inbox file left in place", metadata: ["file.name": "\(file.relativePath)", "reason": "\(unreadable)"])
            }
        }
        return (outcomes, deferred)
    }

    func ingest(_ file: InboxFile, runID: String, asOf: Date) throws -> FileOutcome {
        let hash = try InboxScanner.sha256(path: file.path)
        var meta: Logger.Metadata = ["file.name": "\(file.relativePath)", "file.sha256": "\(hash.prefix(16))"]

        // A file an operator requeued is read again; any other known content is a duplicate.
        let known = try store.ledgerEntry(hash: hash)
        if let known, known.status != .requeued {
            return try duplicate(file, hash: hash, of: known, runID: runID, asOf: asOf)
        }
        if let aside = setAside[hash] {
            // Not recognised again (that reads the file): the feed is the ledger's or the inbox folder's.
            let feed = known?.feed ?? file.folder.flatMap { f in recogniser.mappings.contains { $0.feed == f } ? f : nil } ?? "unrecognised"
            logger.notice("file set aside after a crash", metadata: meta.merging(["dead_run": "\(aside.runID)"]) { $1 })
            return try quarantine(
                file, hash: hash, feed: feed, reason: CrashIsolation.quarantineReason(aside), runID: runID, asOf: asOf,
                outcome: .quarantined)
        }
        mark?.set(.file, key: hash, name: file.relativePath, stage: "read")
        defer { mark?.clear() }
        let mapping: FeedMapping
        switch recogniser.recognise(file) {
        case .unrecognised(let reason):
            return try quarantine(file, hash: hash, feed: "unrecognised", reason: reason, runID: runID, asOf: asOf, outcome: .unrecognised)
        case .feed(let m):
            mapping = m
        }
        meta["feed"] = "\(mapping.feed)"
        let incoming = IncomingFile(hash: hash, name: file.name, feed: mapping.feed, size: file.size)
        let counts: IngestCounts
        let admission = Admission(catalogue: config.catalogue, asOf: asOf)
        do {
            counts = try store.ingestFile(incoming, runID: runID, at: asOf) { writer in
                let summary = try FeedReader.read(path: file.path, mapping: mapping, fileHash: hash, fileName: file.name) { outcome in
                    switch outcome {
                    case .fact(let fact): try admission.admit(fact, into: &writer)
                    case .rejected(let problems): try writer.reject(problems)
                    case .skipped: writer.skip()
                    }
                }
                if let seq = summary.sequence {
                    do { try writer.recordSequence(scope: seq.scope, number: seq.number) } catch let taken as SequenceNumberTaken {
                        let scope = taken.scope.isEmpty ? "the feed's" : "\(taken.scope)'s"
                        throw FileProblem(
                            line: 0,
                            message:
                                "number \(taken.number) of \(scope) sequence is already used by \(taken.byFile)\(taken.at.map { " (taken in \(Timestamp.day($0)))" } ?? "") with other content: a reused number, nothing of this file was applied. Ask the partner which file is right (the same bytes again are a duplicate; a file for a missing number is taken)"
                        )
                    }
                }
            }
        } catch let problem as FileProblem {
            logger.notice("file quarantined", metadata: meta.merging(["reason": "\(problem)"]) { $1 })
            return try quarantine(
                file, hash: hash, feed: mapping.feed, reason: problem.description, runID: runID, asOf: asOf, outcome: .quarantined)
        } catch is FileAlreadyClaimed {
            guard let known = try store.ledgerEntry(hash: hash) else {
                throw StoreError("file \(file.name) is claimed but has no ledger row")
            }
            return try duplicate(file, hash: hash, of: known, runID: runID, asOf: asOf)
        }
        try crashPoint.reach("ingest.committed")
        mark?.set(.file, key: hash, name: file.relativePath, stage: "archive")
        try archive(file, feed: mapping.feed, hash: hash, asOf: asOf)
        logger.info(
            "file ingested",
            metadata: meta.merging([
                "records": "\(counts.records)", "facts.new": "\(counts.factsNew)", "rejected": "\(counts.rejected)",
            ]) { $1 })
        var outcome = FileOutcome(name: file.name, feed: mapping.feed, outcome: .ingested, detail: nil, counts: counts, hash: hash)
        if counts.rejected > 0 { outcome.rejections = Array(try store.rejections(fileHash: hash).prefix(Self.rejectionsShown)) }
        return outcome
    }

    /// The same bytes were seen before: report, never re-apply. A copy of a quarantined file
    /// joins it in quarantine; a copy of an ingested file is archived.
    func duplicate(_ file: InboxFile, hash: String, of known: LedgerEntry, runID: String, asOf: Date) throws -> FileOutcome {
        let detail =
            "same content as \(known.name), \(known.status == .ingested ? "ingested" : "quarantined") on \(Timestamp.day(known.at)) (run \(known.runID)); not applied again"
        try store.recordSighting(
            FileSighting(runID: runID, hash: hash, name: file.name, feed: known.feed, outcome: .duplicate, detail: detail, at: asOf))
        if known.status == .quarantined {
            try moveToQuarantine(file, hash: hash, reason: detail, runID: runID, asOf: asOf, feed: known.feed)
        } else {
            try archive(file, feed: known.feed, hash: hash, asOf: asOf)
        }
        logger.notice(
            "duplicate file",
            metadata: ["file.name": "\(file.relativePath)", "file.sha256": "\(hash.prefix(16))", "duplicate.of": "\(known.name)"])
        return FileOutcome(name: file.name, feed: known.feed, outcome: .duplicate, detail: detail, counts: nil, hash: hash)
    }

    func quarantine(
        _ file: InboxFile, hash: String, feed: String, reason: String, runID: String, asOf: Date,
        outcome: FileSighting.Outcome
    ) throws -> FileOutcome {
        try store.quarantine(IncomingFile(hash: hash, name: file.name, feed: feed, size: file.size), runID: runID, at: asOf, reason: reason)
        try moveToQuarantine(file, hash: hash, reason: reason, runID: runID, asOf: asOf, feed: feed)
        return FileOutcome(
            name: file.name, feed: feed == "unrecognised" ? nil : feed, outcome: outcome, detail: reason, counts: nil, hash: hash)
    }

    func archive(_ file: InboxFile, feed: String, hash: String, asOf: Date) throws {
        let day = Timestamp.day(asOf)
        let dir = [config.archiveDir, feed, String(day.prefix(4)), String(day.dropFirst(5).prefix(2))].joined(separator: "/")
        try AtomicFile.move(file.path, intoDirectory: dir, suffixIfTaken: String(hash.prefix(12)))
    }

    func moveToQuarantine(_ file: InboxFile, hash: String, reason: String, runID: String, asOf: Date, feed: String) throws {
        let dir = (config.quarantineDir as NSString).appendingPathComponent(Timestamp.day(asOf))
        let target = try AtomicFile.move(file.path, intoDirectory: dir, suffixIfTaken: String(hash.prefix(12)))
        let note = """
            file: \(file.relativePath)
            sha256: \(hash)
            feed: \(feed)
            quarantined: \(Timestamp.iso(asOf)) (run \(runID))
            reason: \(reason)
            what to do: correct the file or ask the partner to send it again, then drop it into inbox/. \
            New content is ingested normally; identical content is reported as a duplicate. This copy stays here.

            """
        try AtomicFile.write(note, to: target + ".reason.txt")
    }
}

/// Named points where a test can stop a run as if the process had died there.
public struct CrashPoint: Sendable {
    let hook: (@Sendable (String) throws -> Void)?

    public init(_ hook: (@Sendable (String) throws -> Void)? = nil) { self.hook = hook }

    /// What a crash point throws. Error handling on the way out (isolating a failed source,
    /// recording what was fetched) lets it through: a dead process gets to do none of that.
    struct Triggered: Error {
        let underlying: any Error
    }

    func reach(_ name: String) throws {
        do { try hook?(name) } catch { throw Triggered(underlying: error) }
    }
}
