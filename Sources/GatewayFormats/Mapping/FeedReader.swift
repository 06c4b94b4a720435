import Foundation
import GatewayCore

/// A file's number in a partner's sequence (per scope, such as a plant).
public struct FileSequence: Sendable, Equatable {
    public let scope: String
    public let number: Int
}

/// Reads one partner file through its mapping, record by record. Record problems become
/// rejections and the file goes on; a problem with the file itself throws `FileProblem`.
public enum FeedReader {
    public struct Summary: Sendable, Equatable {
        public var records = 0
        public var accepted = 0
        public var rejected = 0
        public var skipped = 0
        /// The file's place in its partner's numbered sequence, when the mapping declares one.
        public var sequence: FileSequence? = nil
    }

    @discardableResult
    public static func read(
        path: String, mapping: FeedMapping, fileHash: String, fileName: String,
        _ body: (RecordOutcome) throws -> Void
    ) throws -> Summary {
        var summary = Summary()
        func deliver(_ outcome: RecordOutcome) throws {
            summary.records += 1
            switch outcome {
            case .fact: summary.accepted += 1
            case .rejected: summary.rejected += 1
            case .skipped: summary.skipped += 1
            }
            try body(outcome)
        }
        if let kind = try BinaryContent.kind(path: path, allowingNUL: mapping.format.isXML) {
            throw FileProblem(
                line: 0,
                message:
                    "the file is \(kind), not \(mapping.format.name) text: ask the partner for the plain file, or unpack it before dropping it into the inbox (compressed input is never unpacked here)"
            )
        }
        switch mapping.format {
        case .csv(var dialect):
            dialect.maxFieldBytes = mapping.maxFieldBytes
            // Without a header row the mapper needs nothing from the file, and records start at 1.
            var mapper: RecordMapper? =
                dialect.header ? nil : try RecordMapper(mapping: mapping, fileHash: fileHash, fileName: fileName, header: nil)
            var headerCount = 0
            do {
                try CSVReader(path: path, dialect: dialect).read { record in
                    if dialect.header && record.number == 0 {
                        var header: [String] = []
                        for i in 0..<record.count {
                            guard let name = record.string(i) else {
                                throw FileProblem(line: record.line, message: "the header is not valid \(dialect.encoding.rawValue)")
                            }
                            header.append(name.trimmingCharacters(in: .whitespaces))
                        }
                        headerCount = header.count
                        mapper = try RecordMapper(mapping: mapping, fileHash: fileHash, fileName: fileName, header: header)
                        return
                    }
                    if dialect.header && record.count != headerCount {
                        return try deliver(
                            .rejected([
                                Rejection(
                                    record: record.number, line: record.line, field: nil,
                                    reason:
                                        "has \(record.count) fields where the header has \(headerCount); check the delimiter and quoting on this line"
                                )
                            ]))
                    }
                    try deliver(mapper!.map(record))
                }
            } catch let e as CSVFileError {
                throw FileProblem(line: e.line, message: e.message)
            }
            if mapper == nil { throw FileProblem(line: 1, message: "the file is empty: no header row") }
        case .json(let json):
            let mapper = try RecordMapper(mapping: mapping, fileHash: fileHash, fileName: fileName, header: nil)
            do {
                try JSONRecords.read(path: path, format: json, maxDocumentBytes: mapping.maxDocumentBytes) { record in
                    try deliver(mapper.map(record))
                }
            } catch let e as JSONFileError {
                throw FileProblem(line: e.line, message: e.message)
            }
        case .xml(let xml):
            let mapper = try RecordMapper(mapping: mapping, fileHash: fileHash, fileName: fileName, header: nil)
            let values: [String: String]
            var elements = 0  // what a declared count counts: record elements, not their items
            do {
                values = try XMLStreamReader.records(
                    path: path, spec: XMLRecordSpec(recordPath: xml.recordPath, documentAttributes: xml.documentAttributes)
                ) { record in
                    elements += 1
                    guard let each = xml.each else { return try deliver(mapper.map(record)) }
                    for item in record.subRecords(each, firstNumber: summary.records + 1) { try deliver(mapper.map(item)) }
                }
            } catch let e as XMLFileError {
                throw FileProblem(line: e.line, message: e.message)
            }
            if let seqPath = xml.sequencePath {
                guard let n = values[seqPath].flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
                    throw FileProblem(line: 0, message: "the file does not state its sequence number (\(seqPath))")
                }
                summary.sequence = FileSequence(scope: xml.sequenceScopePath.flatMap { values[$0] } ?? "", number: n)
            }
            if let countPath = xml.countPath {
                guard let declared = values[countPath].flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
                    throw FileProblem(line: 0, message: "the file does not state its record count (\(countPath)): it may be incomplete")
                }
                if declared != elements {
                    throw FileProblem(
                        line: 0,
                        message:
                            "the file declares \(declared) records (\(countPath)) but holds \(elements): incomplete or corrupt, nothing of it was applied"
                    )
                }
            }
        }
        return summary
    }
}

/// What a file that is not text is, by its first bytes: compressed, an archive, a document, or
/// binary (NUL bytes). Checked before any reader sees it, so the reason names the real problem
/// (and libxml2 never unpacks a gzip stream by itself).
enum BinaryContent {
    static let magic: [(bytes: [UInt8], kind: String)] = [
        ([0x1F, 0x8B], "gzip-compressed"), ([0x50, 0x4B, 0x03, 0x04], "a ZIP archive"), ([0x42, 0x5A, 0x68], "bzip2-compressed"),
        ([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], "xz-compressed"), ([0x28, 0xB5, 0x2F, 0xFD], "zstd-compressed"),
        ([0x25, 0x50, 0x44, 0x46, 0x2D], "a PDF document"), ([0xD0, 0xCF, 0x11, 0xE0], "an old Office document"),
    ]

    /// `allowingNUL`: XML may be UTF-16 (its declaration and byte-order mark say so, and libxml2
    /// reads it), so only a CSV's NUL bytes make it binary.
    static func kind(path: String, allowingNUL: Bool) throws -> String? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var head = [UInt8](repeating: 0, count: 4096)
        let n = fread(&head, 1, head.count, f)
        let bytes = head.prefix(n)
        for m in magic where bytes.starts(with: m.bytes) { return m.kind }
        guard !allowingNUL else { return nil }
        // UTF-16 text starts with its byte-order mark and is full of NULs: say so, not "binary".
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) { return "UTF-16 text (set the partner to UTF-8)" }
        // A NUL or two is a broken field, which its record's check rejects; text has no more.
        if bytes.lazy.filter({ $0 == 0 }).count > max(8, bytes.count / 100) { return "binary data (it is full of NUL bytes)" }
        return nil
    }
}
