import ArgumentParser
import Foundation
import GatewayCore
import GatewayEngine

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The whole job, as cron runs it: ingest the inbox, move orders on, act, write the report.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the run summary as JSON on standard output.") var json = false
    @Flag(help: "Print the human summary even when standard output is not a terminal (cron stays quiet without it).") var summary = false
    @Flag(help: "Show what would be sent without sending anything: no pull, no push, no notification; inbox files are still ingested.")
    var dryRun = false

    func run() throws {
        let gateway = try global.openGateway()
        try RunOutput.finish(try RunOutput.guarded { try gateway.run(asOf: global.asOfDate, dryRun: dryRun) }, json: json, summary: summary)
    }
}

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Only take the inbox in: files become facts (archived) or are quarantined; no order is moved on.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the summary as JSON on standard output.") var json = false

    func run() throws {
        let gateway = try global.openGateway()
        try RunOutput.finish(try RunOutput.guarded { try gateway.ingest(asOf: global.asOfDate) }, json: json)
    }
}

struct Act: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fold orders and perform the actions their states call for (credentials, notifications).")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the summary as JSON on standard output.") var json = false
    @Flag(help: "Show what would be sent without sending anything.") var dryRun = false

    func run() throws {
        let gateway = try global.openGateway()
        try RunOutput.finish(try RunOutput.guarded { try gateway.act(asOf: global.asOfDate, dryRun: dryRun) }, json: json)
    }
}

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch ready files from the configured SFTP sources into inbox/<feed>/; nothing is ingested.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the summary as JSON on standard output.") var json = false

    func run() throws {
        let gateway = try global.openGateway()
        try RunOutput.finish(try RunOutput.guarded { try gateway.pull(asOf: global.asOfDate) }, json: json)
    }
}

struct Push: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deliver outbox folders to the configured SFTP destinations; a file is never pushed twice with the same content.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the summary as JSON on standard output.") var json = false

    func run() throws {
        let gateway = try global.openGateway()
        try RunOutput.finish(try RunOutput.guarded { try gateway.push(asOf: global.asOfDate) }, json: json)
    }
}

struct Reconcile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fold orders and write the day's report (outbox/reports/<date>/) without ingesting or acting.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the summary as JSON on standard output.") var json = false

    func run() throws {
        let gateway = try global.openGateway()
        try RunOutput.finish(try RunOutput.guarded { try gateway.reconcile(asOf: global.asOfDate) }, json: json)
    }
}

enum RunOutput {
    static func guarded(_ body: () throws -> RunSummary) throws -> RunSummary { try guardedValue("run failed", body) }

    /// Any command's work: a failure is said on standard error and exits 1.
    static func guardedValue<T>(_ what: String = "failed", _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            Output.error("\(what): \(error)")
            throw ExitCode(ExitCodes.failure)
        }
    }

    /// Prints what a person (or, with --json, a program) needs, then exits with the run's code.
    static func finish(_ s: RunSummary, json: Bool, summary: Bool = false) throws {
        if json {
            try Output.json(s)
        } else if Output.isTerminal || summary {
            for l in describe(s) { Output.line(l) }
        } else if s.needsAttention {
            // Under cron: one line to standard error, which cron mails; nothing on plain success.
            Output.error(
                "\(s.command) \(s.runID) needs a person: \(s.attentionClauses.joined(separator: "; ")); see \(s.reportPath ?? "the report")"
            )
        }
        if s.endpointsFailed {
            if !json && !(Output.isTerminal || summary) {
                for (endpoint, why) in s.failedEndpoints.sorted(by: { $0.key < $1.key }) { Output.error("\(endpoint) failed: \(why)") }
            }
            throw ExitCode(ExitCodes.endpointFailed)
        }
        if s.needsAttention { throw ExitCode(ExitCodes.needsAttention) }
    }

    static func describe(_ s: RunSummary) -> [String] {
        var out = ["caas-gateway \(s.command) as of \(Timestamp.iso(s.asOf)) (run \(s.runID))"]
        if s.changedNothing {
            out.append("  nothing new: no files in the inbox, no order changed state, no action was due")
        }
        if !s.files.isEmpty || s.command == "ingest" || s.command == "run" {
            out.append(
                "  files: \(s.files.count) seen, \(s.count(.ingested)) ingested, \(s.count(.duplicate)) duplicate, \(s.count(.quarantined) + s.count(.unrecognised)) quarantined"
                    + (s.deferredFiles > 0 ? ", \(s.deferredFiles) left for later (still being written?)" : ""))
            out.append("  records: \(s.recordsAccepted) accepted (\(s.factsNew) new facts), \(s.recordsRejected) rejected")
        }
        for f in s.files where f.outcome != .ingested {
            out.append("    \(f.outcome.rawValue): \(f.name): \(f.detail ?? "")")
        }
        for f in s.files where !f.rejections.isEmpty {
            for r in f.rejections {
                out.append("    rejected: \(f.name) line \(r.line)\(r.field.map { ", field \($0)" } ?? ""): \(r.reason)")
            }
            if let c = f.counts, c.rejected > f.rejections.count {
                out.append("    … and \(c.rejected - f.rejections.count) more in the report")
            }
        }
        if !s.stateChanges.isEmpty {
            out.append(
                "  orders moved: " + s.stateChanges.sorted { $0.key < $1.key }.map { "\($0.value) to \($0.key)" }.joined(separator: ", "))
        }
        if s.actionsDone + s.actionsFailed + s.actionsSkipped > 0 {
            out.append("  actions: \(s.actionsDone) done, \(s.actionsFailed) failed, \(s.actionsSkipped) no longer due")
        }
        if s.pulled + s.pullWaiting > 0 { out.append("  pulled: \(s.pulled) file(s); \(s.pullWaiting) not ready yet") }
        if s.pushed > 0 { out.append("  pushed: \(s.pushed) file(s)") }
        if s.transfersRefused > 0 { out.append("  transfers refused: \(s.transfersRefused) (see the report)") }
        for (endpoint, why) in s.failedEndpoints.sorted(by: { $0.key < $1.key }) { out.append("  FAILED \(endpoint): \(why)") }
        if !s.notificationsFiles.isEmpty {
            out.append("  notifications: \(s.notifications) in \(s.notificationsFiles.joined(separator: ", "))")
        }
        for (partner, why) in s.credentialsRefused.sorted(by: { $0.key < $1.key }) {
            out.append("  CREDENTIALS REFUSED by \(partner): \(why)")
        }
        for f in s.failedActions { out.append("    failed: \(f.key): \(f.why)") }
        if s.actionsFailed > s.failedActions.count {
            out.append("    … and \(s.actionsFailed - s.failedActions.count) more (caas-gateway exceptions)")
        }
        if s.newExceptions > 0 { out.append("  new exceptions since the previous run: \(s.newExceptions) (caas-gateway exceptions)") }
        if s.actionsRetrying > 0 { out.append("  actions to retry on a later run: \(s.actionsRetrying)") }
        if let would = s.wouldDo {
            out.append("  dry run: nothing was sent; a real run would now do \(would.count) action(s)")
            for key in would { out.append("    would do \(key)") }
        }
        if let r = s.reportPath { out.append("  report: \(r)") }
        return out
    }
}
