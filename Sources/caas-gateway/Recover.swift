import ArgumentParser
import Foundation
import GatewayCore
import GatewayEngine

struct Requeue: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a quarantined or ingested file through the inbox again, after fixing its mapping.",
        discussion: """
            The file (by its name as the report lists it, or 8 or more digits of its SHA-256) moves \
            from var/quarantine/ or var/archive/ back to inbox/<feed>/ and is taken in again with \
            today's mappings on the next run, or at once with --ingest. The ledger keeps what it \
            was before; facts are idempotent, so records applied before add nothing twice.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Files to requeue: names or SHA-256 prefixes.", valueName: "file")) var files: [String]
    @Option(help: "Why (kept with the file's history). Default: requeued by an operator.") var note: String?
    @Flag(help: "Ingest the inbox now instead of waiting for the next run.") var ingest = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one file (or a SHA-256 prefix)") }
    }

    func run() throws {
        let gateway = try global.openGateway()
        try Output.operatorCommand {
            for f in files {
                let r = try gateway.requeue(f, note: note ?? "requeued by an operator", asOf: global.asOfDate)
                Output.line("requeued \(r.name) (sha256 \(r.hash.prefix(12)), was \(r.statusBefore)): \(r.to)")
            }
        }
        if ingest {
            try RunOutput.finish(try RunOutput.guarded { try gateway.ingest(asOf: global.asOfDate) }, json: false, summary: true)
        } else {
            Output.line("the next run takes it in (or: caas-gateway ingest)")
        }
    }
}

struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make failed actions due again, with a fresh attempt budget, after fixing what made them fail.",
        discussion: """
            Give the actions' keys (as `caas-gateway exceptions` and `explain` print them), or \
            --failed for every failed action, narrowed with --kind and --order. The note and the \
            time are kept in each action's history; the next run (or `caas-gateway act`) performs them.

            fold:<ref> brings back an order set aside because folding it killed a run (a \
            fold_failed exception): the next run folds it again. If it kills that run too, it is \
            set aside again.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(
        help: ArgumentHelp(
            "Keys of failed actions, such as place_factory_order:S-2026-000101, or fold:S-2026-000101 for an order set aside.",
            valueName: "key")) var keys:
        [String] = []
    @Flag(help: "Every failed action (narrow with --kind, --order).") var failed = false
    @Option(help: ArgumentHelp("Only failed actions of this kind (place_factory_order, submit_registration, …).", valueName: "kind"))
    var kind: String?
    @Option(help: ArgumentHelp("Only the failed actions of this order.", valueName: "ref")) var order: String?
    @Option(help: "Why they can succeed now (required): what was fixed, by whom.") var note: String

    func validate() throws {
        if keys.isEmpty && !failed { throw ValidationError("name the actions' keys, or use --failed") }
        if !keys.isEmpty && (failed || kind != nil || order != nil) {
            throw ValidationError("give keys or --failed [--kind K] [--order REF], not both")
        }
        if !failed && (kind != nil || order != nil) { throw ValidationError("--kind and --order narrow --failed") }
    }

    func run() throws {
        let gateway = try global.openGateway()
        try Output.operatorCommand {
            let done = try gateway.retry(keys: keys, kind: kind, orderRef: order, note: note, asOf: global.asOfDate)
            let folds = done.filter { $0.hasPrefix(Gateway.foldKeyPrefix) }
            let due = done.filter { !$0.hasPrefix(Gateway.foldKeyPrefix) }
            for k in folds { Output.line("brought back: \(k)") }
            for k in due { Output.line("due again: \(k)") }
            if !folds.isEmpty { Output.line("\(folds.count) order(s) brought back; the next run folds them (or: caas-gateway act)") }
            if !due.isEmpty { Output.line("\(due.count) action(s) due again; the next run performs them (or: caas-gateway act)") }
        }
    }
}

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete archived files, quarantined files and reports older than the configured retention.",
        discussion: """
            Only what `retention: {archive_days, quarantine_days, reports_days}` in the \
            configuration names; without it everything is kept forever. A file the ledger still \
            needs is kept whatever its age: a quarantined file nothing replaced, an ingested file \
            whose rejected records are still an exception, a requeued file. Ages count on the \
            --as-of clock.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "List what would be deleted; delete nothing.") var dryRun = false

    func run() throws {
        let gateway = try global.openGateway()
        guard !gateway.config.retention.isEmpty else {
            Output.line("no retention configured: everything is kept (retention: {archive_days, quarantine_days, reports_days})")
            return
        }
        let r = try RunOutput.guardedValue { try gateway.prune(asOf: global.asOfDate, dryRun: dryRun) }
        for path in r.deleted { Output.line("\(dryRun ? "would delete" : "deleted") \(path)") }
        for path in r.kept { Output.line("kept (still needed) \(path)") }
        Output.line("\(dryRun ? "would free" : "freed") \(r.bytes) bytes in \(r.deleted.count) file(s); \(r.kept.count) old file(s) kept")
    }
}
