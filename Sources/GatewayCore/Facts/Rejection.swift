/// Why one record was not accepted. Never carries personal data: see `Redaction`.
public struct Rejection: Sendable, Hashable, Codable {
    public let record: Int
    public let line: Int
    public let field: String?
    public let reason: String

    public init(record: Int, line: Int, field: String?, reason: String) {
        self.record = record
        self.line = line
        self.field = field
        self.reason = reason
    }
}
