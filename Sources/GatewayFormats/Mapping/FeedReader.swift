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
        switch mapping.format {
        case .csv(let dialect):
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
