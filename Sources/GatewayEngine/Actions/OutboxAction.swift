import Foundation
import GatewayCore
import GatewayStore

/// The protocol every outbox-writing action follows, in one place: claim a batch, finish what a
/// dead run had already written (its key is in the file its in-flight mark names), let the action
/// make each line, make the in-flight marks durable, write the pass's file atomically, mark done.
struct OutboxAction {
    let store: any GatewayStore
    let outbox: OutboxStream
    let kind: DueActionKind
    let crashPoint: CrashPoint

    struct Outcome {
        var done = 0
        var skipped = 0
        var file: String?
        var lines = 0
    }

    /// `line` returns the NDJSON line for an action (carrying `action.key` as its idempotency key),
    /// or nil when the action is no longer due.
    func run(runID: String, pass: Int, batch: Int, dryRun: Bool, line: (ActionRecord) throws -> String?) throws -> Outcome {
        var outcome = Outcome()
        let now = Date()
        let claimed = try store.claimActions(kinds: [kind], runner: runID, now: now, leaseUntil: now.addingTimeInterval(600), limit: batch)
        guard !claimed.isEmpty else { return outcome }
        let relFile = outbox.relativePath(runID: runID, pass: pass)
        var lines: [String] = []
        var inFlight: [ActionRecord] = []
        var finished: [ActionRecord] = []
        for var action in claimed {
            action.updatedAt = now
            action.leaseOwner = nil
            if action.status == .inFlight, let file = action.outboxFile, outbox.contains(key: action.key, inRelative: file) {
                finished.append(action)  // a run that died had written it
                continue
            }
            guard let text = try line(action) else {
                action.resultJSON = "{\"skipped\":\"no longer due\"}"
                finished.append(action)
                outcome.skipped += 1
                continue
            }
            lines.append(text)
            action.status = .inFlight
            action.attempts += 1
            action.outboxFile = relFile
            inFlight.append(action)
        }
        if dryRun { return outcome }
        try store.updateActions(inFlight)
        try crashPoint.reach("\(kind.rawValue).inFlight")
        if !lines.isEmpty {
            outcome.file = try outbox.write(lines, runID: runID, pass: pass)
            outcome.lines = lines.count
        }
        try crashPoint.reach("\(kind.rawValue).written")
        try store.updateActions(
            (finished + inFlight).map { a in
                var d = a
                d.status = .done
                d.leaseUntil = nil
                return d
            })
        outcome.done = finished.count + inFlight.count - outcome.skipped
        return outcome
    }
}
