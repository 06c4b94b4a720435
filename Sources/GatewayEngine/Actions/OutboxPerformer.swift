import Foundation
import GatewayCore
import GatewayStore

/// One line an outbox action writes, and the facts its outcome adds once it is written.
struct OutboxLine: Sendable {
    let text: String
    var facts: [Fact] = []
}

/// Actions whose side effect is one NDJSON line in the pass's outbox file. The in-flight mark
/// names the file before it is written; a run that finds the action still in flight looks for
/// its key in that file: there → done, absent → the line is made again.
protocol OutboxPerformer: ActionPerformer where Work == OutboxLine {
    var outbox: OutboxStream { get }
    /// The line for an item (carrying its idempotency key), or a result when there is none to
    /// write. May add writes to make durable with the in-flight mark.
    func line(_ item: ActionItem, pass: ActionPass, inFlight: inout ActionCommit) throws -> Prepared<OutboxLine>
    /// The key the written line carries (the action's own key unless the line has its own).
    func lineKey(_ item: ActionItem) -> String?
    /// Facts to record for an action a dead run had already written.
    func recoveredFacts(_ item: ActionItem, pass: ActionPass) throws -> [Fact]
}

extension OutboxPerformer {
    var policy: ActionPolicy { .local }
    func lineKey(_ item: ActionItem) -> String? { item.action.key }
    func recoveredFacts(_ item: ActionItem, pass: ActionPass) throws -> [Fact] { [] }

    func prepare(_ items: [ActionItem], pass: ActionPass, inFlight: inout ActionCommit) throws -> [Prepared<OutboxLine>] {
        let file = outbox.relativePath(runID: pass.run.runID, pass: pass.number)
        var out: [Prepared<OutboxLine>] = []
        for item in items {
            if item.isRecovery, let written = item.action.outboxFile, let key = lineKey(item),
                outbox.contains(key: key, inRelative: written)
            {
                pass.run.logger.notice("finishing an action an interrupted run had written", metadata: item.metadata)
                out.append(.settled(.done(facts: try recoveredFacts(item, pass: pass))))
                continue
            }
            switch try line(item, pass: pass, inFlight: &inFlight) {
            case .perform(let line, var mark):
                mark.outboxFile = file
                out.append(.perform(line, mark: mark))
            case let settled:
                out.append(settled)
            }
        }
        return out
    }

    func perform(_ jobs: [(item: ActionItem, work: OutboxLine)], pass: ActionPass, outcome: inout ActionCommit) throws -> [ActionResult] {
        let path = try outbox.write(jobs.map(\.work.text), runID: pass.run.runID, pass: pass.number)
        pass.report.wrote(path, lines: jobs.count)
        try pass.crashPoint.reach("\(kind.rawValue).written")
        return jobs.map { .done(facts: $0.work.facts) }
    }
}
