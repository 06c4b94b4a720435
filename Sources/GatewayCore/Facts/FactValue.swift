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
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ json: String) throws -> FactFields {
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
