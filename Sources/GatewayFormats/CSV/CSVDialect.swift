/// How a partner writes its CSV. Everything RFC 4180 leaves open is a setting here.
public struct CSVDialect: Sendable, Equatable {
    public enum Encoding: String, Sendable, CaseIterable {
        case utf8 = "utf-8"
        case latin1 = "iso-8859-1"
        case windows1252 = "windows-1252"
    }

    public var delimiter: UInt8
    /// nil: quotes have no special meaning.
    public var quote: UInt8?
    public var header: Bool
    public var encoding: Encoding
    /// Unquoted fields equal to one of these read as empty (a quoted "NULL" stays text).
    public var nullValues: [String]
    /// Bytes of one field the reader keeps; the rest of a longer field is skipped and the field
    /// marked too long (`CSVRecordView.isTooLong`).
    public var maxFieldBytes = Int.max

    public init(
        delimiter: UInt8 = UInt8(ascii: ","), quote: UInt8? = UInt8(ascii: "\""), header: Bool = true,
        encoding: Encoding = .utf8, nullValues: [String] = []
    ) {
        self.delimiter = delimiter
        self.quote = quote
        self.header = header
        self.encoding = encoding
        self.nullValues = nullValues
    }
}
