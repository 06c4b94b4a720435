import Foundation
import GatewayCore

/// A feed, as declared by `mappings/feeds/<feed>.yaml`: how its files are recognised, their grammar
/// (CSV dialect or XML record path) and what each record means (bindings to a canonical fact).
public struct FeedMapping: Sendable {
    public enum Format: Sendable {
        case csv(CSVDialect)
        case xml(XMLFormat)
        case json(JSONFormat)

        public var name: String {
            switch self {
            case .csv: "CSV"
            case .xml: "XML"
            case .json: "JSON"
            }
        }

        public var isXML: Bool {
            if case .xml = self { return true }
            return false
        }
    }

    public struct XMLFormat: Sendable {
        public var namespaces: [String: [String]]
        public var recordPath: [QName]
        public var recordPathText: String
        /// Absolute path of an attribute that states how many records the file holds.
        public var countPath: String?
        /// Every absolute attribute path the mapping reads (bindings and count), compiled once.
        public var documentAttributes: [String: DocumentAttribute]
        /// Where a file states its number in the partner's sequence, and what the sequence is per
        /// (a plant): absolute attribute paths. A number missing between two seen is a lost file.
        public var sequencePath: String? = nil
        public var sequenceScopePath: String? = nil
        /// When set, each element these steps select inside a record is a record of its own, and
        /// paths are relative to it (`..` reaches the enclosing record's own fields).
        public var each: [XMLStep]? = nil
    }

    public let feed: String
    public let version: Int
    public let description: String
    /// Only dealership exports may register or cancel sales: a customer, plan or order that no
    /// dealership introduced does not exist (partner rule). Other partners quote orders back.
    public let isDealershipSource: Bool
    /// The mapping file, for messages.
    public let file: String
    public let namePattern: Pattern
    /// Content check for files whose names match several feeds: XML root `{ns}local`, or CSV header start.
    public let contentSignature: String?
    public let format: Format
    public let rules: [FactRule]
    /// Records that are deliberately not facts: `{skip: reason, when: …}` entries of `facts`.
    public let skipRules: [SkipRule]
    public let fields: [String: FieldBinding]
    public let key: [String]
    /// The longest value a field may hold, in bytes (`max_field_bytes`). A record with a longer
    /// one is rejected with the field, and the CSV reader keeps no more than this of it.
    public var maxFieldBytes = FeedMapping.defaultMaxFieldBytes
    /// The namespace of this feed's fact ids (`fact_source`), the feed by default. Two feeds that
    /// carry the same events (a plant's status files and its webhooks) share one, with the same
    /// key fields, so an event that came both ways is one fact.
    public var factSource: String?
    /// JSON: the largest document (a whole file, or an NDJSON line) read.
    public var maxDocumentBytes = 1 << 20
    /// `repeated_key: numbered`: a key seen again in the same file is another record (two
    /// transactions of one bank entry with the same references), told apart by its occurrence:
    /// the second gets `#2` as one more key part, and so on. The first keeps its plain key, so the
    /// ids of files without repeats never change. By default a repeat is the same record again.
    public var numberRepeatedKeys = false
    /// Generous for any text a partner sends (an address, a remittance line), small enough that
    /// a runaway field costs nothing.
    public static let defaultMaxFieldBytes = 16 * 1024

    /// Every CSV column the bindings read, for the header check.
    public var columns: [String] {
        var seen = Set<String>()
        var out = [String]()
        for binding in fields.values.sorted(by: { $0.line < $1.line }) {
            for case .column(let c) in binding.sources where seen.insert(c).inserted { out.append(c) }
        }
        return out
    }

    public func recognises(fileName: String) -> Bool { namePattern.matches(fileName) }
}

/// A record that is deliberately not a fact (a debit on a statement whose credits matter).
public struct SkipRule: Sendable {
    public let reason: String
    public let condition: FactRule.Condition
    public let line: Int
}

/// Which canonical fact a record becomes: the first rule whose condition holds wins.
public struct FactRule: Sendable {
    public let kind: FactKind
    public let condition: Condition?
    /// Constant values this rule gives fields of its fact, whatever the record says
    /// (`set: {event: refused}` for a capture the provider reports as unsuccessful).
    public let overrides: [String: String]
    public let line: Int

    public struct Condition: Sendable {
        public let field: String
        public let equals: [String]
        public let negate: Bool

        public func holds(for value: String) -> Bool { equals.contains(value) != negate }
    }
}

public enum FieldSource: Sendable, Hashable {
    case column(String)
    /// A CSV column by its 1-based position, for files without a header row.
    case position(Int)
    case path(XMLPath)
    /// Absolute attribute path outside records, read once per file.
    case document(String)
    case constant(String)
    /// JSON: keys from the record down (`data/code`), or from the document (`/id`).
    case json([String])
    case jsonDocument([String])
}

public struct FieldBinding: Sendable {
    public let name: String
    /// Alternatives: the first that yields a non-empty value is used.
    public let sources: [FieldSource]
    public let transforms: [Transform]
    public let checks: [Check]
    /// Try each source through the transforms and keep the first that yields a value (a sale
    /// reference that may be in any of several free-text fields). Without it the first non-empty
    /// source is used, and a value its transforms refuse is an error.
    public var search = false
    /// `optional: true`: the file may lack the column (one that newer partner versions append);
    /// the field is then empty, instead of the file being refused for its header.
    public var optional = false
    /// Line of the binding in the mapping file.
    public let line: Int
}

public enum Transform: Sendable {
    case trim, upper, lower, collapseSpaces
    /// An ISO 8601 time with any offset, as text in UTC (`2026-10-04T07:00:00Z`): the same instant
    /// has the same text, so it can be part of a key across sources that write it differently.
    case utc
    case datetime(DateTimeFormat)
    case decimal(separator: UInt8, thousands: UInt8?, minorUnits: Int)
    case integer
    case split(String)
    case map([String: String], otherwise: String?)
    case defaultValue(String)
    /// The first capture group of the first match (in the first list item that matches);
    /// `otherwise` is the value when nothing matches, else that is an error.
    case extract(Pattern, otherwise: String?)
}

public enum Check: Sendable {
    case required
    case pattern(Pattern)
    case validator(String)
    /// The national id's validator is chosen by the value of another field (its type).
    case nationalID(typeField: String)
    case oneOf([String])
    case maxLength(Int)
}

/// A compiled regular expression. NSRegularExpression is immutable and safe to share.
public struct Pattern: @unchecked Sendable {
    public let text: String
    let regex: NSRegularExpression

    /// The same pattern on bytes, when it is in the subset `AnchoredPattern` handles.
    let anchored: AnchoredPattern?

    public init(_ text: String) throws {
        self.text = text
        regex = try NSRegularExpression(pattern: text)
        anchored = AnchoredPattern.compile(text)
    }

    public func matches(_ s: String) -> Bool {
        if let anchored { return anchored.matches(s) }
        return regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }

    /// The first capture group (or the whole match) of the first match.
    public func firstCapture(_ s: String) -> String? {
        guard let m = regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) else { return nil }
        let r = m.numberOfRanges > 1 ? m.range(at: 1) : m.range
        return Range(r, in: s).map { String(s[$0]) }
    }
}
