import Foundation

/// A deterministic corpus of hostile and tolerant partner files, built from each feed's good
/// story file by mutations of one class each: compressed or binary content, wrong encodings,
/// truncation, XML attacks, foreign roots, broken quoting, header variants, control characters,
/// huge fields, reused sequence numbers. Every case says what must become of it. The same
/// seed-free rules give the same bytes on every run.
public struct HostileCase {
    public enum Expected: Sendable, Equatable, CustomStringConvertible {
        /// The whole file goes to quarantine; the reason contains the text when given.
        case quarantined(String?)
        /// Read, with at least one record rejected for a reason containing the text.
        case rejected(String)
        /// Not taken whole: quarantined, or read with at least one record rejected.
        case damaged
        /// A file partners legitimately write: read with nothing rejected.
        case ingestedClean
        /// The same bytes as a file taken before: reported, never applied again.
        case duplicate

        public var description: String {
            switch self {
            case .quarantined(let r): "quarantined" + (r.map { " (\($0))" } ?? "")
            case .rejected(let r): "rejected (\(r))"
            case .damaged: "quarantined or rejected"
            case .ingestedClean: "ingested clean"
            case .duplicate: "duplicate"
            }
        }
    }

    public let id: String
    /// The class of input, for the tally.
    public let kind: String
    public let feed: String
    public let fileName: String
    public let expected: Expected
    /// Bytes the input carries that no reason or log may repeat (a personal value, the attack).
    public let secret: String?
    /// A file taken in before this one, in the same store (the holder of a reused number).
    public let before: (name: String, data: Data)?
    let make: () -> Data

    public var data: Data { make() }
}

/// A feed's good file and what the corpus needs to know about it.
public struct CorpusFeed: Sendable {
    public enum Format: Sendable { case csv(delimiter: UInt8), xml }
    public let feed: String
    public let fileName: String
    public let base: Data
    public let format: Format
    /// CSV: header names the mapping reads. XML: local names of elements whose text it reads.
    public let mapped: [String]
    /// XML: whether the file declares its record count (a trailer or a count attribute).
    public let declaresCount: String?
    /// XML numbered files: the attribute holding the number, and a later name for the same number.
    public let sequence: (attribute: String, laterName: String)?

    public init(
        feed: String, fileName: String, base: Data, format: Format, mapped: [String], declaresCount: String? = nil,
        sequence: (attribute: String, laterName: String)? = nil
    ) {
        self.feed = feed
        self.fileName = fileName
        self.base = base
        self.format = format
        self.mapped = mapped
        self.declaresCount = declaresCount
        self.sequence = sequence
    }
}

public enum HostileCorpus {
    /// Control characters a text field must not hold (tab, CR and LF may).
    public static let controls: [UInt8] = [0x00, 0x01, 0x02, 0x07, 0x08, 0x0B, 0x0C, 0x0E, 0x1B, 0x1F, 0x7F]

    public static func cases(_ feeds: [CorpusFeed], fieldCap: Int, hugeSizes: [Int]) -> [HostileCase] {
        feeds.flatMap { f in fileLevel(f) + (f.format.isXML ? xml(f, fieldCap: fieldCap) : csv(f, fieldCap: fieldCap, hugeSizes: hugeSizes))
        }
    }

    static func c(
        _ f: CorpusFeed, _ kind: String, _ id: String, _ expected: HostileCase.Expected, secret: String? = nil,
        name: String? = nil, before: (String, Data)? = nil, _ make: @escaping () -> Data
    ) -> HostileCase {
        HostileCase(
            id: "\(f.feed)/\(id)", kind: kind, feed: f.feed, fileName: name ?? f.fileName, expected: expected, secret: secret,
            before: before.map { (name: $0.0, data: $0.1) }, make: make)
    }

    /// What any file can be instead of text.
    static func fileLevel(_ f: CorpusFeed) -> [HostileCase] {
        let base = f.base
        let text = f.format.isXML ? "XML" : "CSV"
        var out = [
            c(f, "empty", "empty", .quarantined(nil)) { Data() },
            c(f, "compressed", "gzip", .quarantined("gzip-compressed, not \(text) text")) { gzip(base) },
            c(f, "compressed", "zip", .quarantined("a ZIP archive")) { Data([0x50, 0x4B, 0x03, 0x04]) + base },
            c(f, "compressed", "bzip2", .quarantined("bzip2-compressed")) { Data("BZh91AY&SY".utf8) + base },
            c(f, "compressed", "xz", .quarantined("xz-compressed")) { Data([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) + base },
            c(f, "document", "pdf", .quarantined("a PDF document")) { Data("%PDF-1.7\n".utf8) + base },
            c(f, "binary", "nul-bytes", f.format.isXML ? .quarantined(nil) : .quarantined("binary data")) {
                Data((0..<4096).map { UInt8(truncatingIfNeeded: ($0 * 7919) % 3 == 0 ? 0 : $0 * 31) })
            },
        ]
        // XML cannot end early unnoticed; a CSV without a trailer can, so its cuts are its own.
        if f.format.isXML {
            for pct in [10, 50, 90] {
                out.append(c(f, "truncated", "truncated-\(pct)", .damaged) { base.prefix(base.count * pct / 100) })
            }
        }
        return out
    }

    static func xml(_ f: CorpusFeed, fieldCap: Int) -> [HostileCase] {
        let s = String(decoding: f.base, as: UTF8.self)
        let declEnd = s.range(of: "?>")!.upperBound
        let rootStart = s.range(of: "<", range: declEnd..<s.endIndex)!.lowerBound
        let rootName = String(s[s.index(after: rootStart)...].prefix { $0 != " " && $0 != ">" })
        func insertBeforeRoot(_ text: String) -> Data { Data((String(s[..<rootStart]) + text + "\n" + String(s[rootStart...])).utf8) }
        func replacingFirstText(_ element: String, _ new: (String) -> String) -> Data {
            guard let open = s.range(of: "<\(element)>"), let close = s.range(of: "</\(element)>", range: open.upperBound..<s.endIndex)
            else { return f.base }
            return Data(
                (String(s[..<open.upperBound]) + new(String(s[open.upperBound..<close.lowerBound])) + String(s[close.lowerBound...])).utf8)
        }
        var out: [HostileCase] = [
            c(f, "xml-attack", "doctype-entity-bomb", .quarantined("DOCTYPE"), secret: "lol9") {
                insertBeforeRoot(
                    "<!DOCTYPE \(rootName) [<!ENTITY lol \"lol\">"
                        + (1...9).map {
                            "<!ENTITY lol\($0) \"" + String(repeating: "&lol\($0 == 1 ? "" : String($0 - 1));", count: 10) + "\">"
                        }.joined()
                        + "]>")
            },
            c(f, "xml-attack", "xxe-file", .quarantined("DOCTYPE"), secret: "root:x:0:0") {
                insertBeforeRoot("<!DOCTYPE \(rootName) [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>")
            },
            c(f, "xml-attack", "xxe-url", .quarantined("DOCTYPE")) {
                insertBeforeRoot("<!DOCTYPE \(rootName) SYSTEM \"http://127.0.0.1:9/evil.dtd\">")
            },
            c(f, "xml-attack", "parameter-entity", .quarantined("DOCTYPE")) {
                insertBeforeRoot("<!DOCTYPE \(rootName) [<!ENTITY % p SYSTEM \"file:///etc/hostname\"> %p;]>")
            },
            c(f, "foreign-root", "other-namespace", .quarantined("namespace")) {
                Data(s.replacingOccurrences(of: "xmlns=\"", with: "xmlns=\"urn:someone-else:").utf8)
            },
            c(f, "foreign-root", "other-element", .quarantined("root element")) {
                Data(
                    s.replacingOccurrences(of: "<\(rootName)", with: "<Other\(rootName)").replacingOccurrences(
                        of: "</\(rootName)>", with: "</Other\(rootName)>"
                    ).utf8)
            },
            c(f, "broken-xml", "unclosed-tag", .quarantined(nil)) {
                Data(s.replacingOccurrences(of: "</\(rootName)>", with: "").utf8)
            },
            c(f, "encoding", "latin1-bytes", .quarantined(nil)) {
                var d = f.base
                d.append(contentsOf: [0x3C, 0x21, 0x2D, 0x2D, 0xE9, 0x2D, 0x2D, 0x3E])  // <!--é--> in Latin-1
                return d
            },
            c(f, "tolerant", "crlf-line-endings", .ingestedClean) { Data(s.replacingOccurrences(of: "\n", with: "\r\n").utf8) },
            c(f, "tolerant", "utf8-bom", .ingestedClean) { Data([0xEF, 0xBB, 0xBF]) + f.base },
            c(f, "tolerant", "comments-and-whitespace", .ingestedClean) {
                Data(s.replacingOccurrences(of: "</\(rootName)>", with: "  <!-- resent by hand -->\n</\(rootName)>\n\n").utf8)
            },
        ]
        for b in controls where b != 0x00 {
            // XML 1.0 has no place for C0 controls (the document is not well-formed); DEL it
            // allows, and the field's check rejects the record.
            out.append(
                c(f, "control-character", String(format: "control-%02X", b), b == 0x7F ? .rejected("control character") : .quarantined(nil))
                {
                    replacingFirstText(f.mapped[0]) { $0 + String(UnicodeScalar(b)) }
                })
        }
        for element in f.mapped.prefix(3) {
            out.append(
                c(f, "huge-field", "huge-\(element)", .damaged) {
                    replacingFirstText(element) { $0 + String(repeating: "Z", count: fieldCap + 1) }
                })
        }
        // Far past the cap: libxml2 refuses a text node over 10 MB (no XML_PARSE_HUGE), below
        // that the field's cap rejects the record; either way memory stays bounded.
        for size in [4 << 20, 24 << 20] {
            out.append(
                c(f, "huge-field", "huge-\(size >> 20)MiB-\(f.mapped[0])", .damaged) {
                    replacingFirstText(f.mapped[0]) { $0 + String(repeating: "Z", count: size) }
                })
        }
        if let count = f.declaresCount {
            out.append(
                c(f, "count-mismatch", "count-mismatch", .quarantined("declares")) {
                    Data(s.replacingOccurrences(of: count + "\"", with: count + "9\"").utf8)
                })
        }
        if let seq = f.sequence {
            let reused = Data(s.replacingOccurrences(of: "<\(f.mapped[0])>", with: "<\(f.mapped[0])>X").utf8)
            out.append(
                c(f, "sequence-reuse", "reused-number", .quarantined("already used by"), name: seq.laterName, before: (f.fileName, f.base))
                {
                    reused
                })
            out.append(
                c(f, "sequence-reuse", "same-bytes-resent", .duplicate, name: seq.laterName, before: (f.fileName, f.base)) { f.base })
        }
        return out
    }

    static func csv(_ f: CorpusFeed, fieldCap: Int, hugeSizes: [Int]) -> [HostileCase] {
        guard case .csv(let delim) = f.format else { return [] }
        let table = CSVTable(f.base, delimiter: delim)
        var out: [HostileCase] = [
            // A stray quote runs to the next quote of the file: the record loses fields, or the
            // file ends inside it.
            c(f, "broken-quoting", "stray-quote", .damaged) {
                table.with(row: 1, column: table.header[0]) { "\"" + $0 }.bytes(rawQuote: true)
            },
            c(f, "broken-quoting", "unclosed-quote-at-end", .quarantined("never closed")) {
                table.bytes() + Data("\"never closed".utf8)
            },
            c(f, "truncated", "cut-in-first-field", .rejected("fields where the header has")) { table.cut(inField: 0) },
            c(f, "truncated", "cut-before-last-field", .rejected("fields where the header has")) {
                table.cut(inField: table.header.count - 2)
            },
            c(f, "broken-quoting", "extra-fields", .rejected("fields where the header has")) {
                table.with(row: 1, column: table.header.last!) { $0 }.bytes(extraField: true)
            },
            c(f, "encoding", "utf16", .quarantined("UTF-16")) {
                Data([0xFF, 0xFE])
                    + Data(String(decoding: table.bytes(), as: UTF8.self).utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
            },
            c(f, "header", "repeated-column", .quarantined("repeats column")) {
                table.renaming(table.header.last!, to: f.mapped[0]).bytes()
            },
            c(f, "header", "missing-column", .quarantined("lacks column")) {
                table.renaming(f.mapped[0], to: f.mapped[0] + "_x").bytes()
            },
            c(f, "tolerant", "header-upper-case", .ingestedClean) { table.mappingHeader { $0.uppercased() }.bytes() },
            c(f, "tolerant", "header-spaces", .ingestedClean) { table.mappingHeader { "  \($0) " }.bytes() },
            c(f, "tolerant", "crlf-line-endings", .ingestedClean) { table.bytes(lineEnding: "\r\n") },
            c(f, "tolerant", "utf8-bom", .ingestedClean) { Data([0xEF, 0xBB, 0xBF]) + table.bytes() },
            c(f, "tolerant", "blank-lines", .ingestedClean) { table.bytes(blankLineEvery: 1) },
            c(f, "tolerant", "no-final-line-break", .ingestedClean) { table.bytes().dropLast() },
        ]
        for column in f.mapped.prefix(4) {
            for b in controls {
                out.append(
                    c(f, "control-character", String(format: "control-%02X-%@", b, column), .rejected("control character")) {
                        table.with(row: 1, column: column) { $0 + String(UnicodeScalar(b)) }.bytes()
                    })
            }
            out.append(
                c(f, "encoding", "invalid-utf8-\(column)", .rejected("not valid text")) {
                    table.with(row: 1, column: column) { $0 + "\u{FFFD}" }.bytes(replacing: [0xEF, 0xBF, 0xBD], with: [0xC3, 0x28])
                })
            out.append(
                c(f, "huge-field", "cap-plus-one-\(column)", .rejected("longer than \(fieldCap) bytes")) {
                    table.with(row: 1, column: column) { _ in String(repeating: "Q", count: fieldCap + 1) }.bytes()
                })
        }
        for size in hugeSizes {
            let column = f.mapped[0]
            out.append(
                c(f, "huge-field", "huge-\(size >> 20)MiB", .rejected("longer than \(fieldCap) bytes")) {
                    table.hugeField(row: 1, column: column, bytes: size)
                })
        }
        return out
    }

    /// gzip by the system's gzip: real compressed bytes.
    public static func gzip(_ data: Data) -> Data {
        (try? Command.capture(["/bin/gzip", "-c", "-n"], input: data, standardError: .discarded))?.outputData ?? Data()
    }
}

extension CorpusFeed.Format {
    var isXML: Bool {
        if case .xml = self { return true }
        return false
    }
}

/// A small RFC 4180 table of a good file, to change one field and write it back.
struct CSVTable: Sendable {
    var header: [String]
    var rows: [[String]]
    let delimiter: UInt8

    init(_ data: Data, delimiter: UInt8) {
        self.delimiter = delimiter
        var bytes = Array(data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        var records: [[String]] = []
        var field: [UInt8] = [], record: [String] = []
        var quoted = false, i = 0
        func endField() {
            record.append(String(decoding: field, as: UTF8.self))
            field = []
        }
        while i < bytes.count {
            let b = bytes[i]
            if quoted {
                if b == 0x22 {
                    if i + 1 < bytes.count, bytes[i + 1] == 0x22 {
                        field.append(0x22)
                        i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(b)
                }
            } else if b == 0x22 && field.isEmpty {
                quoted = true
            } else if b == delimiter {
                endField()
            } else if b == 0x0A || b == 0x0D {
                if b == 0x0D, i + 1 < bytes.count, bytes[i + 1] == 0x0A { i += 1 }
                endField()
                records.append(record)
                record = []
            } else {
                field.append(b)
            }
            i += 1
        }
        if !field.isEmpty || !record.isEmpty {
            endField()
            records.append(record)
        }
        header = records.first ?? []
        rows = Array(records.dropFirst())
    }

    func with(row: Int, column: String, _ change: (String) -> String) -> CSVTable {
        var t = self
        if let i = header.firstIndex(of: column), row - 1 < t.rows.count, i < t.rows[row - 1].count {
            t.rows[row - 1][i] = change(t.rows[row - 1][i])
        }
        return t
    }

    func renaming(_ column: String, to name: String) -> CSVTable {
        var t = self
        if let i = header.firstIndex(of: column) { t.header[i] = name }
        return t
    }

    func mappingHeader(_ f: (String) -> String) -> CSVTable {
        var t = self
        t.header = header.map(f)
        return t
    }

    func cell(_ s: String) -> String {
        let d = Character(UnicodeScalar(delimiter))
        return s.contains(d) || s.contains("\"") || s.contains("\n") || s.contains("\r")
            ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    func bytes(
        lineEnding: String = "\n", blankLineEvery: Int = 0, rawQuote: Bool = false, extraField: Bool = false,
        replacing: [UInt8]? = nil, with replacement: [UInt8] = []
    ) -> Data {
        let d = String(UnicodeScalar(delimiter))
        var lines = [header.map(cell).joined(separator: d)]
        for (n, r) in rows.enumerated() {
            var cells = r.map { rawQuote && $0.hasPrefix("\"") && n == 0 ? $0 : cell($0) }
            if extraField && n == 0 { cells.append("surplus") }
            lines.append(cells.joined(separator: d))
            if blankLineEvery > 0 { lines.append("") }
        }
        var out = Array((lines.joined(separator: lineEnding) + lineEnding).utf8)
        if let replacing, let at = out.firstRange(of: replacing) { out.replaceSubrange(at, with: replacement) }
        return Data(out)
    }

    /// The file cut in the middle of its last record's field `index` (the next fields are lost).
    func cut(inField index: Int) -> Data {
        var t = self
        guard var last = t.rows.popLast() else { return bytes() }
        let kept = Array(last.prefix(index + 1))
        var partial = kept.last ?? ""
        partial = String(partial.prefix(max(1, partial.count / 2)))
        last = Array(kept.dropLast()) + [partial]
        var out = t.bytes()
        out.append(Data(last.map(cell).joined(separator: String(UnicodeScalar(delimiter))).utf8))
        return out
    }

    /// The table with one field of `bytes` bytes, written without building the text in memory twice.
    func hugeField(row: Int, column: String, bytes size: Int) -> Data {
        let marker = "\u{1}HUGE\u{1}"
        let text = String(decoding: with(row: row, column: column) { _ in marker }.bytes(), as: UTF8.self)
        let parts = text.components(separatedBy: marker)
        var out = Data(parts[0].utf8)
        out.append(Data(repeating: UInt8(ascii: "H"), count: size))
        out.append(Data(parts[1].utf8))
        return out
    }
}
