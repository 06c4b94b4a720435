import Foundation

/// A typed value of a canonical fact field. Money is always an integer of minor units.
public enum FactValue: Sendable, Hashable {
    case string(String)
    case int(Int64)
    case time(Date)
    case list([String])

    public var string: String? {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .time(let d): return Timestamp.iso(d)
        case .list(let l): return l.joined(separator: "|")
        }
    }

    public var int: Int64? {
        switch self {
        case .int(let i): return i
        case .string(let s): return Int64(s)
        default: return nil
        }
    }

    public var time: Date? {
        switch self {
        case .time(let d): return d
        case .string(let s): return Timestamp.parseISO(s)
        default: return nil
        }
    }

    public var list: [String]? {
        switch self {
        case .list(let l): return l
        case .string(let s): return s.isEmpty ? [] : [s]
        default: return nil
        }
    }
}

/// The fields of a fact: a small vector kept sorted by name. A fact has a few dozen fields at
/// most, so a binary search beats hashing, and the sorted order makes every fact serialise the
/// same way without sorting it for each record.
public struct FactFields: Sendable, Hashable, ExpressibleByDictionaryLiteral, Sequence {
    public struct Entry: Sendable, Hashable {
        public let key: String
        public var value: FactValue
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    public init(minimumCapacity: Int) { entries.reserveCapacity(minimumCapacity) }

    /// The fields from keys already in ascending order, each once, and a value (or none) per key:
    /// the mapper's per-record path, which knows its fields' order ahead of any record and so
    /// never searches or shifts.
    public init(sortedKeys keys: [String], values: [FactValue?]) {
        assert(keys.count == values.count && zip(keys, keys.dropFirst()).allSatisfy { $0 < $1 })
        entries.reserveCapacity(keys.count)
        for (k, v) in zip(keys, values) {
            if let v { entries.append(Entry(key: k, value: v)) }
        }
    }

    public init(dictionaryLiteral elements: (String, FactValue)...) {
        for (k, v) in elements { self[k] = v }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }

    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }

    /// Index of `key`, or where it would be inserted.
    private func position(_ key: String) -> (index: Int, found: Bool) {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let k = entries[mid].key
            if k == key { return (mid, true) }
            if k < key { lo = mid + 1 } else { hi = mid }
        }
        return (lo, false)
    }

    public subscript(key: String) -> FactValue? {
        get {
            let p = position(key)
            return p.found ? entries[p.index].value : nil
        }
        set {
            let p = position(key)
            switch (p.found, newValue) {
            case (true, let v?): entries[p.index].value = v
            case (true, nil): entries.remove(at: p.index)
            case (false, let v?): entries.insert(Entry(key: key, value: v), at: p.index)
            case (false, nil): break
            }
        }
    }

    public func merging(_ other: FactFields, uniquingKeysWith combine: (FactValue, FactValue) -> FactValue) -> FactFields {
        var out = self
        for e in other { out[e.key] = out[e.key].map { combine($0, e.value) } ?? e.value }
        return out
    }
}

public enum FactFieldsCodec {
    /// Compact, key-sorted JSON for a field set. Written as bytes: the ingest hot loop runs it
    /// for every record, and String appends were a fifth of ingest time.
    public static func encode(_ fields: FactFields) -> String {
        String(decoding: encodeBytes(fields), as: UTF8.self)
    }

    /// The same JSON as bytes, for a writer that stores them as they are (no String to build and
    /// validate again for every record).
    public static func encodeBytes(_ fields: FactFields) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(48 * fields.count + 2)
        out.append(0x7B)
        var first = true
        for entry in fields {
            if !first { out.append(0x2C) }
            first = false
            JSONBytes.appendString(entry.key, to: &out)
            out.append(0x3A)
            switch entry.value {
            case .string(let s): JSONBytes.appendString(s, to: &out)
            case .int(let i): out.append(contentsOf: String(i).utf8)
            case .time(let d): JSONBytes.appendString("@t:" + Timestamp.iso(d), to: &out)
            case .list(let l):
                out.append(0x5B)
                for (i, s) in l.enumerated() {
                    if i > 0 { out.append(0x2C) }
                    JSONBytes.appendString(s, to: &out)
                }
                out.append(0x5D)
            }
        }
        out.append(0x7D)
        return out
    }

    /// Reads what `encode` wrote, as bytes (every fold reads every fact of its orders); anything
    /// else (a hand-edited row, an older layout) goes through JSONSerialization.
    public static func decode(_ json: String) throws -> FactFields {
        var json = json
        if let fields = json.withUTF8({ bytes -> FactFields? in
            var reader = FlatJSONReader(bytes: bytes)
            return reader.fields()
        }) {
            return fields
        }
        return try decodeSlowly(json)
    }

    static func decodeSlowly(_ json: String) throws -> FactFields {
        guard let data = json.data(using: .utf8),
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw FactDecodingError(message: "fact payload is not a JSON object") }
        var fields = FactFields()
        for (key, value) in object {
            switch value {
            case let s as String:
                if s.hasPrefix("@t:"), let d = Timestamp.parseISO(String(s.dropFirst(3))) {
                    fields[key] = .time(d)
                } else {
                    fields[key] = .string(s)
                }
            case let n as NSNumber: fields[key] = .int(n.int64Value)
            case let a as [Any]: fields[key] = .list(a.map { "\($0)" })
            default: throw FactDecodingError(message: "fact field \(key) has an unsupported JSON type")
            }
        }
        return fields
    }
}

public struct FactDecodingError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The one shape `FactFieldsCodec.encode` writes: an object of strings, integers and lists of
/// strings, with the escapes `JSONBytes` uses. Returns nil for anything else.
struct FlatJSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func fields() -> FactFields? {
        var out = FactFields()
        guard take(0x7B) else { return nil }
        if take(0x7D) { return i == bytes.count ? out : nil }
        repeat {
            guard let key = string(), take(0x3A) else { return nil }
            guard i < bytes.count else { return nil }
            switch bytes[i] {
            case 0x22:
                guard let v = string() else { return nil }
                if v.hasPrefix("@t:") {
                    guard let d = Timestamp.parseISO(String(v.dropFirst(3))) else { return nil }
                    out[key] = .time(d)
                } else {
                    out[key] = .string(v)
                }
            case 0x5B:
                i += 1
                var list: [String] = []
                if !take(0x5D) {
                    repeat {
                        guard let v = string() else { return nil }
                        list.append(v)
                    } while take(0x2C)
                    guard take(0x5D) else { return nil }
                }
                out[key] = .list(list)
            default:
                guard let n = integer() else { return nil }
                out[key] = .int(n)
            }
        } while take(0x2C)
        guard take(0x7D), i == bytes.count else { return nil }
        return out
    }

    mutating func take(_ b: UInt8) -> Bool {
        guard i < bytes.count, bytes[i] == b else { return false }
        i += 1
        return true
    }

    mutating func integer() -> Int64? {
        var negative = false
        if take(0x2D) { negative = true }
        var n: Int64 = 0
        let start = i
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(bytes[i] - 0x30))
            guard !o1, !o2 else { return nil }
            n = a
            i += 1
        }
        return i > start ? (negative ? -n : n) : nil
    }

    mutating func string() -> String? {
        guard take(0x22) else { return nil }
        let start = i
        while i < bytes.count, bytes[i] != 0x22, bytes[i] != 0x5C { i += 1 }
        guard i < bytes.count else { return nil }
        if bytes[i] == 0x22 {
            let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            i += 1
            return s
        }
        // Escapes: rare (quotes, backslashes and control characters in a value).
        var out = Array(bytes[start..<i])
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            switch b {
            case 0x22: return String(decoding: out, as: UTF8.self)
            case 0x5C:
                guard i < bytes.count else { return nil }
                let e = bytes[i]
                i += 1
                switch e {
                case 0x22, 0x5C, 0x2F: out.append(e)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x75:
                    // \u00XX is all `encode` writes; anything wider goes the slow way.
                    guard i + 4 <= bytes.count,
                        let v = UInt32(String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<i + 4]), as: UTF8.self), radix: 16),
                        v < 0x80
                    else { return nil }
                    out.append(UInt8(v))
                    i += 4
                default: return nil
                }
            default: out.append(b)
            }
        }
        return nil
    }
}
