import Crypto
import Foundation

/// Standard Webhooks 1.0 signatures: `webhook-signature` holds space-separated `v1,<base64>`
/// entries, each an HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<raw body>` keyed with the
/// bytes of a `whsec_<base64>` secret. Any entry matching any configured secret (several during
/// a rotation) verifies the delivery; comparisons are constant-time.
public enum StandardWebhooks {
    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case missingHeader(String)
        case staleTimestamp
        case badSignature

        public var description: String {
            switch self {
            case .missingHeader(let h): "missing or malformed \(h) header"
            case .staleTimestamp: "timestamp outside the tolerance"
            case .badSignature: "no signature matches"
            }
        }
    }

    /// The key bytes of a `whsec_…` secret (the prefix is optional, as the reference libraries accept).
    public static func key(_ secret: String) -> SymmetricKey? {
        let b64 = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        return Data(base64Encoded: b64).map { SymmetricKey(data: $0) }
    }

    public static func sign(id: String, timestamp: Int64, body: Data, key: SymmetricKey) -> String {
        var message = Data("\(id).\(timestamp).".utf8)
        message.append(body)
        return "v1," + Data(HMAC<SHA256>.authenticationCode(for: message, using: key)).base64EncodedString()
    }

    /// nil when the delivery is verified, else why not.
    public static func verify(
        id: String?, timestamp: String?, signature: String?, body: Data, keys: [SymmetricKey], now: Date, tolerance: TimeInterval
    ) -> Refusal? {
        guard let id, !id.isEmpty, id.utf8.count <= 256 else { return .missingHeader("webhook-id") }
        guard let timestamp, let ts = Int64(timestamp) else { return .missingHeader("webhook-timestamp") }
        guard abs(now.timeIntervalSince1970 - Double(ts)) <= tolerance else { return .staleTimestamp }
        guard let signature, !signature.isEmpty else { return .missingHeader("webhook-signature") }
        var message = Data("\(id).\(ts).".utf8)
        message.append(body)
        let offered = signature.split(separator: " ").compactMap { entry -> Data? in
            let parts = entry.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1" else { return nil }
            return Data(base64Encoded: String(parts[1]))
        }
        // A whole SHA-256 code only, then isValidAuthenticationCode, which compares in constant time.
        let candidates = offered.filter { $0.count == SHA256.byteCount }
        for key in keys
        where candidates.contains(where: { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: message, using: key) }) {
            return nil
        }
        return .badSignature
    }
}
