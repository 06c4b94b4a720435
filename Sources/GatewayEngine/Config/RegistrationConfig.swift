import Foundation
import GatewayFormats

/// `registration:` in caas-gateway.yaml. A country with no endpoint here is registered in file
/// mode: its submissions go to `outbox/registrations/<cc>/` for manual upload.
public struct RegistrationConfig: Sendable {
    public struct Endpoint: Sendable {
        public var baseURL: String
        /// Bearer token or API key, as the country's mapping says; never inline.
        public var secret: SecretReference?
        public var caBundle: String?
        public var clientCertificate: String?
        public var clientKey: String?
        public var timeout: TimeInterval = 30
        /// At most this many requests a minute to this body (nil: no limit).
        public var requestsPerMinute: Int?

        public init(baseURL: String) { self.baseURL = baseURL }
    }

    public var endpoints: [String: Endpoint] = [:]
    /// Requests in flight at once, across countries.
    public var concurrency = 4
    /// Attempts that ended in a 5xx, a time-out or no answer before the action needs a person.
    public var maxAttempts = 8
    public var firstBackoff: TimeInterval = 300
    public var maxBackoff: TimeInterval = 6 * 3600

    public init() {}

    /// Back-off between failed attempts, by the policy every retry in the gateway uses.
    var backoff: RetryPolicy { RetryPolicy(attempts: maxAttempts, firstDelay: firstBackoff, maxDelay: maxBackoff) }

    static func parse(_ node: YAMLNode) throws -> RegistrationConfig {
        var c = RegistrationConfig()
        let f = try node.fields(
            "registration",
            allowed: ["countries", "concurrency", "max_attempts", "first_backoff_seconds", "max_backoff_seconds"])
        if let v = f["concurrency"] { c.concurrency = min(32, max(1, try v.int("registration.concurrency"))) }
        if let v = f["max_attempts"] { c.maxAttempts = max(1, try v.int("registration.max_attempts")) }
        if let v = f["first_backoff_seconds"] { c.firstBackoff = TimeInterval(max(0, try v.int("first_backoff_seconds"))) }
        if let v = f["max_backoff_seconds"] { c.maxBackoff = TimeInterval(max(0, try v.int("max_backoff_seconds"))) }
        for e in try f["countries"]?.mapping("registration.countries") ?? [] {
            let what = "registration.countries.\(e.key)"
            let g = try e.value.fields(
                what,
                allowed: [
                    "base_url", "token", "api_key", "ca_bundle", "client_certificate", "client_key", "timeout_seconds",
                    "requests_per_minute",
                ])
            guard let urlNode = g["base_url"] else { throw e.value.error("\(what) needs base_url (leave the country out for file mode)") }
            let url = try urlNode.scalar("\(what).base_url")
            guard url.hasPrefix("https://") || url.hasPrefix("http://127.0.0.1") || url.hasPrefix("http://localhost") else {
                throw urlNode.error("\(what).base_url must be https:// (plain http only to this machine, for a simulator)")
            }
            var ep = Endpoint(baseURL: url.hasSuffix("/") ? String(url.dropLast()) : url)
            if let t = g["token"] ?? g["api_key"] { ep.secret = try SecretReference.parse(t, what: "\(what).token") }
            ep.caBundle = try g["ca_bundle"]?.scalar("\(what).ca_bundle")
            ep.clientCertificate = try g["client_certificate"]?.scalar("\(what).client_certificate")
            ep.clientKey = try g["client_key"]?.scalar("\(what).client_key")
            if (ep.clientCertificate == nil) != (ep.clientKey == nil) {
                throw e.value.error("\(what): client_certificate and client_key go together")
            }
            if let v = g["timeout_seconds"] { ep.timeout = TimeInterval(max(1, try v.int("\(what).timeout_seconds"))) }
            if let v = g["requests_per_minute"] { ep.requestsPerMinute = max(1, try v.int("\(what).requests_per_minute")) }
            c.endpoints[e.key.uppercased()] = ep
        }
        return c
    }

    mutating func resolve(_ abs: (String) -> String) {
        endpoints = endpoints.mapValues { e in
            var r = e
            r.caBundle = e.caBundle.map(abs)
            r.clientCertificate = e.clientCertificate.map(abs)
            r.clientKey = e.clientKey.map(abs)
            r.secret = e.secret?.resolvingFile(abs)
            return r
        }
    }
}
