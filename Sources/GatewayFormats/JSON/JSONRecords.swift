import Foundation

/// `format: json`: one JSON document per file, or NDJSON (`json.lines: true`, one document a
/// line). `json.record` is the path of the records inside a document (`data/items`: an array
/// gives one record per element, an object one record; empty: the document is the record).
/// Field paths are relative to the record (`data/code`), or absolute from the document (`/id`).
public struct JSONFormat: Sendable {
    public var record: [String]
    public var lines: Bool

    public init(record: [String], lines: Bool) {
        self.record = record
        self.lines = lines
    }

    /// `a/b/c` as steps; a leading `/` is for absolute paths and is dropped here.
    public static func steps(_ text: String) -> [String] {
        text.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }
}

/// A problem that stops a JSON file: it is not JSON, or has no records where the mapping says.
public struct JSONFileError: Error, Sendable {
    public let line: Int
    public let message: String
}

/// One record of a JSON file, as the mapper reads it.
public struct JSONRecordView: RecordAccess {
    public let number: Int
    /// The NDJSON line, or 1 for a whole document.
    public let line: Int
    let record: Any
    let document: Any

    public func raw(_ source: ResolvedSource) -> [String]? {
        switch source {
        case .json(let path): return Self.values(at: path, in: record)
        case .jsonDocument(let path): return Self.values(at: path, in: document)
        case .constant(let v): return [v]
        default: return []
        }
    }

    /// The texts at `path`: an array on the way gives every element's; strings as they are,
    /// numbers as JSON wrote them, booleans as true/false; null, objects and missing keys give none.
    static func values(at path: [String], in value: Any) -> [String] {
        guard let first = path.first else { return leaf(value) }
        let rest = Array(path.dropFirst())
        if let array = value as? [Any] { return array.flatMap { values(at: path, in: $0) } }
        guard let object = value as? [String: Any], let next = object[first] else { return [] }
        return values(at: rest, in: next)
    }

    static func leaf(_ value: Any) -> [String] {
        switch value {
        case let s as String: return [s]
        case let n as NSNumber:
            // A JSON boolean arrives as an NSNumber of Objective-C type 'c' (a char).
            if String(cString: n.objCType) == "c" { return [n.boolValue ? "true" : "false"] }
            return [n.stringValue]
        case let a as [Any]: return a.flatMap(leaf)
        default: return []
        }
    }
}

public enum JSONRecords {
    /// Calls `body` for each record of the file. A file over `maxDocumentBytes` per document (a
    /// whole file, or an NDJSON line) is refused rather than read.
    public static func read(path: String, format: JSONFormat, maxDocumentBytes: Int, _ body: (JSONRecordView) throws -> Void) throws {
        var number = 0
        func records(of document: Any, line: Int) throws {
            var at: Any = document
            for (i, step) in format.record.enumerated() {
                guard let object = at as? [String: Any] else {
                    throw JSONFileError(
                        line: line,
                        message:
                            "json.record \(format.record.joined(separator: "/")): \(format.record.prefix(i).joined(separator: "/")) is not an object"
                    )
                }
                guard let next = object[step] else {
                    throw JSONFileError(
                        line: line,
                        message:
                            "the document has no \(format.record.prefix(i + 1).joined(separator: "/")), where the mapping's json.record says the records are: another document type?"
                    )
                }
                at = next
            }
            for item in (at as? [Any]) ?? [at] {
                guard item is [String: Any] else { throw JSONFileError(line: line, message: "a record is not a JSON object") }
                number += 1
                try body(JSONRecordView(number: number, line: line, record: item, document: document))
            }
        }
        func parse(_ data: Data, line: Int) throws -> Any {
            guard data.count <= maxDocumentBytes else {
                throw JSONFileError(
                    line: line,
                    message: "a document of \(data.count) bytes is over the limit of \(maxDocumentBytes) (the mapping's max_document_bytes)"
                )
            }
            do { return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
                throw JSONFileError(
                    line: line,
                    message: "not valid JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "parse error"))")
            }
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw JSONFileError(line: 0, message: "cannot open the file") }
        defer { try? handle.close() }
        if !format.lines {
            let data = try handle.read(upToCount: maxDocumentBytes + 1) ?? Data()
            guard !data.isEmpty else { throw JSONFileError(line: 0, message: "the file is empty") }
            try records(of: try parse(data, line: 1), line: 1)
            return
        }
        // NDJSON: one document a line, read in chunks, never more than one line held.
        var pending = Data()
        var line = 0
        func flush(_ lineData: Data) throws {
            line += 1
            let trimmed = lineData.last == 0x0D ? lineData.dropLast() : lineData
            guard !trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) else { return }
            try records(of: try parse(Data(trimmed), line: line), line: line)
        }
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            pending.append(chunk)
            while let nl = pending.firstIndex(of: 0x0A) {
                try flush(pending[pending.startIndex..<nl])
                pending = Data(pending[(nl + 1)...])
            }
            if pending.count > maxDocumentBytes {
                throw JSONFileError(
                    line: line + 1, message: "a line longer than \(maxDocumentBytes) bytes (the mapping's max_document_bytes)")
            }
        }
        if !pending.isEmpty { try flush(pending) }
        if number == 0 && line == 0 { throw JSONFileError(line: 0, message: "the file is empty") }
    }
}
