import Foundation
import GatewayCore
import GatewayFiles

/// `outbox/<folder>/<run>-<pass>-<stream>.ndjson`: what the gateway sends, one NDJSON file per
/// pass of a run and per stream (welcome, notices, stock), written atomically, never over another,
/// readable by its owner only (activation links are secrets until used). Each line carries its
/// idempotency key, which is how a run that died finds out what it had already written.
struct OutboxStream {
    /// The outbox directory.
    let root: String
    let folder: String
    let stream: String

    func relativePath(runID: String, pass: Int) -> String { "\(folder)/\(runID)-\(pass)-\(stream).ndjson" }

    func path(forRelative rel: String) -> String { (root as NSString).appendingPathComponent(rel) }

    func write(_ lines: [String], runID: String, pass: Int) throws -> String {
        let path = path(forRelative: relativePath(runID: runID, pass: pass))
        try AtomicFile.write(lines.joined(separator: "\n") + "\n", to: path, mode: 0o600)
        return path
    }

    /// Whether an outbox file already holds the line with this key (crash recovery).
    func contains(key: String, inRelative rel: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path(forRelative: rel)) else { return false }
        return String(decoding: data, as: UTF8.self).contains("\"idempotency_key\":\(JSONText.quoted(key))")
    }
}
