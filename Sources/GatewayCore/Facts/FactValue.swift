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

/// Fields of a fact, sorted by name when written so that the same fact always serialises the same way.
public typealias FactFields = [String: FactValue]

extension FactValue {
    /// JSON used in the fact log: strings, integers, lists; times as ISO 8601 strings tagged `@t:`
    /// so they round-trip as times and stay readable in `sqlite3`.
    func writeJSON(into out: inout String) {
        switch self {
        case .string(let s): JSONText.appendString(s, to: &out)
        case .int(let i): out += String(i)
        case .time(let d): JSONText.appendString("@t:" + Timestamp.iso(d), to: &out)
        case .list(let l):
            out += "["
            for (i, s) in l.enumerated() {
                if i > 0 { out += "," }
                JSONText.appendString(s, to: &out)
            }
            out += "]"
        }
    }
}

public enum FactFieldsCodec {
    /// Compact, key-sorted JSON for a field set. Hand-written: the ingest hot loop runs it per record.
    public static func encode(_ fields: FactFields) -> String {
        var out = "{"
        out.reserveCapacity(64 * fields.count)
        for (i, key) in fields.keys.sorted().enumerated() {
            if i > 0 { out += "," }
            JSONText.appendString(key, to: &out)
            out += ":"
            fields[key]!.writeJSON(into: &out)
        }
        out += "}"
        return out
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
