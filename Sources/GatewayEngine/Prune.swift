import Foundation
import GatewayCore
import GatewayStore

/// Retention, applied only as configured (`retention:`; nothing is ever deleted by default):
/// archived files, quarantined files and report folders older than their days. A file the
/// ledger still needs is kept whatever its age: a quarantined file nothing has replaced, an
/// ingested file whose rejected records are still an exception (both may be requeued), a file
/// requeued and not yet taken in again.
extension Gateway {
    public struct PruneResult: Sendable {
        public var deleted: [String] = []
        /// Old enough, but kept because the ledger needs them.
        public var kept: [String] = []
        public var bytes: Int64 = 0
    }

    public func prune(asOf: Date, dryRun: Bool) throws -> PruneResult {
        var result = PruneResult()
        let retention = config.retention
        guard !retention.isEmpty else { return result }
        let needed = Set(try store.fileProblems().map(\.hash))
        let fm = FileManager.default
        func cutoff(_ days: Int) -> Date { asOf.addingTimeInterval(-Double(days) * 86_400) }
        func remove(_ path: String) {
            let size = (try? fm.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
            if !dryRun { unlink(path) }
            result.deleted.append(path)
            result.bytes += size
        }
        /// A stored partner file: deleted when the ledger says it was handled before the cutoff
        /// and nothing still needs it.
        func consider(_ path: String, before: Date) {
            guard let hash = try? InboxScanner.sha256(path: path), let entry = try? store.ledgerEntry(hash: hash) else {
                // Not in the ledger (a copy someone put there): not the gateway's to delete.
                result.kept.append(path)
                return
            }
            guard entry.at < before else { return }
            if needed.contains(hash) || entry.status == .requeued {
                result.kept.append(path)
                return
            }
            remove(path)
            if fm.fileExists(atPath: path + ".reason.txt") { remove(path + ".reason.txt") }
        }
        if let days = retention.archiveDays {
            let before = cutoff(days)
            // var/archive/<feed>/<yyyy>/<mm>/: a month that ended before the cutoff is looked at.
            for feed in (try? fm.contentsOfDirectory(atPath: config.archiveDir)) ?? [] {
                let feedDir = config.archiveDir + "/" + feed
                for year in (try? fm.contentsOfDirectory(atPath: feedDir)) ?? [] {
                    for month in (try? fm.contentsOfDirectory(atPath: feedDir + "/" + year)) ?? [] {
                        guard let start = Timestamp.parseISO("\(year)-\(month)-01") else { continue }
                        guard start < before else { continue }
                        let dir = "\(feedDir)/\(year)/\(month)"
                        for name in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() where !name.hasPrefix(".") {
                            consider(dir + "/" + name, before: before)
                        }
                    }
                }
            }
        }
        if let days = retention.quarantineDays {
            let before = cutoff(days)
            for day in ((try? fm.contentsOfDirectory(atPath: config.quarantineDir)) ?? []).sorted() {
                guard let d = Timestamp.parseISO(day), d < before else { continue }
                let dir = config.quarantineDir + "/" + day
                for name in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() where !name.hasSuffix(".reason.txt") {
                    consider(dir + "/" + name, before: before)
                }
                if !dryRun, ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).isEmpty { rmdir(dir) }
            }
        }
        if let days = retention.reportsDays {
            let before = cutoff(days)
            for day in ((try? fm.contentsOfDirectory(atPath: config.reportsDir)) ?? []).sorted() {
                guard let d = Timestamp.parseISO(day), d.addingTimeInterval(86_400) <= before else { continue }
                let dir = config.reportsDir + "/" + day
                for name in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() { remove(dir + "/" + name) }
                if !dryRun { rmdir(dir) }
            }
        }
        return result
    }
}
