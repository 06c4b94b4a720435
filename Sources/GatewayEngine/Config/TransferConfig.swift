import Foundation
import GatewayFormats
import GatewayTransport

/// How to reach one SFTP server; shared by sources and destinations.
public struct SFTPServerConfig: Sendable {
    public var host: String
    public var port = 22
    public var user: String
    public var key: String
    public var passphrase: SecretReference?
    public var knownHosts: String
    public var connectTimeout: TimeInterval = 10
    public var ioTimeout: TimeInterval = 60

    func endpoint() throws -> SSHEndpoint {
        SSHEndpoint(
            host: host, port: port, user: user, privateKey: key, passphrase: try passphrase?.resolve(), knownHosts: knownHosts,
            connectTimeout: connectTimeout, ioTimeout: ioTimeout)
    }
}

/// A remote folder the gateway pulls partner files from.
public struct SourceConfig: Sendable {
    public enum After: Sendable, Equatable {
        case keep, delete
        case move(String)
    }

    public var name: String
    public var server: SFTPServerConfig
    public var remoteDir: String
    public var pattern: Pattern
    public var feed: String
    /// Size and mtime unchanged for this long (across two looks, across runs) before a file is taken.
    public var stableSeconds = 30
    /// The remote mtime is at least this old.
    public var minAgeSeconds = 0
    /// A file is taken only once `<name><suffix>` exists beside it.
    public var doneMarker: String?
    /// Files whose mapping declares a record count are checked after download and left for a
    /// later run if the count does not match (the partner is still writing).
    public var trailerCount = false
    public var after: After = .keep
}

/// A remote folder the gateway delivers one outbox folder to.
public struct DestinationConfig: Sendable {
    public enum IfExists: String, Sendable {
        case fail, overwrite
        case keepBoth = "keep_both"
    }

    public var name: String
    public var server: SFTPServerConfig
    public var remoteDir: String
    /// The outbox folder delivered: notifications, stock, registrations, reports.
    public var outbox: String
    public var ifExists: IfExists = .fail
}

/// Reconnection: bounded exponential backoff.
public struct RetryPolicy: Sendable {
    public var attempts = 4
    public var firstDelay: TimeInterval = 1
    public var maxDelay: TimeInterval = 30

    public func delay(afterAttempt n: Int) -> TimeInterval {
        min(maxDelay, firstDelay * pow(2, Double(n - 1)))
    }

    /// The delay with jitter (half to all of it), so many waiting actions do not come back at once.
    public func jitteredDelay(afterAttempt n: Int) -> TimeInterval {
        delay(afterAttempt: n) * Double.random(in: 0.5...1.0)
    }
}

enum TransferConfigParser {
    static let serverKeys: Set<String> = [
        "host", "port", "user", "key", "passphrase", "known_hosts", "connect_timeout_seconds", "io_timeout_seconds",
    ]

    static func server(_ f: [String: YAMLNode], _ node: YAMLNode, what: String) throws -> SFTPServerConfig {
        func need(_ k: String) throws -> String {
            guard let n = f[k] else { throw node.error("\(what) needs '\(k)'") }
            return try n.scalar("\(what).\(k)")
        }
        var s = SFTPServerConfig(host: try need("host"), user: try need("user"), key: try need("key"), knownHosts: try need("known_hosts"))
        if let p = f["port"] {
            s.port = try p.int("\(what).port")
            guard (1...65535).contains(s.port) else { throw p.error("\(what).port must be 1 to 65535") }
        }
        if let p = f["passphrase"] { s.passphrase = try SecretReference.parse(p, what: "\(what).passphrase") }
        if let t = f["connect_timeout_seconds"] { s.connectTimeout = TimeInterval(try t.int("connect_timeout_seconds")) }
        if let t = f["io_timeout_seconds"] { s.ioTimeout = TimeInterval(try t.int("io_timeout_seconds")) }
        return s
    }

    static func sources(_ node: YAMLNode) throws -> [SourceConfig] {
        var seen = Set<String>()
        return try node.sequence("sources").map { n in
            let f = try n.fields("a source", allowed: serverKeys.union(["name", "remote_dir", "pattern", "feed", "ready", "after"]))
            guard let nameNode = f["name"] else { throw n.error("a source needs 'name'") }
            let name = try nameNode.scalar("name")
            guard seen.insert(name).inserted else { throw nameNode.error("source '\(name)' is declared twice") }
            func need(_ k: String) throws -> YAMLNode {
                guard let v = f[k] else { throw n.error("source '\(name)' needs '\(k)'") }
                return v
            }
            let patternNode = try need("pattern")
            let pattern: Pattern
            do { pattern = try Pattern(try patternNode.scalar("pattern")) } catch is ConfigError {
                throw patternNode.error("pattern must be one value")
            } catch {
                throw patternNode.error("pattern is not a valid regular expression")
            }
            var s = SourceConfig(
                name: name, server: try server(f, n, what: "source '\(name)'"), remoteDir: try need("remote_dir").scalar("remote_dir"),
                pattern: pattern, feed: try need("feed").scalar("feed"))
            if let r = f["ready"] {
                let g = try r.fields("ready", allowed: ["stable_seconds", "min_age_seconds", "done_marker", "trailer_count"])
                if let v = g["stable_seconds"] { s.stableSeconds = try v.int("stable_seconds") }
                if let v = g["min_age_seconds"] { s.minAgeSeconds = try v.int("min_age_seconds") }
                if let v = g["done_marker"] { s.doneMarker = try v.scalar("done_marker") }
                if let v = g["trailer_count"] { s.trailerCount = try v.bool("trailer_count") }
            }
            if let a = f["after"] {
                if let text = a.node.scalar?.string {
                    switch text {
                    case "keep": s.after = .keep
                    case "delete": s.after = .delete
                    default: throw a.error("after must be keep, delete or {move: /remote/folder}")
                    }
                } else {
                    let g = try a.fields("after", allowed: ["move"])
                    guard let m = g["move"] else { throw a.error("after must be keep, delete or {move: /remote/folder}") }
                    s.after = .move(try m.scalar("after.move"))
                }
            }
            return s
        }
    }

    static func destinations(_ node: YAMLNode) throws -> [DestinationConfig] {
        var seen = Set<String>()
        return try node.sequence("destinations").map { n in
            let f = try n.fields("a destination", allowed: serverKeys.union(["name", "remote_dir", "outbox", "if_exists"]))
            guard let nameNode = f["name"] else { throw n.error("a destination needs 'name'") }
            let name = try nameNode.scalar("name")
            guard seen.insert(name).inserted else { throw nameNode.error("destination '\(name)' is declared twice") }
            guard let dir = f["remote_dir"], let outbox = f["outbox"] else {
                throw n.error("destination '\(name)' needs remote_dir and outbox")
            }
            let folder = try outbox.scalar("outbox")
            guard ["notifications", "stock", "registrations", "reports"].contains(folder) else {
                throw outbox.error("outbox must be notifications, stock, registrations or reports")
            }
            var d = DestinationConfig(
                name: name, server: try server(f, n, what: "destination '\(name)'"), remoteDir: try dir.scalar("remote_dir"),
                outbox: folder)
            if let e = f["if_exists"] {
                guard let v = DestinationConfig.IfExists(rawValue: try e.scalar("if_exists")) else {
                    throw e.error("if_exists must be fail, overwrite or keep_both")
                }
                d.ifExists = v
            }
            return d
        }
    }

    static func retry(_ node: YAMLNode) throws -> RetryPolicy {
        var r = RetryPolicy()
        let f = try node.fields("retry", allowed: ["attempts", "first_delay_seconds", "max_delay_seconds"])
        if let v = f["attempts"] { r.attempts = max(1, try v.int("attempts")) }
        if let v = f["first_delay_seconds"] { r.firstDelay = TimeInterval(try v.int("first_delay_seconds")) }
        if let v = f["max_delay_seconds"] { r.maxDelay = TimeInterval(try v.int("max_delay_seconds")) }
        return r
    }
}

/// The factory's order API. Without it, reserved orders wait: no person places factory orders, and
/// the gateway places none it cannot reach.
public struct FactoryConfig: Sendable {
    public var baseURL: String
    public var token: SecretReference
    public var caBundle: String?
    public var timeout: TimeInterval = 30
    /// Attempts before the action is given up and escalated in the report.
    public var maxAttempts = 8
    /// Orders placed at once.
    public var concurrency = 4
    /// Back-off after a failed attempt: doubling from this, up to `maxBackoff`, with jitter.
    public var firstBackoff: TimeInterval = 60
    public var maxBackoff: TimeInterval = 3600

    /// Back-off between attempts, by the policy every retry in the gateway uses.
    var backoff: RetryPolicy { RetryPolicy(attempts: maxAttempts, firstDelay: firstBackoff, maxDelay: maxBackoff) }

    static func parse(_ node: YAMLNode) throws -> FactoryConfig {
        let f = try node.fields(
            "factory",
            allowed: [
                "base_url", "token", "ca_bundle", "timeout_seconds", "max_attempts", "concurrency", "first_backoff_seconds",
                "max_backoff_seconds",
            ])
        guard let url = f["base_url"], let token = f["token"] else { throw node.error("factory needs base_url and token") }
        let base = try url.scalar("factory.base_url")
        guard base.hasPrefix("https://") || base.hasPrefix("http://127.0.0.1") || base.hasPrefix("http://localhost") else {
            throw url.error("factory.base_url must be https:// (plain http only to this machine, for a simulator)")
        }
        var c = FactoryConfig(
            baseURL: base.hasSuffix("/") ? String(base.dropLast()) : base, token: try SecretReference.parse(token, what: "factory.token"))
        c.caBundle = try f["ca_bundle"].map { try $0.scalar("factory.ca_bundle") }
        if let v = f["timeout_seconds"] { c.timeout = TimeInterval(try v.int("timeout_seconds")) }
        if let v = f["max_attempts"] { c.maxAttempts = max(1, try v.int("max_attempts")) }
        if let v = f["concurrency"] { c.concurrency = min(32, max(1, try v.int("concurrency"))) }
        if let v = f["first_backoff_seconds"] { c.firstBackoff = TimeInterval(try v.int("first_backoff_seconds")) }
        if let v = f["max_backoff_seconds"] { c.maxBackoff = TimeInterval(try v.int("max_backoff_seconds")) }
        return c
    }
}
