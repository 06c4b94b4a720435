import Foundation
import GatewayCore
import GatewayFiles
import GatewayStore

/// What an operator does to recover: send a file through the inbox again after fixing its
/// mapping, and make failed actions due again after fixing what made them fail.
extension Gateway {
    /// A file sent back to the inbox.
    public struct Requeued: Sendable {
        public let name, hash: String
        /// What it had been: ingested or quarantined, and why.
        public let statusBefore: String
        public let reasonBefore: String?
        public let from, to: String
    }

    /// Finds the file in the ledger (by name or SHA-256 prefix), marks it requeued and moves its
    /// stored copy (from `var/quarantine/` or `var/archive/`) back to `inbox/<feed>/` under its
    /// own name, where the next ingest takes it in with today's mappings. Its facts are
    /// idempotent, so records applied before add nothing twice. The store is written first: a
    /// crash before the move leaves a requeued row whose copy the same command moves again.
    public func requeue(_ nameOrHash: String, note: String, asOf: Date) throws -> Requeued {
        let entries = try store.ledgerEntries(named: nameOrHash)
        let hashes = Set(entries.map(\.hash))
        guard let entry = entries.last else {
            throw OperatorError("no file \(nameOrHash) in the ledger: give its name as the report lists it, or 8+ digits of its SHA-256")
        }
        guard hashes.count == 1 else {
            let listed = entries.map { "\($0.hash.prefix(12)) (\($0.status.rawValue) \(Timestamp.day($0.at)))" }.joined(separator: ", ")
            throw OperatorError("\(entries.count) files are named \(nameOrHash): give the hash of the one to requeue: \(listed)")
        }
        let folder = mappings.contains { $0.feed == entry.feed } ? entry.feed : nil
        let inboxDir = folder.map { (config.inbox as NSString).appendingPathComponent($0) } ?? config.inbox
        let target = (inboxDir as NSString).appendingPathComponent(entry.name)
        if entry.status == .requeued, (try? InboxScanner.sha256(path: target)) == entry.hash {
            throw OperatorError("\(entry.name) is already requeued: \(target) waits for the next run (or caas-gateway ingest)")
        }
        guard let copy = storedCopy(of: entry) else {
            throw OperatorError(
                "the stored copy of \(entry.name) (sha256 \(entry.hash.prefix(12))) is not under \(config.archiveDir) or \(config.quarantineDir); drop the file into the inbox again by hand"
            )
        }
        guard !FileManager.default.fileExists(atPath: target) else {
            throw OperatorError("\(target) already holds a file of that name: let a run take it in first, then requeue")
        }
        guard let before = try store.requeueFile(hash: entry.hash, note: note, at: asOf) else {
            throw OperatorError("no file \(nameOrHash) in the ledger")
        }
        // A file set aside after a crash is read again, with no deaths counted.
        _ = try store.bringBack(kind: .file, key: entry.hash, note: note, at: asOf)
        try FileManager.default.createDirectory(atPath: inboxDir, withIntermediateDirectories: true)
        guard rename(copy, target) == 0 else { throw AtomicFile.posixError("cannot move \(copy) to \(target)") }
        AtomicFile.syncDirectory(inboxDir)
        AtomicFile.syncDirectory((copy as NSString).deletingLastPathComponent)
        let reasonFile = copy + ".reason.txt"
        if let handle = FileHandle(forWritingAtPath: reasonFile) {
            handle.seekToEndOfFile()
            handle.write(Data("requeued: \(Timestamp.iso(asOf)) to \(target): \(note)\n".utf8))
            try? handle.close()
        }
        return Requeued(
            name: entry.name, hash: entry.hash, statusBefore: before.status.rawValue, reasonBefore: before.reason, from: copy, to: target)
    }

    /// The archived or quarantined copy of a ledger file: where the ingest put it on its day
    /// (under its name, or its name with a hash suffix when the name was taken), checked by
    /// content; else anywhere under the archive and quarantine.
    func storedCopy(of entry: LedgerEntry) -> String? {
        let day = Timestamp.day(entry.at)
        let archiveDir = [config.archiveDir, entry.feed, String(day.prefix(4)), String(day.dropFirst(5).prefix(2))].joined(separator: "/")
        let quarantineDir = (config.quarantineDir as NSString).appendingPathComponent(day)
        func matches(_ path: String) -> Bool {
            let name = (path as NSString).lastPathComponent
            guard name == entry.name || (name.hasPrefix(entry.name + ".") && !name.hasSuffix(".reason.txt")) else { return false }
            return (try? InboxScanner.sha256(path: path)) == entry.hash
        }
        for dir in entry.status == .quarantined ? [quarantineDir, archiveDir] : [archiveDir, quarantineDir] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            if let hit = names.sorted().map({ (dir as NSString).appendingPathComponent($0) }).first(where: matches) { return hit }
        }
        for root in [config.quarantineDir, config.archiveDir] {
            guard let walker = FileManager.default.enumerator(atPath: root) else { continue }
            while let rel = walker.nextObject() as? String {
                let path = (root as NSString).appendingPathComponent(rel)
                if matches(path) { return path }
            }
        }
        return nil
    }

    /// What operators did to these actions, oldest first.
    public func actionHistory(keys: [String]) throws -> [ActionEvent] {
        try keys.flatMap { try store.actionEvents(key: $0) }.sorted { $0.at < $1.at }
    }

    /// Makes failed actions due again with a fresh attempt budget; each keeps its failure and
    /// the operator's note in its history. Returns the keys made due.
    public func retry(keys allKeys: [String], kind: String?, orderRef: String?, note: String, asOf: Date) throws -> [String] {
        let trimmed = note.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw OperatorError("say why with --note: what was fixed, by whom") }
        // `fold:<ref>` brings back an order set aside after its fold killed a run.
        let folds = allKeys.filter { $0.hasPrefix(Self.foldKeyPrefix) }
        let keys = allKeys.filter { !$0.hasPrefix(Self.foldKeyPrefix) }
        var broughtBack: [String] = []
        for key in folds {
            let ref = String(key.dropFirst(Self.foldKeyPrefix.count))
            guard try store.bringBack(kind: .order, key: ref, note: trimmed, at: asOf) != nil else {
                throw OperatorError("order \(ref) is not set aside (`caas-gateway exceptions --owner integration` lists fold_failed orders)")
            }
            broughtBack.append(key)
        }
        if !folds.isEmpty && keys.isEmpty { return broughtBack }
        let selector: ActionSelector
        if keys.isEmpty {
            var k: DueActionKind?
            if let kind {
                guard let known = DueActionKind(rawValue: kind) else {
                    let all = performers.map(\.kind.rawValue).sorted().joined(separator: ", ")
                    throw OperatorError("unknown action kind \(kind); kinds: \(all)")
                }
                k = known
            }
            selector = .failed(kind: k, orderRef: orderRef)
        } else {
            selector = .keys(keys)
        }
        let due = try store.makeDue(selector, note: trimmed, at: asOf)
        if !keys.isEmpty {
            let missing = keys.filter { !due.contains($0) }
            if !missing.isEmpty {
                let failed = Set(try store.actions(status: .failed).map(\.key))
                let what = missing.map { failed.contains($0) ? $0 : "\($0) (not a failed action)" }
                throw OperatorError(
                    "made \(due.count) action(s) due; not: \(what.joined(separator: ", ")); `caas-gateway exceptions --owner integration` lists failed actions with their keys"
                )
            }
        }
        guard !due.isEmpty else {
            throw OperatorError("no failed action matches: nothing to retry (`caas-gateway exceptions` lists failed actions)")
        }
        return broughtBack + due
    }

    /// How `retry` names an order set aside after its fold killed a run: `fold:<ref>`.
    public static let foldKeyPrefix = "fold:"
}
