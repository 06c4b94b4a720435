import Foundation
import GatewayCore

/// One customer notification, as the notification service reads it: one JSON object per line.
public struct Notification: Sendable, Equatable {
    public let idempotencyKey: String
    public let template: String
    public let channels: [String]
    public let orderRef: String
    public let customerID: String
    public let locale: String
    /// Recipient addresses: personal data, written only to the outbox, never to logs.
    public let to: [String: String]
    public let variables: [String: String]
    public let createdAt: Date

    public var jsonLine: String {
        var out = "{\"idempotency_key\":"
        JSONText.appendString(idempotencyKey, to: &out)
        out += ",\"template\":"
        JSONText.appendString(template, to: &out)
        out += ",\"channels\":[" + channels.map(JSONText.quoted).joined(separator: ",") + "]"
        out += ",\"order_ref\":" + JSONText.quoted(orderRef)
        out += ",\"customer_id\":" + JSONText.quoted(customerID)
        out += ",\"locale\":" + JSONText.quoted(locale)
        out += ",\"to\":" + Self.object(to)
        out += ",\"variables\":" + Self.object(variables)
        out += ",\"created_at\":" + JSONText.quoted(Timestamp.iso(createdAt)) + "}"
        return out
    }

    static func object(_ d: [String: String]) -> String {
        "{" + d.keys.sorted().map { JSONText.quoted($0) + ":" + JSONText.quoted(d[$0]!) }.joined(separator: ",") + "}"
    }
}

/// `outbox/notifications/<run>-<pass>-<stream>.ndjson`: one file per pass of a run and per stream
/// (welcome, notices), written atomically, never over another, readable by its owner only because
/// activation links are secrets until used.
struct NotificationOutbox {
    let directory: String

    func relativePath(runID: String, pass: Int, stream: String) -> String { "notifications/\(runID)-\(pass)-\(stream).ndjson" }

    func path(forRelative rel: String) -> String {
        ((directory as NSString).deletingLastPathComponent as NSString).appendingPathComponent(rel)
    }

    func write(_ notifications: [Notification], runID: String, pass: Int, stream: String) throws -> String {
        let path = path(forRelative: relativePath(runID: runID, pass: pass, stream: stream))
        try AtomicFile.write(notifications.map(\.jsonLine).joined(separator: "\n") + "\n", to: path, mode: 0o600)
        return path
    }

    /// Whether an outbox file already holds the notification with this key (crash recovery).
    func contains(key: String, inRelative rel: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path(forRelative: rel)) else { return false }
        return String(decoding: data, as: UTF8.self).contains("\"idempotency_key\":\(JSONText.quoted(key))")
    }
}
