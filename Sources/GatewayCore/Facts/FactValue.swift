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

public enum FactFieldsCodec {
    /// Compact, key-sorted JSON for a field set. Written as bytes: the ingest hot loop runs it
    /// for every record, and String appends were a fifth of ingest time.
    public static func encode(_ fields: FactFields) -> String {
        var out = [UInt8]()
        out.reserveCapacity(48 * fields.count + 2)
        out.append(0x7B)
        var first = true
        for key in fields.keys.sorted() {
            if !first { out.append(0x2C) }
            first = false
            JSONBytes.appendString(key, to: &out)
            out.append(0x3A)
            switch fields[key]! {
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
