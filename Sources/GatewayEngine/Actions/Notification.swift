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
