/// Why one record was not accepted. Never carries personal data: see `Redaction`.
public struct Rejection: Sendable, Hashable, Codable {
    public let record: Int
    public let line: Int
    public let field: String?
    public let reason: String
    /// The record's business reference (the sale's, for a sale) when it could be read: what the
    /// partner looks the record up by. A reference is never personal data.
    public var recordRef: String?

    public init(record: Int, line: Int, field: String?, reason: String, recordRef: String? = nil) {
        self.record = record
        self.line = line
        self.field = field
        self.reason = reason
        self.recordRef = recordRef
    }
}
