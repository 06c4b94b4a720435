import ArgumentParser
import Foundation
import GatewayCore
import GatewayEngine
import GatewayFormats

struct TryMapping: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "try-mapping",
        abstract: "Show how a file would be recognised and what each record becomes, touching nothing.",
        discussion: """
            Reads the file with today's mappings (mappings/feeds/) exactly as the ingest would: \
            which feed's mapping is chosen and why, then each record as the fact it becomes or \
            as a rejection with field and reason, and whether the whole file would be quarantined. \
            Nothing is written: no store, no archive, no quarantine. Personal fields (customer and \
            delivery data) are shown as *** unless --show-personal.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The partner file to try.", valueName: "file")) var file: String
    @Option(help: ArgumentHelp("Read it with this feed's mapping instead of the one its name selects.", valueName: "feed")) var feed:
        String?
    @Option(help: "Show at most this many records (all are counted).") var limit = 50
    @Flag(help: "Show customer and delivery fields as they are (for your own test files).") var showPersonal = false
    @Flag(help: "Print as JSON.") var json = false

    struct Out: Encodable {
        let file, recognition: String
        let feed: String?
        let wouldQuarantine: String?
        let records, accepted, rejected, skipped: Int
        let shown: [Shown]
    }

    struct Shown: Encodable {
        let record: Int?
        let line: Int?
        let outcome: String
        let kind, orderRef, occurredAt, reason: String?
        let fields: [String: String]?
        let problems: [Rejection]?
    }

    func run() throws {
        let cfg = try global.loadConfig()
        let loaded = try MappingLoader.loadDirectory(cfg.feedMappingsDir)
        for e in loaded.errors { Output.error("\(e) (this mapping is left out of the trial)") }
        try Output.operatorCommand {
            let t = try MappingTrial.run(path: file, mappings: loaded.mappings, feed: feed, limit: limit)
            let shown = t.records.map(show)
            if json {
                return try Output.json(
                    Out(
                        file: file, recognition: t.recognition, feed: t.feed, wouldQuarantine: t.fileProblem, records: t.summary.records,
                        accepted: t.summary.accepted, rejected: t.summary.rejected, skipped: t.summary.skipped, shown: shown))
            }
            Output.line("\(file): \(t.recognition)")
            guard t.feed != nil else { return Output.line("  the run would quarantine it as unrecognised") }
            for s in shown {
                let at = "  record \(s.record.map(String.init) ?? "?") (line \(s.line.map(String.init) ?? "?")): "
                switch s.outcome {
                case "fact":
                    Output.line(at + "\(s.kind!) \(s.orderRef!) at \(s.occurredAt!)")
                    for (k, v) in (s.fields ?? [:]).sorted(by: { $0.key < $1.key }) { Output.line("      \(k) = \(v)") }
                case "rejected":
                    for p in s.problems ?? [] {
                        Output.line(
                            at + "REJECTED\(p.recordRef.map { " (\($0))" } ?? "")\(p.field.map { ", field \($0)" } ?? ""): \(p.reason)")
                    }
                default: Output.line(at + "skipped: \(s.reason ?? "")")
                }
            }
            if t.records.count < t.summary.records { Output.line("  … \(t.summary.records - t.records.count) more records not shown") }
            if let p = t.fileProblem { Output.line("  the run would QUARANTINE the whole file: \(p)") }
            Output.line(
                "  \(t.summary.records) record(s): \(t.summary.accepted) fact(s), \(t.summary.rejected) rejected, \(t.summary.skipped) skipped; nothing was written"
            )
        }
    }

    func show(_ r: MappingTrial.Record) -> Shown {
        switch r {
        case .fact(let f):
            var fields: [String: String] = [:]
            for entry in f.fields.entries {
                let k = entry.key
                let text: String
                switch entry.value {
                case .list(let l): text = "[" + l.joined(separator: ", ") + "]"
                case .time(let d): text = Timestamp.iso(d)
                case .int(let n): text = String(n)
                case .string(let str): text = str
                }
                fields[k] = showPersonal || Redaction.mayShow(field: k) ? text : "***"
            }
            return Shown(
                record: f.provenance.record, line: f.provenance.line, outcome: "fact", kind: f.kind.rawValue, orderRef: f.orderRef,
                occurredAt: Timestamp.iso(f.occurredAt), reason: nil, fields: fields, problems: nil)
        case .rejected(let problems):
            return Shown(
                record: problems.first?.record, line: problems.first?.line, outcome: "rejected", kind: nil,
                orderRef: problems.first?.recordRef,
                occurredAt: nil, reason: nil, fields: nil, problems: problems)
        case .skipped(let why):
            return Shown(
                record: nil, line: nil, outcome: "skipped", kind: nil, orderRef: nil, occurredAt: nil, reason: why, fields: nil,
                problems: nil)
        }
    }
}

struct Fields: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every canonical fact kind and its fields: what a mapping binds and the lifecycle reads.")

    @Option(help: ArgumentHelp("Only this fact kind.", valueName: "kind")) var kind: String?
    @Flag(help: "Print as JSON.") var json = false

    struct Kind: Encodable {
        let kind: String
        let fields: [Field]
    }

    struct Field: Encodable {
        let name, type: String
        let required, personal: Bool
        let allowed: [String]?
    }

    func validate() throws {
        if let kind, FactKind(rawValue: kind) == nil {
            throw ValidationError("unknown fact kind \(kind); kinds: \(FactKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let kinds = FactKind.allCases.filter { kind == nil || $0.rawValue == kind }.map { k in
            Kind(
                kind: k.rawValue,
                fields: k.schema.fields.map {
                    Field(
                        name: $0.name, type: $0.type.rawValue, required: $0.required, personal: !Redaction.mayShow(field: $0.name),
                        allowed: $0.allowed)
                })
        }
        if json { return try Output.json(kinds) }
        for k in kinds {
            Output.line(k.kind)
            for f in k.fields {
                var notes = [f.type]
                if f.required { notes.append("required") }
                if f.personal { notes.append("personal") }
                if let a = f.allowed { notes.append("one of " + a.joined(separator: ", ")) }
                Output.line("  \(f.name)  (\(notes.joined(separator: "; ")))")
            }
        }
    }
}
