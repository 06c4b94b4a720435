import Foundation
import GatewayFormats

/// `webhooks:`: the always-on receiver of partners' signed pushes (`caas-gateway receive`).
///
/// ```yaml
/// webhooks:
///   listen: 127.0.0.1:8090           # behind the TLS-terminating proxy, or with tls:
///   max_body_bytes: 262144
///   tolerance_seconds: 300           # a timestamp further from our clock is refused (401)
///   endpoints:
///     - path: /webhooks/factory
///       feed: factory-webhooks       # deliveries are written into inbox/<feed>/
///       secret: [{env: FACTORY_WEBHOOK_SECRET}, {file: /etc/caas/factory-webhook.next}]   # one, or several while rotating
///   tls: {certificate: keys/receiver.pem, key: keys/receiver.key}   # optional: HTTPS of its own
/// ```
public struct WebhooksConfig: Sendable {
    public struct Endpoint: Sendable {
        public var path: String
        public var feed: String
        public var secrets: [SecretReference]
    }

    public var host = "127.0.0.1"
    public var port = 8090
    public var maxBodyBytes = 256 * 1024
    public var tolerance: TimeInterval = 300
    public var endpoints: [Endpoint] = []
    /// Serve HTTPS with this certificate chain and key (PEM); without, plain HTTP behind a proxy.
    public var tls: (certificate: String, key: String)?

    static func parse(_ node: YAMLNode) throws -> WebhooksConfig {
        var c = WebhooksConfig()
        let f = try node.fields("webhooks", allowed: ["listen", "max_body_bytes", "tolerance_seconds", "endpoints", "tls"])
        if let l = f["listen"] {
            let text = try l.scalar("webhooks.listen")
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port),
                colon > text.startIndex
            else { throw l.error("webhooks.listen must be host:port, such as 127.0.0.1:8090") }
            c.host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            c.port = port
        }
        if let m = f["max_body_bytes"] {
            c.maxBodyBytes = try m.int("webhooks.max_body_bytes")
            guard (1...(16 << 20)).contains(c.maxBodyBytes) else { throw m.error("webhooks.max_body_bytes must be between 1 and 16777216") }
        }
        if let t = f["tolerance_seconds"] {
            let v = try t.int("webhooks.tolerance_seconds")
            guard (1...3600).contains(v) else { throw t.error("webhooks.tolerance_seconds must be between 1 and 3600") }
            c.tolerance = TimeInterval(v)
        }
        if let t = f["tls"] {
            let g = try t.fields("webhooks.tls", allowed: ["certificate", "key"])
            guard let cert = g["certificate"], let key = g["key"] else {
                throw t.error("webhooks.tls needs certificate and key (PEM files)")
            }
            c.tls = (try cert.scalar("webhooks.tls.certificate"), try key.scalar("webhooks.tls.key"))
        }
        guard let list = f["endpoints"] else { throw node.error("webhooks needs endpoints: [{path, feed, secret}]") }
        var paths = Set<String>()
        for e in try list.sequence("webhooks.endpoints") {
            let g = try e.fields("a webhook endpoint", allowed: ["path", "feed", "secret"])
            guard let p = g["path"], let feed = g["feed"], let s = g["secret"] else {
                throw e.error("a webhook endpoint needs path, feed and secret")
            }
            let path = try p.scalar("path")
            guard path.hasPrefix("/"), path != "/healthz", !path.contains(" ") else {
                throw p.error("an endpoint path starts with / (and /healthz is the receiver's own)")
            }
            guard paths.insert(path).inserted else { throw p.error("endpoint path \(path) is given twice") }
            let secrets =
                s.node.sequence != nil
                ? try s.sequence("secret").map { try SecretReference.parse($0, what: "secret") }
                : [try SecretReference.parse(s, what: "secret")]
            guard !secrets.isEmpty else { throw s.error("an endpoint needs at least one secret") }
            c.endpoints.append(Endpoint(path: path, feed: try feed.scalar("feed"), secrets: secrets))
        }
        return c
    }

    mutating func resolve(_ abs: (String) -> String) {
        for i in endpoints.indices { endpoints[i].secrets = endpoints[i].secrets.map { $0.resolvingFile(abs) } }
        if let t = tls { tls = (abs(t.certificate), abs(t.key)) }
    }
}
