import Foundation
import GatewayFormats

/// `store: {postgres: {url: "postgresql://caas@db.example:5432/caas", password: {env: CAAS_PG_PASSWORD}}}`.
/// The URL names the server, user and database, never the password, which comes from the
/// environment or a file. TLS: a server other than this host is verified (`sslmode=verify-full`,
/// against `sslrootcert` or ~/.postgresql/root.crt) unless the URL says otherwise.
public struct PostgresConfig: Sendable, Equatable {
    public var url: String
    public var password: SecretReference?

    static func parse(_ node: YAMLNode) throws -> PostgresConfig {
        let f = try node.fields("store.postgres", allowed: ["url", "password"])
        guard let u = f["url"] else { throw node.error("store.postgres needs a url (postgresql://user@host:5432/database)") }
        let raw = try u.scalar("store.postgres.url")
        guard raw.hasPrefix("postgresql://") || raw.hasPrefix("postgres://"), let parts = URLComponents(string: raw),
            let host = parts.host, !host.isEmpty
        else {
            throw u.error("store.postgres.url must be a postgresql://user@host:port/database URL")
        }
        guard parts.password == nil, !(parts.queryItems ?? []).contains(where: { $0.name == "password" }) else {
            throw u.error("store.postgres.url holds a password; write password: {env: VARIABLE} or {file: /path} instead")
        }
        guard let path = parts.path.split(separator: "/").first, !path.isEmpty else {
            throw u.error("store.postgres.url names no database (postgresql://user@host:port/DATABASE)")
        }
        var url = raw
        if !(parts.queryItems ?? []).contains(where: { $0.name == "sslmode" }), !Self.isLocal(host) {
            url += (parts.query == nil ? "?" : "&") + "sslmode=verify-full"
        }
        return PostgresConfig(url: url, password: try f["password"].map { try SecretReference.parse($0, what: "store.postgres.password") })
    }

    /// Loopback needs no TLS: nothing between the runner and the server can read it.
    static func isLocal(_ host: String) -> Bool {
        ["localhost", "127.0.0.1", "::1", "[::1]"].contains(host.lowercased()) || host.hasPrefix("%2F") || host.hasPrefix("/")
    }
}
