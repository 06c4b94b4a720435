import Crypto
import Foundation

/// Where a fact came from: a record of a partner file, or an action the gateway performed.
public struct Provenance: Sendable, Hashable, Codable {
    public var fileHash: String?
    public var fileName: String?
    public var record: Int?
    public var line: Int?
    public var mapping: String?
    public var mappingVersion: Int?
    /// Set when the fact records the outcome of one of the gateway's own actions.
    public var action: String?

    public init(
        fileHash: String? = nil, fileName: String? = nil, record: Int? = nil, line: Int? = nil,
        mapping: String? = nil, mappingVersion: Int? = nil, action: String? = nil
    ) {
        self.fileHash = fileHash
        self.fileName = fileName
        self.record = record
        self.line = line
        self.mapping = mapping
        self.mappingVersion = mappingVersion
        self.action = action
    }

    /// One line for `explain`: `SALES_ES-MAD-01_20261001233000.xml record 2 (line 19), mapping intranet-sales v1`.
    public var summary: String {
        if let action { return "action \(action)" }
        var s = fileName ?? "?"
        if let record { s += " record \(record)" }
        if let line { s += " (line \(line))" }
        if let mapping { s += ", mapping \(mapping)" + (mappingVersion.map { " v\($0)" } ?? "") }
        return s
    }
}

/// A canonical fact about an order. Facts are immutable and idempotent: the id is derived from
/// the source (feed or action) and the natural key, so the same fact ingested twice is one fact.
public struct Fact: Sendable, Hashable {
    public let id: String
    public let orderRef: String
    public let kind: FactKind
    public let occurredAt: Date
    public let fields: FactFields
    public let provenance: Provenance

    public init(
        id: String, orderRef: String, kind: FactKind, occurredAt: Date, fields: FactFields,
        provenance: Provenance
    ) {
        self.id = id
        self.orderRef = orderRef
        self.kind = kind
        self.occurredAt = occurredAt
        self.fields = fields
        self.provenance = provenance
    }

    public subscript(_ field: String) -> FactValue? { fields[field] }
    public func string(_ field: String) -> String? { fields[field]?.string }
    public func int(_ field: String) -> Int64? { fields[field]?.int }
    public func time(_ field: String) -> Date? { fields[field]?.time }
}

public enum FactID {
    /// `f_` + 32 hex characters of SHA-256 over the source, the kind and the natural key parts.
    /// The source is the feed name (not the file), so a sale re-sent in another file is the same fact.
    public static func make(source: String, kind: FactKind, key: [String]) -> String {
        // One buffer, one hash: an update per part cost more than the hashing (ingest makes an id per record).
        var bytes = [UInt8]()
        bytes.reserveCapacity(source.utf8.count + kind.rawValue.utf8.count + key.reduce(0) { $0 + $1.utf8.count + 1 } + 1)
        bytes.append(contentsOf: source.utf8)
        bytes.append(0x1F)
        bytes.append(contentsOf: kind.rawValue.utf8)
        for part in key {
            bytes.append(0x1F)
            bytes.append(contentsOf: part.utf8)
        }
        return "f_" + Hex.encode(SHA256.hash(data: bytes).prefix(16))
    }
}

public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out = [UInt8]()
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func sha256(_ text: String) -> String {
        encode(SHA256.hash(data: Array(text.utf8)))
    }
}
