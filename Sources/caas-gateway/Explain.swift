import ArgumentParser
import Foundation
import GatewayCore
import GatewayEngine

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show an order's facts in time order, where each came from, and the state after each.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The sale reference, such as S-2026-000101.") var order: String
    @Flag(help: "Print the timeline as JSON.") var json = false

    struct Step: Encodable {
        let occurredAt: String
        let fact: String
        let kind: String?
        let source: String
        let stateAfter: String?
        let note: String?
    }

    struct Explanation: Encodable {
        let order: String
        let state: String?
        let timeline: [Step]
        let anomalies: [Anomaly]
        let dueActions: [String]
        let actions: [[String: String]]
    }

    func run() throws {
        let gateway = try global.openGateway()
        guard let e = try gateway.explain(ref: order, asOf: global.asOfDate) else {
            Output.error("no facts for order \(order); check the reference (orders lists every known order)")
            throw ExitCode(ExitCodes.failure)
        }
        let steps = e.view.timeline.map { s in
            Step(
                occurredAt: Timestamp.iso(s.occurredAt), fact: s.factID, kind: s.kind?.rawValue,
                source: e.facts[s.factID]?.provenance.summary ?? "policy", stateAfter: s.stateAfter?.rawValue, note: s.note)
        }
        let actions = e.actions.map { a in
            ["key": a.key, "status": a.status.rawValue, "attempts": String(a.attempts)].merging(
                a.lastError.map { ["last_error": $0] } ?? [:]
            ) { $1 }
        }
        if json {
            return try Output.json(
                Explanation(
                    order: order, state: e.view.state?.rawValue, timeline: steps, anomalies: e.view.anomalies,
                    dueActions: e.view.dueActions.map(\.kind.rawValue), actions: actions))
        }
        Output.line("order \(order): \(e.view.state?.rawValue ?? "unknown (no sale registered)")")
        for s in steps {
            Output.line("  \(s.occurredAt)  \(s.kind ?? "policy")  → \(s.stateAfter ?? "-")")
            Output.line("      from \(s.source)" + (s.note.map { "; \($0)" } ?? ""))
        }
        if !e.view.dueActions.isEmpty { Output.line("  due: " + e.view.dueActions.map(\.kind.rawValue).joined(separator: ", ")) }
        for a in actions {
            Output.line(
                "  action \(a["key"]!): \(a["status"]!) after \(a["attempts"]!) attempt(s)" + (a["last_error"].map { " (\($0))" } ?? ""))
        }
    }
}
