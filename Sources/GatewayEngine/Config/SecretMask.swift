import Foundation
import GatewayCore

/// Every secret the configuration names (tokens, API keys, webhook secrets, the store's password,
/// key passphrases), resolved once, so that what a partner sends back can be cleaned of them
/// before it is stored, logged or reported: a factory that echoes our bearer token in its error
/// body must not put the token into the store and the day's report.
public struct SecretMask: Sendable {
    /// What stands in a secret's place.
    public static let placeholder = "***"
    /// Shorter values are not masked: a secret of a few characters is no secret, and masking
    /// it would blank ordinary words.
    static let shortest = 6

    let values: [String]

    public init(_ secrets: [String]) {
        var all = Set<String>()
        for s in secrets where s.utf8.count >= Self.shortest {
            all.insert(s)
            // The forms an echo may take: base64 of it (a Basic header), and a whsec_ secret's key.
            all.insert(Data(s.utf8).base64EncodedString())
            if s.hasPrefix("whsec_") { all.insert(String(s.dropFirst(6))) }
            if let escaped = s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) { all.insert(escaped) }
        }
        // Longest first, so that a secret containing another is masked whole.
        values = all.filter { $0.utf8.count >= Self.shortest }.sorted { ($0.utf8.count, $0) > ($1.utf8.count, $1) }
    }

    /// The configuration's secrets; one that does not resolve here cannot have been sent, and is skipped.
    public init(config: GatewayConfig, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.init(config.secretReferences.compactMap { try? $0.reference.resolve(environment: environment) })
    }

    /// `text` with every secret replaced by `placeholder`.
    public func apply(_ text: String) -> String {
        guard !values.isEmpty else { return text }
        var out = text
        for v in values where out.contains(v) { out = out.replacingOccurrences(of: v, with: Self.placeholder) }
        return out
    }

    public func apply(_ text: String?) -> String? { text.map(apply) }

    /// A fact's text fields cleaned the same way (a partner's answer can become a fact).
    public func apply(_ fact: Fact) -> Fact {
        guard !values.isEmpty else { return fact }
        var fields = fact.fields
        for e in fact.fields {
            switch e.value {
            case .string(let s): fields[e.key] = .string(apply(s))
            case .list(let l): fields[e.key] = .list(l.map(apply))
            default: break
            }
        }
        return Fact(
            id: fact.id, orderRef: fact.orderRef, kind: fact.kind, occurredAt: fact.occurredAt, fields: fields, provenance: fact.provenance)
    }
}

extension GatewayConfig {
    /// Every secret reference of the configuration, with the key that names it.
    public var secretReferences: [(key: String, reference: SecretReference)] {
        var refs: [(key: String, reference: SecretReference)] = []
        if let f = factory { refs.append(("factory.token", f.token)) }
        if let p = postgres?.password { refs.append(("store.postgres.password", p)) }
        for (cc, ep) in registration.endpoints.sorted(by: { $0.key < $1.key }) {
            if let s = ep.secret { refs.append(("registration.countries.\(cc)", s)) }
        }
        for (i, e) in (webhooks?.endpoints ?? []).enumerated() {
            for (j, ref) in e.secrets.enumerated() {
                refs.append(("webhooks.endpoints[\(i)].secret" + (e.secrets.count > 1 ? "[\(j)]" : ""), ref))
            }
        }
        for s in sources { if let p = s.server.passphrase { refs.append(("sources[\(s.name)].passphrase", p)) } }
        for d in destinations { if let p = d.server.passphrase { refs.append(("destinations[\(d.name)].passphrase", p)) } }
        return refs
    }
}
