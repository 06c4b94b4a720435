import Foundation
import GatewayCore

public enum RecordOutcome: Sendable {
    case fact(Fact)
    case rejected([Rejection])
    /// Deliberately not a fact (a debit on a statement of credits), with the mapping's reason.
    case skipped(String)
}

/// Which values may appear in messages. Customer and delivery data are personal: a message says
/// what is wrong with them, never what they are.
public enum Redaction {
    public static func mayShow(field: String) -> Bool {
        !(field.hasPrefix("customer.") || field.hasPrefix("delivery.") || field == "customer_id")
    }

    /// How a reason refers to a value: by its length, never by what it is. Even a value that is
    /// not personal (an amount, a reference) stays out, so a reason never is the value (the
    /// report schema's promise) and the operator is sent to the file's line and field.
    static func show(_ value: String, field: String) -> String {
        value.isEmpty ? " (empty)" : " (\(value.count) character\(value.count == 1 ? "" : "s"))"
    }
}

/// What a record exposes to the mapper; CSV rows and XML elements both conform.
public protocol RecordAccess {
    var number: Int { get }
    var line: Int { get }
    /// Raw values for a source: one for a column, any number for an XML path; nil when the
    /// bytes cannot be decoded in the feed's encoding.
    func raw(_ source: ResolvedSource) -> [String]?
    /// The source's value was longer than the reader keeps (CSV); XML values are measured whole.
    func isTooLong(_ source: ResolvedSource) -> Bool
    /// `raw`, told apart by how many values there are: most sources give one, and the mapper's
    /// per-field path then needs no array.
    func values(_ source: ResolvedSource) -> RawValues
}

/// A source's values in one record.
public enum RawValues {
    /// Not text in the feed's encoding.
    case invalid
    /// Nothing, or only empty values.
    case none
    case one(String)
    case many([String])
}

extension RecordAccess {
    public func isTooLong(_ source: ResolvedSource) -> Bool { false }

    public func values(_ source: ResolvedSource) -> RawValues {
        guard let r = raw(source) else { return .invalid }
        guard r.contains(where: { !$0.isEmpty }) else { return .none }
        return r.count == 1 ? .one(r[0]) : .many(r)
    }
}

/// A field source bound to one file: a column name becomes its index in that file's header.
public enum ResolvedSource: Sendable {
    case column(Int)
    case path(XMLPath)
    case document(String)
    case constant(String)
    case json([String])
    case jsonDocument([String])
}

extension CSVRecordView: RecordAccess {
    public func isTooLong(_ source: ResolvedSource) -> Bool {
        if case .column(let i) = source, i < count { return isTooLong(i) }
        return false
    }

    public func raw(_ source: ResolvedSource) -> [String]? {
        switch source {
        case .column(let i):
            guard i < count else { return [] }
            return string(i).map { [$0] }
        case .constant(let v): return [v]
        default: return []
        }
    }

    public func values(_ source: ResolvedSource) -> RawValues {
        switch source {
        case .column(let i):
            guard i < count else { return .none }
            guard let s = string(i) else { return .invalid }
            return s.isEmpty ? .none : .one(s)
        case .constant(let v): return v.isEmpty ? .none : .one(v)
        default: return .none
        }
    }
}

extension XMLRecordView: RecordAccess {
    public func raw(_ source: ResolvedSource) -> [String]? {
        switch source {
        case .path(let p): return values(p)
        case .document(let key): return documentValues[key].map { [$0] } ?? []
        case .constant(let v): return [v]
        case .column, .json, .jsonDocument: return []
        }
    }
}

/// Turns records of one file into facts. Made per file, because CSV columns are resolved
/// against that file's header.
public struct RecordMapper {
    public let mapping: FeedMapping
    let provenance: Provenance
    /// Every bound field gets an index; a record's evaluated values live in an array by index.
    let fieldNames: [String]
    let fieldIndex: [String: Int]
    let resolved: [[ResolvedSource]]
    /// Per rule: where each bound field's value goes in the fact's sorted fields, and the rule's
    /// constants already typed, so a record's fields are assembled without a search.
    let layouts: [RuleLayout]
    /// Per bound field, what `evaluate` needs, apart: copying a whole binding for every field of
    /// every record cost a retain and release of each of its parts.
    let transformsOf: [[Transform]]
    let checksOf: [[Check]]
    let searchOf: [Bool]

    struct RuleLayout {
        /// The rule's fields in mapping order with their slot (-1: order_ref and occurred_at,
        /// which are the fact's own); a field the rule sets is left out.
        let fields: [(index: Int, spec: FieldSpec, slot: Int)]
        let slotNames: [String]
        let constants: [(slot: Int, value: FactValue)]
    }
    let conditionIndex: [Int?]
    let skipConditionIndex: [Int?]
    let keyIndex: [Int]
    /// With `repeated_key: numbered`: how often each key was seen in this file so far.
    let keyCounts = KeyCounts()

    final class KeyCounts: @unchecked Sendable {
        var seen: [[String]: Int] = [:]

        /// 1 for a key's first record in the file, 2 for its second, …
        func next(_ key: [String]) -> Int {
            let n = (seen[key] ?? 0) + 1
            seen[key] = n
            return n
        }
    }

    /// - Parameter header: the CSV header row (nil for XML). A column the mapping reads that the
    ///   header lacks is a file-level problem.
    public init(mapping: FeedMapping, fileHash: String, fileName: String, header: [String]?) throws {
        self.mapping = mapping
        provenance = Provenance(fileHash: fileHash, fileName: fileName, mapping: mapping.feed, mappingVersion: mapping.version)
        // Header names match as partners write them: ignoring case and surrounding spaces. A name
        // twice makes the file ambiguous (which copy is the value?), whichever the mapping reads.
        var column: [String: Int] = [:]
        if let header {
            for (i, raw) in header.enumerated() {
                let name = Self.columnKey(raw)
                guard !name.isEmpty else { continue }
                if let first = column[name] {
                    throw FileProblem(
                        line: 1,
                        message:
                            "the header repeats column \(raw.trimmingCharacters(in: .whitespaces)) (fields \(first + 1) and \(i + 1)): which one holds the value cannot be told, so nothing of the file was applied; ask the partner for a header with each column once"
                    )
                }
                column[name] = i
            }
        }
        var resolved: [String: [ResolvedSource]] = [:]
        var missing: [String] = []
        for (name, b) in mapping.fields {
            resolved[name] = b.sources.compactMap { s -> ResolvedSource? in
                switch s {
                case .column(let c):
                    guard let i = column[Self.columnKey(c)] else {
                        missing.append(c)
                        return nil
                    }
                    return .column(i)
                case .position(let n): return .column(n - 1)
                case .path(let p): return .path(p)
                case .document(let d): return .document(d)
                case .constant(let v): return .constant(v)
                case .json(let p): return .json(p)
                case .jsonDocument(let p): return .jsonDocument(p)
                }
            }
        }
        // A column offered as one of several alternatives may be absent; a field left with no source may not.
        let unresolvable = mapping.fields.filter { !$0.value.optional && resolved[$0.key]?.isEmpty ?? true }.map(\.key)
        if !unresolvable.isEmpty {
            throw FileProblem(
                line: 1,
                message:
                    "the header lacks column(s) \(Set(missing).sorted().joined(separator: ", ")) that mapping \(mapping.feed) reads; is this the right feed, or did the partner change its layout?"
            )
        }
        let ordered = mapping.fields.values.sorted { $0.line < $1.line }
        fieldNames = ordered.map(\.name)
        let index = Dictionary(uniqueKeysWithValues: ordered.enumerated().map { ($1.name, $0) })
        fieldIndex = index
        self.resolved = ordered.map { resolved[$0.name] ?? [] }
        // Per rule: the fields its fact kind knows, with their schema entries, in mapping order.
        let ruleFields: [[(index: Int, spec: FieldSpec)]] = mapping.rules.map { rule in
            ordered.enumerated().compactMap { i, b in rule.kind.schema.spec(b.name).map { (i, $0) } }
        }
        layouts = zip(mapping.rules, ruleFields).map { rule, bound in
            var constants: [(String, FactValue)] = []
            for (name, constant) in rule.overrides {
                guard let spec = rule.kind.schema.spec(name), case .success(let typed) = Self.coerce(.string(constant), to: spec)
                else { continue }
                constants.append((name, typed))
            }
            let own = bound.filter { rule.overrides[$0.spec.name] == nil }
            let names = Set(own.map(\.spec.name).filter { $0 != "order_ref" && $0 != "occurred_at" }).union(constants.map(\.0)).sorted()
            let slot = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            return RuleLayout(
                fields: own.map { ($0.index, $0.spec, slot[$0.spec.name] ?? -1) }, slotNames: names,
                constants: constants.map { (slot[$0.0]!, $0.1) })
        }
        transformsOf = ordered.map(\.transforms)
        checksOf = ordered.map(\.checks)
        searchOf = ordered.map(\.search)
        conditionIndex = mapping.rules.map { $0.condition.flatMap { index[$0.field] } }
        skipConditionIndex = mapping.skipRules.map { index[$0.condition.field] }
        keyIndex = mapping.key.compactMap { index[$0] }
    }

    public func map<R: RecordAccess>(_ record: R) -> RecordOutcome {
        var cache = [Result<FactValue?, FieldFailure>?](repeating: nil, count: fieldNames.count)
        func value(_ i: Int) -> Result<FactValue?, FieldFailure> {
            if let hit = cache[i] { return hit }
            let r = evaluate(i, record) { name in fieldIndex[name].map(value) ?? .success(nil) }
            cache[i] = r
            return r
        }

        // Skip rules come first: a record they match is counted, not mapped and not rejected.
        for (i, skip) in mapping.skipRules.enumerated() {
            guard let ci = skipConditionIndex[i] else { continue }
            switch value(ci) {
            case .failure(let f):
                return .rejected([Rejection(record: record.number, line: record.line, field: skip.condition.field, reason: f.reason)])
            case .success(let v):
                if skip.condition.holds(for: v?.string ?? "") { return .skipped(skip.reason) }
            }
        }
        // The first rule whose condition holds decides the kind.
        var chosen: Int?
        for (i, rule) in mapping.rules.enumerated() {
            guard let c = rule.condition, let ci = conditionIndex[i] else {
                chosen = i
                break
            }
            let v: String
            switch value(ci) {
            case .success(let fv): v = fv?.string ?? ""
            case .failure(let f): return .rejected([Rejection(record: record.number, line: record.line, field: c.field, reason: f.reason)])
            }
            if c.holds(for: v) {
                chosen = i
                break
            }
        }
        guard let ruleIndex = chosen else {
            return .rejected([
                Rejection(
                    record: record.number, line: record.line, field: nil,
                    reason: "no fact rule of mapping \(mapping.feed) applies to this record")
            ])
        }
        let rule = mapping.rules[ruleIndex]
        let layout = layouts[ruleIndex]
        var slots = [FactValue?](repeating: nil, count: layout.slotNames.count)
        var problems: [Rejection] = []
        var orderRef = ""
        var occurredAt: Date?
        for (i, spec, slot) in layout.fields {
            let name = spec.name
            switch value(i) {
            case .failure where name == "order_ref" && rule.kind.mayNameNoOrder:
                break  // money naming no sale we can read: a fact without an order
            case .failure(let f):
                problems.append(Rejection(record: record.number, line: record.line, field: name, reason: f.reason))
            case .success(nil) where name == "order_ref" && rule.kind.mayNameNoOrder:
                break
            case .success(nil) where spec.type == .list:
                slots[slot] = .list([])  // "no options" is a value, not a missing field
            case .success(nil):
                if spec.required {
                    problems.append(
                        Rejection(
                            record: record.number, line: record.line, field: name, reason: "required for \(rule.kind.rawValue) but empty"))
                }
            case .success(let v?):
                switch Self.coerce(v, to: spec) {
                case .failure(let f): problems.append(Rejection(record: record.number, line: record.line, field: name, reason: f.reason))
                case .success(let typed):
                    if name == "order_ref" {
                        orderRef = typed.string ?? ""
                    } else if name == "occurred_at" {
                        occurredAt = typed.time
                    } else {
                        slots[slot] = typed
                    }
                }
            }
        }
        for c in layout.constants { slots[c.slot] = c.value }
        let fields = FactFields(sortedKeys: layout.slotNames, values: slots)
        if !problems.isEmpty {
            if !orderRef.isEmpty { for i in problems.indices { problems[i].recordRef = orderRef } }
            return .rejected(problems)
        }
        var keyParts: [String] = []
        for k in keyIndex {
            guard case .success(let v?) = value(k), let s = v.string, !s.isEmpty else {
                return .rejected([
                    Rejection(
                        record: record.number, line: record.line, field: fieldNames[k],
                        reason: "key field is empty: the fact cannot be identified")
                ])
            }
            keyParts.append(s)
        }
        if mapping.numberRepeatedKeys {
            let n = keyCounts.next(keyParts)
            if n > 1 { keyParts.append("#\(n)") }
        }
        var prov = provenance
        prov.record = record.number
        prov.line = record.line
        let id = FactID.make(source: mapping.factSource ?? mapping.feed, kind: rule.kind, key: keyParts)
        return .fact(Fact(id: id, orderRef: orderRef, kind: rule.kind, occurredAt: occurredAt!, fields: fields, provenance: prov))
    }

    static func columnKey(_ name: String) -> String { name.trimmingCharacters(in: .whitespaces).lowercased() }

    var tooLong: FieldFailure {
        FieldFailure(
            reason:
                "is longer than \(mapping.maxFieldBytes) bytes, the mapping's max_field_bytes: the record is not applied (raise max_field_bytes in the mapping if such values are real)"
        )
    }

    /// The first C0 control character other than tab, CR and LF, or DEL, as `U+0000`; nil when
    /// there is none. Bytes, not characters: every such byte is ASCII and never inside a
    /// multi-byte UTF-8 sequence.
    static func controlCharacter(_ s: String) -> String? {
        var s = s
        let found: UInt8? = s.withUTF8 { bytes in ByteScan.firstControl(bytes).map { bytes[$0] } }
        guard let b = found else { return nil }
        let hex = String(b, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: 4 - hex.count) + hex
    }

    struct FieldFailure: Error {
        let reason: String
    }

    /// Source → transforms → checks for one field. nil: the field is empty.
    func evaluate(
        _ index: Int, _ record: some RecordAccess,
        lookup: (String) -> Result<FactValue?, FieldFailure>
    ) -> Result<FactValue?, FieldFailure> {
        let name = fieldNames[index]
        let search = searchOf[index]
        var v: FactValue?
        var lastFailure: FieldFailure?
        for s in resolved[index] {
            if record.isTooLong(s) { return .failure(tooLong) }
            // One raw value stays text (a list field may still need its split); several make a list.
            let initial: FactValue
            switch record.values(s) {
            case .invalid:
                return .failure(
                    FieldFailure(
                        reason:
                            "its bytes are not valid text in this feed's encoding; if the partner sends Latin-1, set csv.encoding in the mapping"
                    ))
            case .none: continue
            case .one(let raw):
                if let f = unfit(raw) { return .failure(f) }
                initial = .string(raw)
            case .many(let raws):
                for raw in raws { if let f = unfit(raw) { return .failure(f) } }
                initial = .list(raws)
            }
            switch transform(initial, index) {
            case .success(let value?):
                v = value
            case .success(nil):
                if !search { return .success(nil) }
                continue
            case .failure(let f):
                if !search { return .failure(f) }
                lastFailure = f
                continue
            }
            break
        }
        if v == nil, let lastFailure { return .failure(lastFailure) }
        if v == nil {
            // Every source empty: the transforms still run, so a default can apply.
            switch transform(nil, index) {
            case .success(let value): v = value
            case .failure(let f): return .failure(f)
            }
        }
        for c in checksOf[index] {
            if let reason = Transforms.check(c, v, field: name, lookup: lookup) { return .failure(FieldFailure(reason: reason)) }
        }
        return .success(v)
    }

    /// A raw value no field may hold: longer than the cap, or with a control character.
    func unfit(_ raw: String) -> FieldFailure? {
        if raw.utf8.count > mapping.maxFieldBytes { return tooLong }
        if let bad = Self.controlCharacter(raw) {
            return FieldFailure(
                reason:
                    "holds a control character (\(bad)); only tab, carriage return and line feed may appear in text: ask the partner to correct the record"
            )
        }
        return nil
    }

    /// A raw value through the field's transforms; nil when nothing is left.
    func transform(_ initial: FactValue?, _ index: Int) -> Result<FactValue?, FieldFailure> {
        var v = initial
        if case .string(let s) = v, s.isEmpty { v = nil }
        let name = fieldNames[index]
        for t in transformsOf[index] {
            switch Transforms.apply(t, v, field: name) {
            case .success(let nv): v = nv
            case .failure(let f): return .failure(f)
            }
        }
        if case .string(let s) = v, s.isEmpty { v = nil }
        if case .list(let l) = v, l.isEmpty { v = nil }
        return .success(v)
    }

    /// Why a whole number is refused (never the value itself, as no reason is): money below one
    /// minor unit is never money in (a reversal is its own event), and above the bound it is
    /// nobody's car.
    static func outOfRange(_ i: Int64, _ range: ClosedRange<Int64>) -> String {
        if i < range.lowerBound {
            return i <= 0
                ? "value is zero or negative, and money here is positive (a refund or a chargeback is an event of its own)"
                : "value is below \(range.lowerBound)"
        }
        return "value is above the largest amount accepted (\(range.upperBound) minor units)"
    }

    static func coerce(_ v: FactValue, to spec: FieldSpec) -> Result<FactValue, FieldFailure> {
        let typed: FactValue?
        switch spec.type {
        case .string: typed = v.string.map(FactValue.string)
        case .int: typed = v.int.map(FactValue.int)
        case .time: typed = v.time.map(FactValue.time)
        case .list: typed = v.list.map(FactValue.list)
        }
        guard let typed else {
            return .failure(
                FieldFailure(
                    reason:
                        "expected \(spec.type == .time ? "a date and time (add a datetime transform)" : spec.type == .int ? "a whole number (add a decimal or integer transform)" : spec.type.rawValue)"
                ))
        }
        if let range = spec.range, let i = typed.int, !range.contains(i) {
            return .failure(FieldFailure(reason: Self.outOfRange(i, range)))
        }
        if case .time(let d) = typed, !Timestamp.isPlausible(d) {
            return .failure(
                FieldFailure(
                    reason:
                        "value is outside the years \(Timestamp.plausibleYears.lowerBound)-\(Timestamp.plausibleYears.upperBound) (a placeholder or a typo)"
                ))
        }
        if let allowed = spec.allowed, let s = typed.string, !allowed.contains(s) {
            return .failure(
                FieldFailure(
                    reason:
                        "value\(Redaction.show(s, field: spec.name)) is not one of \(allowed.joined(separator: ", ")) (map it with a map transform)"
                ))
        }
        return .success(typed)
    }
}

/// A problem with the whole file: it goes to quarantine with this reason.
public struct FileProblem: Error, CustomStringConvertible, Sendable {
    public let line: Int
    public let message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "line \(line): \(message)" : message }
}
