import Foundation
import GatewayCore
import GatewayStore
import GatewayTransport
import Logging

/// The push stage: every file of a destination's outbox folder that was not pushed with this
/// content before is written to a temporary name on the server and renamed into place, following
/// the destination's policy when the name is taken.
struct Pusher {
    let config: GatewayConfig
    let store: any TransferLedger
    let logger: Logger
    let progress: TransferProgress?
    let connect: (SFTPServerConfig, String) throws -> SFTPClient

    struct Outcome: Sendable {
        var pushed = 0
        var refused = 0
        var failedDestinations: [String: String] = [:]
    }

    /// `secrets`: the run's, masked out of what a failing server says.
    func pushAll(runID: String, now: Date, secrets: SecretMask) throws -> Outcome {
        var outcome = Outcome()
        outcome.failedDestinations = try eachEndpoint(
            config.destinations, name: \.name, direction: "push", store: store, logger: logger, runID: runID, now: now,
            secrets: secrets
        ) { destination in
            try push(destination, runID: runID, now: now, into: &outcome)
        }
        return outcome
    }

    /// Files under the outbox folder, relative to it; hidden and temporary files are skipped.
    static func files(under dir: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let rel = walker.nextObject() as? String {
            let name = (rel as NSString).lastPathComponent
            if name.hasPrefix(".") { continue }
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(rel), isDirectory: &isDir), !isDir.boolValue
            {
                out.append(rel)
            }
        }
        return out.sorted()
    }

    func push(_ d: DestinationConfig, runID: String, now: Date, into outcome: inout Outcome) throws {
        let local = (config.outbox as NSString).appendingPathComponent(d.outbox)
        var pending: [(rel: String, hash: String)] = []
        for rel in Self.files(under: local) {
            let hash = try InboxScanner.sha256(path: (local as NSString).appendingPathComponent(rel))
            if try !store.pushed(destination: d.name, localPath: "\(d.outbox)/\(rel)", hash: hash) { pending.append((rel, hash)) }
        }
        guard !pending.isEmpty else { return }
        let client = try connect(d.server, d.name)
        for (rel, hash) in pending {
            let source = (local as NSString).appendingPathComponent(rel)
            let dir = ((d.remoteDir as NSString).appendingPathComponent(rel) as NSString).deletingLastPathComponent
            try makeDirectories(client, dir, under: d.remoteDir)
            let name = (rel as NSString).lastPathComponent
            var target = (dir as NSString).appendingPathComponent(name)
            let temp = (dir as NSString).appendingPathComponent(".\(name).part")
            let size = (try? FileManager.default.attributesOfItem(atPath: source)[.size] as? Int64) ?? 0
            let bytes = try client.upload(source, to: temp) { done in
                if size >= 8 << 20 { progress?(name, done, size) }
            }
            if try client.stat(target) != nil {
                switch d.ifExists {
                case .fail:
                    try? client.remove(temp)
                    outcome.refused += 1
                    try store.logTransfer(
                        TransferRecord(
                            runID: runID, direction: "push", endpoint: d.name, name: rel, outcome: .refused,
                            detail: "\(target) already exists on the server and the policy is fail; not delivered", at: now))
                    continue
                case .overwrite:
                    // SFTP rename does not replace: remove, then rename (the window between is the server's).
                    try client.remove(target)
                case .keepBoth:
                    target = try freeName(client, dir: dir, name: name)
                }
            }
            try client.rename(temp, to: target)
            try store.recordPush(destination: d.name, localPath: "\(d.outbox)/\(rel)", hash: hash, remotePath: target, at: now)
            try store.logTransfer(
                TransferRecord(
                    runID: runID, direction: "push", endpoint: d.name, name: rel, outcome: .pushed, detail: target,
                    bytes: bytes, at: now))
            outcome.pushed += 1
        }
    }

    /// `report.html` → `report~2.html`, `report~3.html`, … the first that is free.
    func freeName(_ client: SFTPClient, dir: String, name: String) throws -> String {
        let ext = (name as NSString).pathExtension
        let stem = (name as NSString).deletingPathExtension
        var n = 2
        while true {
            let candidate = (dir as NSString).appendingPathComponent(ext.isEmpty ? "\(stem)~\(n)" : "\(stem)~\(n).\(ext)")
            if try client.stat(candidate) == nil { return candidate }
            n += 1
        }
    }

    func makeDirectories(_ client: SFTPClient, _ dir: String, under root: String) throws {
        var path = root
        try client.makeDirectory(path)
        let rest = dir.hasPrefix(root) ? String(dir.dropFirst(root.count)) : ""
        for part in rest.split(separator: "/") {
            path = (path as NSString).appendingPathComponent(String(part))
            try client.makeDirectory(path)
        }
    }
}
