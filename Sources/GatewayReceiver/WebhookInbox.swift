import Crypto
import Foundation
import GatewayCore
import GatewayFiles

/// Where a verified delivery goes: a file in `inbox/<feed>/`, durable before the partner hears
/// 2xx, and written once per `webhook-id`.
///
/// Order of writes, so that a crash at any point loses nothing answered 2xx: the body goes to a
/// hidden temporary name, is fsynced and renamed to `wh_<received>_<id>.json`, the folder is
/// fsynced; then the id is remembered (`var/webhooks/<feed>/<hash of id>`, fsynced); only then the
/// answer. A crash before the rename leaves nothing (the factory retries); one between the rename
/// and the mark leaves the file, and a retry writes the same bytes again, which the ingest reports
/// as a duplicate and never applies twice.
public final class WebhookInbox: @unchecked Sendable {
    public enum Outcome: Equatable, Sendable {
        case written(String)
        case alreadyWritten
    }

    let inbox: String
    let seenDir: String
    private let lock = NSLock()
    private var inFlight: Set<String> = []

    public init(inbox: String, webhooksDir: String) {
        self.inbox = inbox
        seenDir = webhooksDir
    }

    func markPath(feed: String, id: String) -> String {
        let digest = Hex.encode(SHA256.hash(data: Data(id.utf8)).prefix(16))
        return "\(seenDir)/\(feed)/\(digest)"
    }

    /// A file name part from the id: its own characters when they are safe, else its hash.
    static func namePart(_ id: String) -> String {
        let safe =
            id.utf8.count <= 100 && !id.isEmpty
            && id.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
            }
        return safe ? id : "h" + Hex.encode(SHA256.hash(data: Data(id.utf8)).prefix(12))
    }

    public func accept(feed: String, id: String, body: Data, receivedAt: Date) throws -> Outcome {
        let mark = markPath(feed: feed, id: id)
        // Two deliveries of one id at once: the second waits its turn by being told it is a resend
        // only once the first has written; until then it is refused as busy (the sender retries).
        lock.lock()
        if FileManager.default.fileExists(atPath: mark) {
            lock.unlock()
            return .alreadyWritten
        }
        guard inFlight.insert(mark).inserted else {
            lock.unlock()
            throw Busy()
        }
        lock.unlock()
        defer {
            lock.lock()
            inFlight.remove(mark)
            lock.unlock()
        }
        let stamp = Timestamp.iso(receivedAt).filter(\.isNumber).prefix(14)
        let path = "\(inbox)/\(feed)/wh_\(stamp)_\(Self.namePart(id)).json"
        try AtomicFile.write(body, to: path, mode: 0o640)
        try AtomicFile.write(
            Data((Timestamp.iso(receivedAt) + " " + (path as NSString).lastPathComponent + "\n").utf8), to: mark, mode: 0o600)
        return .written(path)
    }

    public struct Busy: Error {}
}
