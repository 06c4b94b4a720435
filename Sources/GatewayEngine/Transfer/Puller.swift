import Foundation
import GatewayCore
import GatewayFiles
import GatewayFormats
import GatewayStore
import GatewayTransport
import Logging

/// Progress of one large transfer, for a terminal's progress line.
public typealias TransferProgress = @Sendable (_ name: String, _ done: Int64, _ total: Int64) -> Void

/// The pull stage: each source's remote folder is listed, files that are ready are downloaded to a
/// hidden temporary name in `inbox/<feed>/`, fsynced, checked for size, renamed, recorded, and only
/// then is the remote after-action done. One source failing does not stop the others.
struct Puller {
    let config: GatewayConfig
    let store: any TransferLedger
    let mappings: [FeedMapping]
    let logger: Logger
    let progress: TransferProgress?
    let crashPoint: CrashPoint
    /// Waits between reconnection attempts; tests replace it.
    var sleep: @Sendable (TimeInterval) -> Void = { Thread.sleep(forTimeInterval: $0) }

    struct Outcome: Sendable {
        var pulled = 0
        var waiting = 0
        var refused = 0
        var failedSources: [String: String] = [:]
    }

    /// `secrets`: the run's, masked out of what a failing server says.
    func pullAll(runID: String, now: Date, secrets: SecretMask) throws -> Outcome {
        var outcome = Outcome()
        outcome.failedSources = try eachEndpoint(
            config.sources, name: \.name, direction: "pull", store: store, logger: logger, runID: runID, now: now,
            secrets: secrets
        ) { source in
            try pull(source, runID: runID, now: now, into: &outcome)
        }
        return outcome
    }

    /// A remote name becomes a local file name only if it cannot escape or hide in the inbox.
    static func unsafeNameReason(_ name: String) -> String? {
        if name.isEmpty { return "empty name" }
        if name.contains("/") || name.contains("\\") { return "the name contains a path separator" }
        if name == "." || name == ".." { return "the name is \(name), listed as a file (path traversal)" }
        if name.hasPrefix(".") { return "the name starts with a dot (hidden file or path traversal)" }
        if name.hasPrefix("-") { return "the name starts with '-' (a tool given it would read it as an option)" }
        if name.contains("..") { return "the name contains '..'" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || ($0.value >= 0x80 && $0.value < 0xA0) }) {
            return "the name contains control characters"
        }
        // Bidirectional overrides make a name read differently than it is (`SALES_…lmx.exe`).
        if name.unicodeScalars.contains(where: { (0x202A...0x202E).contains($0.value) || (0x2066...0x2069).contains($0.value) }) {
            return "the name contains bidirectional override characters"
        }
        if name.utf8.count > 255 { return "the name is longer than 255 bytes" }
        return nil
    }

    /// Connects with bounded exponential backoff; only network failures are retried.
    func connect(_ server: SFTPServerConfig, label: String) throws -> SFTPClient {
        var attempt = 1
        while true {
            do {
                return try SFTPClient(server.endpoint())
            } catch let e as TransportError where e.isTransient && attempt < config.retry.attempts {
                let wait = config.retry.delay(afterAttempt: attempt)
                logger.warning(
                    "connection failed, retrying", metadata: ["endpoint": "\(label)", "attempt": "\(attempt)", "wait_s": "\(wait)"])
                sleep(wait)
                attempt += 1
            }
        }
    }

    func pull(_ source: SourceConfig, runID: String, now: Date, into outcome: inout Outcome) throws {
        let inboxDir = (config.inbox as NSString).appendingPathComponent(source.feed)
        try FileManager.default.createDirectory(atPath: inboxDir, withIntermediateDirectories: true)
        removeLeftoverTemporaries(in: inboxDir)
        var client = try connect(source.server, label: source.name)
        let listing = try client.list(source.remoteDir)
        let markers = Set(listing.filter { e in source.doneMarker.map { e.name.hasSuffix($0) } ?? false }.map(\.name))
        func log(_ name: String, _ o: TransferRecord.Outcome, _ detail: String?, _ bytes: Int64 = 0) throws {
            try store.logTransfer(
                TransferRecord(
                    runID: runID, direction: "pull", endpoint: source.name, name: name, outcome: o,
                    detail: detail, bytes: bytes, at: now))
        }
        var batch: [Fetched] = []
        do {
            try pullListed(
                listing, markers: markers, source: source, client: &client, batch: &batch, inboxDir: inboxDir, runID: runID,
                now: now, log: log, into: &outcome)
            try commit(&batch, source: source, inboxDir: inboxDir, client: client)
        } catch let crash as CrashPoint.Triggered {
            throw crash
        } catch {
            // What is already in the inbox is recorded before the failure is reported, so the
            // next pull does not fetch it again.
            try? commit(&batch, source: source, inboxDir: inboxDir, client: client)
            throw error
        }
    }

    static let batchSize = 64

    func pullListed(
        _ listing: [RemoteEntry], markers: Set<String>, source: SourceConfig, client: inout SFTPClient, batch: inout [Fetched],
        inboxDir: String, runID: String, now: Date, log: (String, TransferRecord.Outcome, String?, Int64) throws -> Void,
        into outcome: inout Outcome
    ) throws {
        // Names no partner writes (empty, `.` or `..` as a file) are reported whatever the
        // pattern: the server is broken or hostile. Other unsafe names only when the pattern takes them.
        let suspicious: (RemoteEntry) -> Bool = { !$0.isDirectory && ($0.name.isEmpty || $0.name == "." || $0.name == "..") }
        var ready: [(entry: RemoteEntry, remotePath: String)] = []
        for entry in listing
        where suspicious(entry) || (entry.isRegularFile && !markers.contains(entry.name) && source.pattern.matches(entry.name)) {
            if let reason = Self.unsafeNameReason(entry.name) {
                outcome.refused += 1
                try log(RemoteName.escaped(entry.name), .refused, "refused: \(reason); rename it on the server or ask the partner", 0)
                continue
            }
            let remotePath = (source.remoteDir as NSString).appendingPathComponent(entry.name)
            if let done = try store.pulled(source: source.name, remotePath: remotePath, size: entry.size, mtime: entry.mtime) {
                if !done.afterActionDone { try afterAction(source, client, remotePath, done) }
                continue
            }
            if let why = try notReady(source, entry, remotePath: remotePath, markers: markers, now: now) {
                outcome.waiting += 1
                try log(entry.name, .waiting, why, 0)
                continue
            }
            ready.append((entry, remotePath))
        }
        // Runners sharing a store claim files before fetching them: a few at a time, in one store
        // transaction, so a claim costs one commit per chunk and the runners still take turns.
        for start in stride(from: 0, to: ready.count, by: Self.claimChunk) {
            let chunk = ready[start..<min(start + Self.claimChunk, ready.count)]
            let claimed = try store.claimPulls(
                source: source.name, files: chunk.map { ($0.remotePath, $0.entry.size, $0.entry.mtime) }, runID: runID, now: now,
                until: now.addingTimeInterval(TimeInterval(config.pullClaimSeconds)))
            for (entry, remotePath) in chunk {
                guard claimed.contains(remotePath) else {
                    logger.debug("fetched by another runner", metadata: ["source": "\(source.name)", "file.name": "\(entry.name)"])
                    continue
                }
                try fetchWithRetries(
                    entry, remotePath: remotePath, source: source, client: &client, batch: &batch, inboxDir: inboxDir, runID: runID,
                    now: now, into: &outcome)
            }
        }
    }

    /// Files claimed from a source in one store transaction.
    static let claimChunk = 8

    func fetchWithRetries(
        _ entry: RemoteEntry, remotePath: String, source: SourceConfig, client: inout SFTPClient, batch: inout [Fetched],
        inboxDir: String, runID: String, now: Date, into outcome: inout Outcome
    ) throws {
        var attempts = 0
        while true {
            do {
                if let fetched = try fetch(source, client, entry, remotePath: remotePath, inboxDir: inboxDir, runID: runID, now: now) {
                    outcome.pulled += 1
                    batch.append(fetched)
                    if batch.count >= Self.batchSize { try commit(&batch, source: source, inboxDir: inboxDir, client: client) }
                } else {
                    outcome.waiting += 1
                }
                break
            } catch let e as TransportError where e.isTransient && attempts + 1 < config.retry.attempts {
                attempts += 1
                logger.warning(
                    "transfer broke off, reconnecting", metadata: ["source": "\(source.name)", "file.name": "\(entry.name)"])
                sleep(config.retry.delay(afterAttempt: attempts))
                client = try connect(source.server, label: source.name)
            }
        }
    }

    /// nil when the file may be taken; otherwise why it waits.
    func notReady(_ source: SourceConfig, _ entry: RemoteEntry, remotePath: String, markers: Set<String>, now: Date) throws -> String? {
        if let marker = source.doneMarker, !markers.contains(entry.name + marker) {
            return "waiting for its done marker \(entry.name + marker)"
        }
        let age = now.timeIntervalSince1970 - Double(entry.mtime)
        if age < Double(source.minAgeSeconds) {
            return "younger than \(source.minAgeSeconds) s"
        }
        // Only a source that asks for stability needs what was seen before (a store write per file).
        guard source.stableSeconds > 0 else { return nil }
        let before = try store.observe(source: source.name, remotePath: remotePath, size: entry.size, mtime: entry.mtime, at: now)
        guard let before, before.size == entry.size, before.mtime == entry.mtime else {
            return "first seen at this size; taken once unchanged for \(source.stableSeconds) s"
        }
        if now.timeIntervalSince(before.since) < Double(source.stableSeconds) {
            return "unchanged for less than \(source.stableSeconds) s"
        }
        return nil
    }

    /// Downloads one file into the inbox under its own name (fsynced, size checked); nil when it
    /// turned out not to be ready. The caller makes it count with `commit`.
    func fetch(
        _ source: SourceConfig, _ client: SFTPClient, _ entry: RemoteEntry, remotePath: String, inboxDir: String, runID: String,
        now: Date
    ) throws -> Fetched? {
        let temp = (inboxDir as NSString).appendingPathComponent(".\(entry.name).part")
        var kept = false
        defer { if !kept { unlink(temp) } }
        // A small file is fsynced with its batch at `commit`, after the others were written; a
        // large one at once, while its pages are its own.
        let syncNow = entry.size >= Self.syncAtOnceBytes
        let bytes = try client.download(
            remotePath, to: temp, expectedSize: entry.size, durable: syncNow,
            progress: { done in
                if entry.size >= 8 << 20 { progress?(entry.name, done, entry.size) }
                try crashPoint.reach("pull.transferring")
            })
        // The partner may still be writing: size must match the listing and the file must not have moved on.
        let after = try client.stat(remotePath)
        guard bytes == entry.size, after?.size == entry.size, after?.mtime == entry.mtime else {
            try store.logTransfer(
                TransferRecord(
                    runID: runID, direction: "pull", endpoint: source.name, name: entry.name, outcome: .waiting,
                    detail: "changed while it was being fetched; taken on a later run", at: now))
            return nil
        }
        if source.trailerCount, let mapping = mappings.first(where: { $0.feed == source.feed }) {
            do {
                _ = try FeedReader.read(path: temp, mapping: mapping, fileHash: "", fileName: entry.name) { _ in }
            } catch let p as FileProblem {
                try store.logTransfer(
                    TransferRecord(
                        runID: runID, direction: "pull", endpoint: source.name, name: entry.name, outcome: .waiting,
                        detail: "not complete yet (\(p.message)); taken on a later run", at: now))
                return nil
            }
        }
        // The content hash is ingest's business (it reads every file anyway); here it is needed
        // only when a file of that name is already waiting, to tell a re-send from new content.
        var final = (inboxDir as NSString).appendingPathComponent(entry.name)
        if FileManager.default.fileExists(atPath: final) {
            let hash = try InboxScanner.sha256(path: temp)
            if (try? InboxScanner.sha256(path: final)) != hash {
                final = (inboxDir as NSString).appendingPathComponent("\(entry.name).\(hash.prefix(12))")
            }
        }
        guard rename(temp, final) == 0 else {
            throw TransportError(.local, "cannot move \(temp) into the inbox: \(String(cString: strerror(errno)))")
        }
        kept = true
        logger.info(
            "pulled",
            metadata: ["source": "\(source.name)", "file.name": "\(entry.name)", "bytes": "\(bytes)"])
        return Fetched(
            localPath: syncNow ? nil : final,
            record: PulledFile(
                source: source.name, remotePath: remotePath, size: entry.size, mtime: entry.mtime,
                localName: (final as NSString).lastPathComponent, fetchedAt: now, afterActionDone: source.after == .keep),
            transfer: TransferRecord(
                runID: runID, direction: "pull", endpoint: source.name, name: entry.name, outcome: .pulled, detail: nil, bytes: bytes,
                at: now))
    }

    /// Files at least this large are fsynced as they are fetched; smaller ones with their batch.
    static let syncAtOnceBytes: Int64 = 1 << 20

    struct Fetched {
        /// A file still to fsync before its ledger row may commit; nil when it already was.
        let localPath: String?
        let record: PulledFile
        let transfer: TransferRecord
    }

    /// Makes a batch of fetched files count: the small files are fsynced together (their writes
    /// already went out while the next ones were fetched), then the renames with one directory
    /// fsync, then their ledger rows commit in one transaction, then the remote after-actions
    /// run. A ledger row is never durable before its file is.
    func commit(_ batch: inout [Fetched], source: SourceConfig, inboxDir: String, client: SFTPClient) throws {
        guard !batch.isEmpty else { return }
        for path in batch.compactMap(\.localPath) {
            let fd = open(path, O_RDONLY)
            guard fd >= 0, fsync(fd) == 0 else {
                if fd >= 0 { close(fd) }
                throw TransportError(.local, "cannot fsync \(path): \(String(cString: strerror(errno)))")
            }
            close(fd)
        }
        AtomicFile.syncDirectory(inboxDir)
        try crashPoint.reach("pull.inInbox")
        try store.recordPulls(batch.map { ($0.record, $0.transfer) })
        let done = batch
        batch.removeAll()
        for f in done { try afterAction(source, client, f.record.remotePath, f.record) }
    }

    /// Only once the local copy is durable and recorded does the remote file move or go.
    func afterAction(_ source: SourceConfig, _ client: SFTPClient, _ remotePath: String, _ record: PulledFile) throws {
        switch source.after {
        case .keep: return
        case .delete: try client.remove(remotePath)
        case .move(let dir):
            try client.makeDirectory(dir)
            let target = (dir as NSString).appendingPathComponent((remotePath as NSString).lastPathComponent)
            if try client.stat(target) != nil { try client.remove(target) }
            try client.rename(remotePath, to: target)
        }
        var done = record
        done.afterActionDone = true
        try store.recordPulls([(done, nil)])
    }

    /// A partial download left by a run that died mid-transfer is not input (the remote file is):
    /// it is removed before the source is pulled again.
    func removeLeftoverTemporaries(in dir: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasPrefix(".") && name.hasSuffix(".part") {
            unlink((dir as NSString).appendingPathComponent(name))
        }
    }
}

/// How a refused remote name is written into logs and the report: quoted, printable ASCII as it
/// is, everything else (controls, escapes, bidirectional overrides, any non-ASCII) as `\u{…}`, so
/// a name can neither hide nor dress up as another.
public enum RemoteName {
    public static func escaped(_ name: String) -> String {
        var out = "\""
        for u in name.unicodeScalars {
            switch u.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x20...0x7E: out.unicodeScalars.append(u)
            default: out += "\\u{\(String(u.value, radix: 16, uppercase: true))}"
            }
        }
        return out + "\""
    }
}
