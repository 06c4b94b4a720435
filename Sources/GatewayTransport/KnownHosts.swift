import Crypto
import Foundation

/// OpenSSH's known_hosts, matched the way OpenSSH matches it: `host` means port 22,
/// `[host]:port` any other port, `*` and `?` wildcards, `!pattern` negation, hashed entries
/// (`|1|salt|hash`, HMAC-SHA1 of the host string), and `@revoked` keys. Written here rather than
/// through `libssh2_knownhost_checkp`, which also accepts a port-less entry for another port.
public struct KnownHosts: Sendable {
    struct Entry: Sendable {
        let patterns: [String]  // plain patterns; hashed ones are kept whole
        let keyType: String
        let key: Data
        let revoked: Bool
        let line: Int
    }

    public enum Verdict: Equatable, Sendable {
        case trusted
        /// The host is not in the file at all.
        case unknown
        /// The host is in the file with another key: refuse, it may be a man in the middle.
        case changed(knownTypes: [String], line: Int)
        case revoked(line: Int)
    }

    let entries: [Entry]
    public let path: String

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TransportError(.hostKey, "cannot read known_hosts file \(path)")
        }
        self.init(text: String(decoding: data, as: UTF8.self), path: path)
    }

    public init(text: String, path: String = "known_hosts") {
        self.path = path
        var out: [Entry] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var fields = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            var revoked = false
            if first.hasPrefix("@") {
                // @cert-authority lines describe CAs, which this client does not use.
                guard first == "@revoked" else { continue }
                revoked = true
                fields.removeFirst()
            }
            guard fields.count >= 3, let key = Data(base64Encoded: fields[2]) else { continue }
            out.append(
                Entry(
                    patterns: fields[0].split(separator: ",").map(String.init), keyType: fields[1], key: key,
                    revoked: revoked, line: i + 1))
        }
        entries = out
    }

    /// The string known_hosts uses for a host and port.
    public static func hostString(_ host: String, _ port: Int) -> String { port == 22 ? host : "[\(host)]:\(port)" }

    /// Whether some key, not revoked, is known for the host: without one every connection is refused.
    public func knows(host: String, port: Int) -> Bool {
        let name = Self.hostString(host, port)
        return entries.contains { !$0.revoked && Self.matches(name, $0.patterns) }
    }

    public func verify(host: String, port: Int, key: Data) -> Verdict {
        let name = Self.hostString(host, port)
        let matching = entries.filter { Self.matches(name, $0.patterns) }
        if let r = matching.first(where: { $0.revoked && $0.key == key }) { return .revoked(line: r.line) }
        if matching.contains(where: { !$0.revoked && $0.key == key }) { return .trusted }
        let others = matching.filter { !$0.revoked }
        if let first = others.first { return .changed(knownTypes: others.map(\.keyType), line: first.line) }
        return .unknown
    }

    /// A host matches when some pattern matches and no negated pattern does.
    static func matches(_ name: String, _ patterns: [String]) -> Bool {
        var hit = false
        for p in patterns {
            if p.hasPrefix("|1|") {
                if hashedMatch(name, p) { hit = true }
            } else if p.hasPrefix("!") {
                if wildcard(String(p.dropFirst()), name) { return false }
            } else if wildcard(p, name) {
                hit = true
            }
        }
        return hit
    }

    static func hashedMatch(_ name: String, _ pattern: String) -> Bool {
        let parts = pattern.split(separator: "|", omittingEmptySubsequences: true)
        guard parts.count == 3, let salt = Data(base64Encoded: String(parts[1])), let hash = Data(base64Encoded: String(parts[2])) else {
            return false
        }
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(name.utf8), using: SymmetricKey(data: salt))
        return Data(mac) == hash
    }

    /// OpenSSH's pattern language: `*` any run, `?` one character, case-insensitive.
    static func wildcard(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.lowercased().utf8), t = Array(text.lowercased().utf8)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == UInt8(ascii: "?") || p[pi] == t[ti]) {
                pi += 1
                ti += 1
            } else if pi < p.count && p[pi] == UInt8(ascii: "*") {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    /// `SHA256:…` as `ssh-keygen -l` prints it.
    public static func fingerprint(_ key: Data) -> String {
        "SHA256:" + Data(SHA256.hash(data: key)).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    /// The key type named inside an SSH public key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`, …).
    public static func keyType(of blob: Data) -> String {
        guard blob.count >= 4 else { return "unknown" }
        let b = [UInt8](blob)
        let n = Int(b[0]) << 24 | Int(b[1]) << 16 | Int(b[2]) << 8 | Int(b[3])
        guard n > 0, 4 + n <= b.count else { return "unknown" }
        return String(decoding: b[4..<(4 + n)], as: UTF8.self)
    }
}

/// A transport failure, classified so callers can decide: retry (connection), or stop and tell a
/// person (host key, authentication, refused name).
public struct TransportError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        case connection, hostKey = "host_key", authentication, remote, local
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// Worth another attempt after a pause: the network, not the configuration.
    public var isTransient: Bool { kind == .connection }
}
