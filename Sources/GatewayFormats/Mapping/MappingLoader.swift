import Foundation
import GatewayCore

/// Reads `mappings/feeds/*.yaml` into `FeedMapping`s, checking everything that can be checked
/// before a file arrives: keys, transforms, validators, regexes, and that every fact kind the
/// mapping produces gets all its required canonical fields.
public enum MappingLoader {
    public static func loadDirectory(_ dir: String) throws -> (mappings: [FeedMapping], errors: [ConfigError]) {
        var (mappings, errors) = YAMLFiles.loadEach(in: dir) { try load(path: $0) }
        var seen: [String: String] = [:]
        for m in mappings {
            if let other = seen[m.feed] {
                errors.append(ConfigError(file: m.file, line: 1, message: "feed '\(m.feed)' is already declared by \(other)"))
            }
            seen[m.feed] = m.file
        }
        return (mappings, errors)
    }

    public static func load(path: String) throws -> FeedMapping {
        try parse(YAMLFiles.text(path, what: "the mapping file"), file: path)
    }

    static let topKeys: Set<String> = [
        "feed", "version", "description", "source", "match", "format", "csv", "xml", "facts", "key", "fields", "max_field_bytes",
        "repeated_key",
        "fact_source", "json", "max_document_bytes",
    ]

    /// Fact kinds that create or withdraw orders, and with them customers.
    public static let dealershipOnlyKinds: Set<FactKind> = [.saleRegistered, .saleCancelled]

    public static func parse(_ text: String, file: String) throws -> FeedMapping {
        let root = try YAMLNode.parse(text, file: file)
        let top = try root.fields("the mapping", allowed: topKeys)
        func need(_ key: String) throws -> YAMLNode {
            guard let n = top[key] else { throw ConfigError(file: file, line: root.line, message: "missing key '\(key)'") }
            return n
        }
        let feed = try need("feed").scalar("feed")
        guard feed.range(of: "^[a-z0-9][a-z0-9-]*$", options: .regularExpression) != nil else {
            throw try need("feed").error("feed name must be lower-case letters, digits and dashes (it names inbox/<feed>/)")
        }
        let version = try top["version"].map { try $0.int("version") } ?? 1
        let description = try top["description"].map { try $0.scalar("description") } ?? ""
        var isDealership = false
        if let src = top["source"] {
            switch try src.scalar("source") {
            case "dealership": isDealership = true
            case "partner": isDealership = false
            default: throw src.error("source must be dealership or partner")
            }
        }

        let match = try need("match").fields("match", allowed: ["name", "content"])
        guard let nameNode = match["name"] else { throw try need("match").error("match needs a 'name' regular expression") }
        let namePattern = try pattern(nameNode, "match.name")
        let signature = try match["content"].map { try $0.scalar("match.content") }

        let formatNode = try need("format")
        let formatName = try formatNode.scalar("format")
        var namespaces: [String: [String]] = [:]
        var format: FeedMapping.Format
        switch formatName {
        case "csv":
            format = .csv(try csvDialect(top["csv"], file: file))
        case "xml":
            guard let xmlNode = top["xml"] else { throw formatNode.error("format xml needs an 'xml' section (namespaces, record)") }
            let xml = try xmlNode.fields("xml", allowed: ["namespaces", "record", "each", "count", "sequence"])
            for entry in try xml["namespaces"]?.mapping("xml.namespaces") ?? [] {
                // One URI, or a list: the prefix then matches any of them (versions of one standard).
                namespaces[entry.key] =
                    entry.value.node.sequence != nil
                    ? try entry.value.sequence("namespace \(entry.key)").map { try $0.scalar("namespace") }
                    : [try entry.value.scalar("namespace \(entry.key)")]
            }
            guard let recordNode = xml["record"] else { throw xmlNode.error("xml needs 'record', the path of the record element") }
            let recordText = try recordNode.scalar("xml.record")
            guard recordText.hasPrefix("/") else { throw recordNode.error("xml.record must be an absolute path such as /p:Export/p:Item") }
            let steps = try recordText.dropFirst().split(separator: "/").map { try qname(String($0), namespaces, recordNode) }
            guard !steps.isEmpty else { throw recordNode.error("xml.record is empty") }
            var countPath: String?
            var documentAttributes: [String: DocumentAttribute] = [:]
            if let c = xml["count"] {
                let text = try c.scalar("xml.count")
                documentAttributes[text] = try documentPath(text, namespaces, c)
                countPath = text
            }
            var xmlFormat = FeedMapping.XMLFormat(
                namespaces: namespaces, recordPath: steps, recordPathText: recordText, countPath: countPath,
                documentAttributes: documentAttributes)
            if let seqNode = xml["sequence"] {
                let g = try seqNode.fields("xml.sequence", allowed: ["number", "per"])
                guard let number = g["number"] else { throw seqNode.error("xml.sequence needs 'number', an absolute attribute path") }
                let text = try number.scalar("xml.sequence.number")
                xmlFormat.documentAttributes[text] = try documentPath(text, namespaces, number)
                xmlFormat.sequencePath = text
                if let per = g["per"] {
                    let perText = try per.scalar("xml.sequence.per")
                    xmlFormat.documentAttributes[perText] = try documentPath(perText, namespaces, per)
                    xmlFormat.sequenceScopePath = perText
                }
            }
            if let eachNode = xml["each"] {
                let path = try relativePath(try eachNode.scalar("xml.each"), namespaces, eachNode)
                guard !path.steps.isEmpty, path.attribute == nil, !path.steps.contains(.parent) else {
                    throw eachNode.error("xml.each must be a path of elements inside the record, such as c:NtryDtls/c:TxDtls")
                }
                xmlFormat.each = path.steps
            }
            format = .xml(xmlFormat)
        case "json":
            let j = try top["json"].map { try $0.fields("json", allowed: ["record", "lines"]) } ?? [:]
            let record = try j["record"].map { JSONFormat.steps(try $0.scalar("json.record")) } ?? []
            let lines = try j["lines"].map { try $0.bool("json.lines") } ?? false
            format = .json(JSONFormat(record: record, lines: lines))
        default:
            throw formatNode.error("format must be csv, xml or json, not '\(formatName)'")
        }

        var fields: [String: FieldBinding] = [:]
        guard let fieldsNode = top["fields"] else { throw root.error("missing key 'fields'") }
        for entry in try fieldsNode.mapping("fields") {
            let b = try binding(entry.key, entry.value, line: entry.line, format: format, namespaces: namespaces)
            fields[entry.key] = b
            if case .xml(var xml) = format {
                for case .document(let text) in b.sources {
                    xml.documentAttributes[text] = try documentPath(text, namespaces, entry.value)
                }
                format = .xml(xml)
            }
        }

        var rules: [FactRule] = []
        var skipRules: [SkipRule] = []
        for entry in try top["facts"]?.sequence("facts") ?? [] {
            if entry.isMapping, try entry.mapping("a facts entry").contains(where: { $0.key == "skip" }) {
                skipRules.append(try skipRule(entry))
            } else {
                rules.append(try rule(entry))
            }
        }
        guard !rules.isEmpty else { throw root.error("missing 'facts': which canonical fact each record becomes") }
        let key = try top["key"].map { try $0.sequence("key").map { try $0.scalar("key") } } ?? ["order_ref"]

        // Cross-checks: each kind gets its required fields; every field belongs to a kind or a condition.
        let conditionFields = Set(rules.compactMap { $0.condition?.field } + skipRules.map(\.condition.field))
        for r in skipRules where fields[r.condition.field] == nil {
            throw ConfigError(file: file, line: r.line, message: "skip condition reads field '\(r.condition.field)', which is not bound")
        }
        for r in rules {
            if Self.dealershipOnlyKinds.contains(r.kind) && !isDealership {
                throw ConfigError(
                    file: file, line: r.line,
                    message: "only a dealership export may produce \(r.kind.rawValue); add 'source: dealership' if this feed is one")
            }
            for spec in r.kind.schema.fields where spec.required && fields[spec.name] == nil && r.overrides[spec.name] == nil {
                throw ConfigError(
                    file: file, line: r.line, message: "fact \(r.kind.rawValue) needs field '\(spec.name)', which is not bound")
            }
            if let c = r.condition, fields[c.field] == nil {
                throw ConfigError(file: file, line: r.line, message: "condition reads field '\(c.field)', which is not bound")
            }
        }
        for (name, b) in fields {
            let known = rules.contains { $0.kind.schema.spec(name) != nil } || conditionFields.contains(name) || key.contains(name)
            if !known {
                let kinds = rules.map(\.kind.rawValue).joined(separator: ", ")
                throw ConfigError(
                    file: file, line: b.line, message: "field '\(name)' is not a field of \(kinds) and no condition or key reads it")
            }
            for case .nationalID(let typeField) in b.checks where fields[typeField] == nil {
                throw ConfigError(file: file, line: b.line, message: "national_id check reads field '\(typeField)', which is not bound")
            }
        }
        for k in key where fields[k] == nil {
            throw ConfigError(file: file, line: top["key"]?.line ?? 0, message: "key field '\(k)' is not bound")
        }
        // One instant, one event: a key that reads the text of a time would make a re-send with
        // another offset spelling (+01:00 against Z, +0100 against +01:00) a second fact.
        let timeSources = Set(
            fields.values.filter { b in rules.contains { $0.kind.schema.spec(b.name)?.type == .time } }.flatMap(\.sources))
        for k in key {
            guard let b = fields[k], !b.sources.filter(timeSources.contains).isEmpty else { continue }
            let normalised = b.transforms.contains {
                switch $0 {
                case .utc, .datetime: return true
                default: return false
                }
            }
            guard normalised else {
                throw ConfigError(
                    file: file, line: b.line,
                    message:
                        "key field '\(k)' reads a time as text: add the utc transform, so that one instant written with another offset is the same event"
                )
            }
        }
        var mapping = FeedMapping(
            feed: feed, version: version, description: description, isDealershipSource: isDealership,
            file: file, namePattern: namePattern,
            contentSignature: signature, format: format, rules: rules, skipRules: skipRules, fields: fields, key: key)
        if let n = top["fact_source"] {
            let v = try n.scalar("fact_source")
            guard v.range(of: "^[a-z0-9][a-z0-9-]*$", options: .regularExpression) != nil else {
                throw n.error("fact_source must be lower-case letters, digits and dashes, like a feed name")
            }
            mapping.factSource = v
        }
        if let n = top["max_document_bytes"] {
            let v = try n.int("max_document_bytes")
            guard (1...(64 << 20)).contains(v) else { throw n.error("max_document_bytes must be between 1 and 67108864") }
            mapping.maxDocumentBytes = v
        }
        if let n = top["repeated_key"] {
            switch try n.scalar("repeated_key") {
            case "numbered": mapping.numberRepeatedKeys = true
            case "same": mapping.numberRepeatedKeys = false
            default: throw n.error("repeated_key is numbered (a repeat in one file is another record) or same (the default)")
            }
        }
        if let n = top["max_field_bytes"] {
            let v = try n.int("max_field_bytes")
            guard (1...(64 << 20)).contains(v) else { throw n.error("max_field_bytes must be between 1 and 67108864") }
            mapping.maxFieldBytes = v
        }
        return mapping
    }

    static func csvDialect(_ node: YAMLNode?, file: String) throws -> CSVDialect {
        var d = CSVDialect()
        guard let node else { return d }
        let f = try node.fields("csv", allowed: ["delimiter", "quote", "header", "encoding", "null_values"])
        if let n = f["delimiter"] {
            let s = try n.scalar("csv.delimiter")
            let b = s == "\\t" || s == "tab" ? [UInt8(9)] : Array(s.utf8)
            guard b.count == 1 else { throw n.error("csv.delimiter must be one ASCII character") }
            d.delimiter = b[0]
        }
        if let n = f["quote"] {
            let s = try n.scalar("csv.quote")
            if s.isEmpty || s == "none" {
                d.quote = nil
            } else {
                guard s.utf8.count == 1 else { throw n.error("csv.quote must be one ASCII character or none") }
                d.quote = s.utf8.first
            }
        }
        if let n = f["header"] { d.header = try n.bool("csv.header") }
        if let n = f["encoding"] {
            let s = try n.scalar("csv.encoding").lowercased()
            let aliases: [String: CSVDialect.Encoding] = ["utf8": .utf8, "latin1": .latin1, "latin-1": .latin1, "cp1252": .windows1252]
            guard let e = CSVDialect.Encoding(rawValue: s) ?? aliases[s] else {
                throw n.error("csv.encoding must be utf-8, iso-8859-1 or windows-1252")
            }
            d.encoding = e
        }
        if let n = f["null_values"] { d.nullValues = try n.sequence("csv.null_values").map { try $0.scalar("null value") } }
        return d
    }

    static func skipRule(_ node: YAMLNode) throws -> SkipRule {
        let f = try node.fields("a skip entry", allowed: ["skip", "when"])
        guard let w = f["when"] else { throw node.error("a skip entry needs 'when': which records to skip") }
        return SkipRule(reason: try f["skip"]!.scalar("skip"), condition: try condition(w), line: node.line)
    }

    static func condition(_ w: YAMLNode) throws -> FactRule.Condition {
        let c = try w.fields("when", allowed: ["field", "equals", "not_equals"])
        guard let field = c["field"] else { throw w.error("when needs 'field'") }
        let (valuesNode, negate) = c["equals"].map { ($0, false) } ?? (c["not_equals"], true)
        guard let valuesNode else { throw w.error("when needs 'equals' or 'not_equals'") }
        let values =
            valuesNode.node.sequence != nil
            ? try valuesNode.sequence("values").map { try $0.scalar("value") }
            : [try valuesNode.scalar("value")]
        return .init(field: try field.scalar("when.field"), equals: values, negate: negate)
    }

    static func rule(_ node: YAMLNode) throws -> FactRule {
        let f = try node.fields("a facts entry", allowed: ["kind", "when", "set"])
        guard let kindNode = f["kind"] else { throw node.error("a facts entry needs 'kind'") }
        let kindName = try kindNode.scalar("kind")
        guard let kind = FactKind(rawValue: kindName) else {
            throw kindNode.error("unknown fact kind '\(kindName)' (known: \(FactKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let condition = try f["when"].map(condition)
        var overrides: [String: String] = [:]
        for e in try f["set"]?.mapping("set") ?? [] {
            guard let spec = kind.schema.spec(e.key), e.key != "order_ref", e.key != "occurred_at" else {
                throw ConfigError(file: node.file, line: e.line, message: "set: '\(e.key)' is not a field \(kind.rawValue) lets a rule set")
            }
            let value = try e.value.scalar("set.\(e.key)")
            if let allowed = spec.allowed, !allowed.contains(value) {
                throw ConfigError(file: node.file, line: e.line, message: "set: \(e.key) must be one of \(allowed.joined(separator: ", "))")
            }
            overrides[e.key] = value
        }
        return FactRule(kind: kind, condition: condition, overrides: overrides, line: node.line)
    }

    static let bindingKeys: Set<String> = ["column", "path", "value", "transforms", "checks", "search", "optional"]

    static func binding(
        _ name: String, _ node: YAMLNode, line: Int, format: FeedMapping.Format,
        namespaces: [String: [String]]
    ) throws -> FieldBinding {
        let f = try node.fields("field '\(name)'", allowed: bindingKeys)
        var sources: [FieldSource] = []
        func texts(_ n: YAMLNode) throws -> [String] {
            n.node.sequence != nil ? try n.sequence("alternatives").map { try $0.scalar("source") } : [try n.scalar("source")]
        }
        if let c = f["column"] {
            guard case .csv(let dialect) = format else { throw c.error("field '\(name)': 'column' is for CSV feeds; use 'path' for XML") }
            for text in try texts(c) {
                if dialect.header {
                    sources.append(.column(text))
                } else {
                    // Without a header row a column is its position: 1 is the first.
                    guard let n = Int(text), n >= 1 else {
                        throw c.error(
                            "field '\(name)': the feed has no header row (csv.header: false), so 'column' must be a position such as 3")
                    }
                    sources.append(.position(n))
                }
            }
        }
        if let p = f["path"], case .json = format {
            for text in try texts(p) {
                let steps = JSONFormat.steps(text)
                guard !steps.isEmpty else { throw p.error("field '\(name)': an empty JSON path") }
                sources.append(text.hasPrefix("/") ? .jsonDocument(steps) : .json(steps))
            }
        } else if let p = f["path"] {
            guard case .xml = format else { throw p.error("field '\(name)': 'path' is for XML and JSON feeds; use 'column' for CSV") }
            for text in try texts(p) {
                if text.hasPrefix("/") {
                    sources.append(.document(text))
                } else {
                    let path = try relativePath(text, namespaces, p)
                    // A parent step may not climb above the record: the streaming reader keeps only
                    // the record's own subtree (with xml.each, the enclosing record is that subtree).
                    var depth = 0
                    if case .xml(let x) = format { depth = x.each?.count ?? 0 }
                    for step in path.steps {
                        depth += step == .parent ? -1 : 1
                        if depth < 0 { throw p.error("field '\(name)': path \(text) climbs above the record") }
                    }
                    sources.append(.path(path))
                }
            }
        }
        if let v = f["value"] { sources.append(.constant(try v.scalar("value"))) }
        guard !sources.isEmpty else {
            throw ConfigError(file: node.file, line: line, message: "field '\(name)' needs a column, path or value")
        }
        let transforms = try (f["transforms"]?.sequence("transforms") ?? []).map { try transform($0, field: name) }
        let checks = try (f["checks"]?.sequence("checks") ?? []).map { try check($0, field: name) }
        var b = FieldBinding(name: name, sources: sources, transforms: transforms, checks: checks, line: line)
        if let n = f["search"] { b.search = try n.bool("search") }
        if let n = f["optional"] { b.optional = try n.bool("optional") }
        return b
    }

    /// A transform is a bare name (`trim`) or a one-key mapping (`datetime: {format: …, zone: …}`).
    static func transform(_ node: YAMLNode, field: String) throws -> Transform {
        if let s = node.node.scalar?.string {
            switch s {
            case "trim": return .trim
            case "upper": return .upper
            case "lower": return .lower
            case "collapse_spaces": return .collapseSpaces
            case "integer": return .integer
            case "utc": return .utc
            default:
                throw node.error(
                    "field '\(field)': unknown transform '\(s)' (known: trim, upper, lower, collapse_spaces, integer, utc, datetime, decimal, split, map, default, extract)"
                )
            }
        }
        let entries = try node.mapping("a transform")
        guard entries.count == 1, let (name, arg, _) = entries.first.map({ ($0.key, $0.value, $0.line) }) else {
            throw node.error("field '\(field)': a transform is one name, optionally with its settings")
        }
        do {
            switch name {
            case "datetime":
                if let s = arg.node.scalar?.string { return .datetime(try DateTimeFormat(format: s, zone: nil)) }
                let a = try arg.fields("datetime", allowed: ["format", "zone"])
                guard let fmt = a["format"] else {
                    throw arg.error("datetime needs 'format' (a layout such as dd/MM/yyyy HH:mm, or iso8601)")
                }
                return .datetime(try DateTimeFormat(format: try fmt.scalar("format"), zone: try a["zone"].map { try $0.scalar("zone") }))
            case "decimal":
                let a = try arg.fields("decimal", allowed: ["separator", "thousands", "minor_units"])
                let sep = try a["separator"].map { try $0.scalar("separator") } ?? "."
                let th = try a["thousands"].map { try $0.scalar("thousands") }
                guard sep.utf8.count == 1, th.map({ $0.utf8.count == 1 }) ?? true else {
                    throw arg.error("decimal separators are single characters")
                }
                guard let separator = sep.utf8.first, separator != th?.utf8.first else {
                    throw arg.error("decimal: the decimal and group separators must be two different characters")
                }
                let minorUnits = try a["minor_units"].map { try $0.int("minor_units") } ?? 2
                guard (0...Transforms.maxMinorUnits).contains(minorUnits) else {
                    throw arg.error("decimal: minor_units is from 0 to \(Transforms.maxMinorUnits)")
                }
                return .decimal(separator: separator, thousands: th?.utf8.first, minorUnits: minorUnits)
            case "split": return .split(try arg.scalar("split"))
            case "map":
                var table: [String: String] = [:]
                var otherwise: String?
                for e in try arg.mapping("map") {
                    if e.key == "_otherwise" {
                        otherwise = try e.value.scalar("otherwise")
                    } else {
                        table[e.key] = try e.value.scalar("map value")
                    }
                }
                return .map(table, otherwise: otherwise)
            case "default": return .defaultValue(try arg.scalar("default"))
            case "extract":
                if arg.node.scalar != nil { return .extract(try pattern(arg, "extract"), otherwise: nil) }
                let a = try arg.fields("extract", allowed: ["pattern", "otherwise"])
                guard let p = a["pattern"] else { throw arg.error("extract needs 'pattern'") }
                return .extract(try pattern(p, "extract.pattern"), otherwise: try a["otherwise"].map { try $0.scalar("extract.otherwise") })
            default: throw node.error("field '\(field)': unknown transform '\(name)'")
            }
        } catch let e as MappingFieldError {
            throw arg.error("field '\(field)': \(e.message)")
        }
    }

    static func check(_ node: YAMLNode, field: String) throws -> Check {
        if let s = node.node.scalar?.string {
            guard s == "required" else {
                throw node.error(
                    "field '\(field)': unknown check '\(s)' (known: required, pattern, validator, national_id, one_of, max_length)")
            }
            return .required
        }
        let entries = try node.mapping("a check")
        guard entries.count == 1, let e = entries.first else { throw node.error("field '\(field)': a check is one name with its setting") }
        switch e.key {
        case "pattern": return .pattern(try pattern(e.value, "pattern"))
        case "validator":
            let v = try e.value.scalar("validator")
            guard Validators.named[v] != nil else {
                throw e.value.error(
                    "field '\(field)': unknown validator '\(v)' (known: \(Validators.named.keys.sorted().joined(separator: ", ")))")
            }
            return .validator(v)
        case "national_id": return .nationalID(typeField: try e.value.scalar("national_id"))
        case "one_of": return .oneOf(try e.value.sequence("one_of").map { try $0.scalar("value") })
        case "max_length": return .maxLength(try e.value.int("max_length"))
        default: throw node.error("field '\(field)': unknown check '\(e.key)'")
        }
    }

    static func pattern(_ node: YAMLNode, _ what: String) throws -> Pattern {
        let text = try node.scalar(what)
        do { return try Pattern(text) } catch { throw node.error("\(what): not a valid regular expression") }
    }

    static func qname(_ text: String, _ namespaces: [String: [String]], _ node: YAMLNode) throws -> QName {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        if parts.count == 2 {
            guard let uris = namespaces[parts[0]] else {
                throw node.error("namespace prefix '\(parts[0])' is not declared under xml.namespaces")
            }
            return QName(namespaces: uris, local: parts[1])
        }
        guard !text.isEmpty else { throw node.error("empty step in an XML path") }
        return QName(namespace: nil, local: text)
    }

    static func relativePath(_ text: String, _ namespaces: [String: [String]], _ node: YAMLNode) throws -> XMLPath {
        var steps: [XMLStep] = []
        var attribute: QName?
        let parts = text.split(separator: "/").map(String.init)
        for (i, part) in parts.enumerated() {
            if part == "." { continue }
            if part == ".." {
                steps.append(.parent)
                continue
            }
            if part.hasPrefix("@") {
                guard i == parts.count - 1 else { throw node.error("path \(text): an attribute must be the last step") }
                attribute = try qname(String(part.dropFirst()), namespaces, node)
            } else if part == "text()" {
                guard i == parts.count - 1 else { throw node.error("path \(text): text() must be the last step") }
            } else {
                steps.append(.child(try qname(part, namespaces, node)))
            }
        }
        return XMLPath(steps: steps, attribute: attribute, text: text)
    }

    /// `/p:Root/p:Child/@attr`: an attribute of an element outside the records.
    static func documentPath(_ text: String, _ namespaces: [String: [String]], _ node: YAMLNode) throws -> DocumentAttribute {
        let parts = text.dropFirst().split(separator: "/").map(String.init)
        guard let last = parts.last, last.hasPrefix("@"), parts.count >= 2 else {
            throw node.error("absolute path \(text) must end in an attribute, such as /p:Export/@count")
        }
        return DocumentAttribute(
            elements: try parts.dropLast().map { try qname($0, namespaces, node) },
            attribute: try qname(String(last.dropFirst()), namespaces, node))
    }
}
