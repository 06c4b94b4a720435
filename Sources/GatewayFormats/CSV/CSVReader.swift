import Foundation

/// A CSV problem that stops the file: the rest of it cannot be trusted.
public struct CSVFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

/// One record, valid only inside the `read` callback: field bytes are reused for the next record.
public struct CSVRecordView {
    /// 1-based record number, the header not counted.
    public let number: Int
    /// Line on which the record starts (quoted line breaks make records span lines).
    public let line: Int
    let buffer: UnsafeBufferPointer<UInt8>
    let ends: UnsafeBufferPointer<Int>
    let quoted: UnsafeBufferPointer<Bool>
    let tooLong: UnsafeBufferPointer<Bool>
    let dialect: CSVDialect

    public var count: Int { ends.count }

    public func bytes(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        let start = i == 0 ? 0 : ends[i - 1]
        return UnsafeBufferPointer(rebasing: buffer[start..<ends[i]])
    }

    public func isQuoted(_ i: Int) -> Bool { quoted[i] }

    /// The field was longer than the dialect's `maxFieldBytes`: only that much of it was kept.
    public func isTooLong(_ i: Int) -> Bool { tooLong[i] }

    /// The field decoded from the dialect's encoding; nil when UTF-8 is invalid.
    public func string(_ i: Int) -> String? {
        let raw = bytes(i)
        let text: String?
        switch dialect.encoding {
        case .utf8: text = UTF8Text.decode(raw)
        case .latin1: text = String(decoding: raw.map { UInt16($0) }, as: UTF16.self)
        case .windows1252: text = Windows1252.decode(raw)
        }
        if let text, !quoted[i], !dialect.nullValues.isEmpty, dialect.nullValues.contains(text) { return "" }
        return text
    }
}

/// Streaming RFC 4180 reader over bytes: reads the file in 1 MiB chunks and never holds more
/// than one record. Handles CRLF, LF and CR endings, quoted delimiters, quotes and line breaks,
/// a UTF-8 byte-order mark, and a final record without a line break.
public struct CSVReader {
    public let path: String
    public let dialect: CSVDialect
    public static let chunkSize = 1 << 20

    public init(path: String, dialect: CSVDialect) {
        self.path = path
        self.dialect = dialect
    }

    /// Calls `body` for every record (the header too, as record 0, when the dialect has one).
    /// Throws `CSVFileError` when the file cannot be read to its end.
    public func read(_ body: (CSVRecordView) throws -> Void) throws {
        guard let file = fopen(path, "rb") else {
            throw CSVFileError(line: 0, message: "cannot open the file (\(String(cString: strerror(errno))))")
        }
        defer { fclose(file) }
        let chunk = UnsafeMutablePointer<UInt8>.allocate(capacity: Self.chunkSize)
        defer { chunk.deallocate() }

        var field = [UInt8]()
        field.reserveCapacity(4096)
        var ends = [Int]()
        var quotedFlags = [Bool]()
        var tooLongFlags = [Bool]()
        // Where the current field starts in `field`, and whether it overflowed the cap.
        var fieldStart = 0
        var fieldTooLong = false
        let cap = dialect.maxFieldBytes
        let delim = dialect.delimiter
        let quote = dialect.quote ?? 0
        let hasQuote = dialect.quote != nil

        enum State { case fieldStart, unquoted, quoted, quoteInQuoted }
        var state = State.fieldStart
        var fieldQuoted = false
        var line = 1
        var recordLine = 1
        var pendingCR = false  // a CR was the last byte: an LF right after it is the same line break
        var number = dialect.header ? 0 : 1
        var firstChunk = true
        var recordHasContent = false

        func emit() throws {
            ends.append(field.count)
            quotedFlags.append(fieldQuoted)
            tooLongFlags.append(fieldTooLong)
            // A line with nothing on it is not a record.
            if recordHasContent || ends.count > 1 {
                try field.withUnsafeBufferPointer { fb in
                    try ends.withUnsafeBufferPointer { eb in
                        try quotedFlags.withUnsafeBufferPointer { qb in
                            try tooLongFlags.withUnsafeBufferPointer { lb in
                                let view = CSVRecordView(
                                    number: number, line: recordLine, buffer: fb, ends: eb, quoted: qb, tooLong: lb, dialect: dialect)
                                try body(view)
                            }
                        }
                    }
                }
                number += 1
            }
            // A record that held a huge field gives its memory back.
            if field.capacity > 1 << 20 { field = [] } else { field.removeAll(keepingCapacity: true) }
            ends.removeAll(keepingCapacity: true)
            quotedFlags.removeAll(keepingCapacity: true)
            tooLongFlags.removeAll(keepingCapacity: true)
            fieldQuoted = false
            fieldTooLong = false
            fieldStart = 0
            recordHasContent = false
            state = .fieldStart
        }

        /// Appends a byte of the current field, up to the cap; past it the byte is dropped.
        func keep(_ b: UInt8) {
            if field.count - fieldStart < cap {
                field.append(b)
            } else {
                fieldTooLong = true
            }
        }

        /// Appends a run of the current field's bytes at once, up to the cap.
        func keepRun(_ start: UnsafeMutablePointer<UInt8>, _ count: Int) {
            guard count > 0 else { return }
            let room = cap - (field.count - fieldStart)
            if count <= room {
                field.append(contentsOf: UnsafeBufferPointer(start: start, count: count))
            } else {
                if room > 0 { field.append(contentsOf: UnsafeBufferPointer(start: start, count: room)) }
                fieldTooLong = true
            }
        }

        /// A line break outside quotes ends the record; CR LF counts as one break.
        func endOfLine(_ b: UInt8) throws {
            line += 1
            pendingCR = b == 0x0D
            try emit()
            recordLine = line
        }

        func endField() {
            ends.append(field.count)
            quotedFlags.append(fieldQuoted)
            tooLongFlags.append(fieldTooLong)
            fieldQuoted = false
            fieldTooLong = false
            fieldStart = field.count
            state = .fieldStart
        }

        while true {
            let n = fread(chunk, 1, Self.chunkSize, file)
            if n == 0 {
                if ferror(file) != 0 { throw CSVFileError(line: line, message: "read error") }
                break
            }
            var i = 0
            if firstChunk {
                firstChunk = false
                if n >= 3, chunk[0] == 0xEF, chunk[1] == 0xBB, chunk[2] == 0xBF { i = 3 }
            }
            while i < n {
                let b = chunk[i]
                i += 1
                if pendingCR {
                    pendingCR = false
                    if b == 0x0A {
                        if state == .quoted { keep(b) }
                        continue
                    }
                }
                switch state {
                case .quoted:
                    if b == quote {
                        state = .quoteInQuoted
                    } else {
                        keep(b)
                        if b == 0x0A {
                            line += 1
                        } else if b == 0x0D {
                            line += 1
                            pendingCR = true
                        } else {
                            // The rest of the quoted text up to a quote or line break, in one append.
                            var j = i
                            while j < n, chunk[j] != quote, chunk[j] != 0x0A, chunk[j] != 0x0D { j += 1 }
                            keepRun(chunk + i, j - i)
                            i = j
                        }
                    }
                case .quoteInQuoted:
                    if b == quote {
                        keep(b)
                        state = .quoted
                    } else if b == delim {
                        endField()
                    } else if b == 0x0A || b == 0x0D {
                        try endOfLine(b)
                    } else {
                        // Text after a closing quote: kept, as most producers mean it literally.
                        keep(b)
                        state = .unquoted
                    }
                case .fieldStart, .unquoted:
                    if b == delim {
                        recordHasContent = true
                        endField()
                    } else if b == 0x0A || b == 0x0D {
                        try endOfLine(b)
                    } else if hasQuote && b == quote && state == .fieldStart {
                        recordHasContent = true
                        fieldQuoted = true
                        state = .quoted
                    } else {
                        recordHasContent = true
                        keep(b)
                        state = .unquoted
                        // The rest of the field up to a delimiter or line break, in one append:
                        // appending byte by byte was most of the reader's time.
                        var j = i
                        while j < n, chunk[j] != delim, chunk[j] != 0x0A, chunk[j] != 0x0D { j += 1 }
                        keepRun(chunk + i, j - i)
                        i = j
                    }
                }
            }
        }
        if state == .quoted {
            throw CSVFileError(line: recordLine, message: "a quoted field opened on this line is never closed")
        }
        if recordHasContent || !ends.isEmpty || !field.isEmpty { try emit() }
    }
}

enum Windows1252 {
    // 0x80–0x9F differ from Latin-1; 0 marks the five undefined bytes.
    static let high: [UInt16] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
        0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ]

    static func decode(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
        var units = [UInt16]()
        units.reserveCapacity(raw.count)
        for b in raw {
            if b >= 0x80 && b <= 0x9F {
                let u = high[Int(b - 0x80)]
                if u == 0 { return nil }
                units.append(u)
            } else {
                units.append(UInt16(b))
            }
        }
        return String(decoding: units, as: UTF16.self)
    }
}
