import ArgumentParser
import Foundation
import GatewayCore
import GatewayEngine

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show an order's facts in time order, where each came from, and the state after each.",
        discussion: """
            Then what is still to happen: actions pending or in flight (with when the next attempt is \
            due), the registration ledger, and the exceptions a person must act on for this order.
            """)

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
        /// Actions not done yet: pending (with when the next attempt is due) or in flight.
        let pendingActions: [[String: String]]
        let registration: [Attempt]
        let exceptions: [ReconciliationException]
        /// What operators did to the order's actions (made due again, with their notes).
        let actionHistory: [HistoryEntry]
    }

    struct HistoryEntry: Encodable {
        let key, at, event, statusBefore: String
        let attemptsBefore: Int
        let lastError, note: String?
    }

    struct Attempt: Encodable {
        let at, submissionId, kind, outcome: String
        let httpStatus: Int?
        let detail: String?
    }

    func run() throws {
        let gateway = try global.openGateway(.read)
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
            ) { $1 }.merging(a.nextAttemptAt.map { ["next_attempt_at": Timestamp.iso($0)] } ?? [:]) { $1 }
        }
        let pending = zip(e.actions, actions).filter { $0.0.status == .pending || $0.0.status == .inFlight }.map(\.1)
        let ledger = try gateway.registrationLedger(orderRef: order).map {
            Attempt(
                at: Timestamp.iso($0.at), submissionId: $0.submissionID, kind: $0.kind.rawValue, outcome: $0.outcome,
                httpStatus: $0.httpStatus, detail: $0.detail)
        }
        let exceptions = try gateway.exceptions(asOf: global.asOfDate).filter { $0.order == order }
        let history = try gateway.actionHistory(keys: e.actions.map(\.key)).map {
            HistoryEntry(
                key: $0.key, at: Timestamp.iso($0.at), event: $0.event, statusBefore: $0.statusBefore, attemptsBefore: $0.attemptsBefore,
                lastError: $0.lastError, note: $0.note)
        }
        if json {
            return try Output.json(
                Explanation(
                    order: order, state: e.view.state?.rawValue, timeline: steps, anomalies: e.view.anomalies,
                    dueActions: e.view.dueActions.map(\.kind.rawValue), actions: actions, pendingActions: pending, registration: ledger,
                    exceptions: exceptions, actionHistory: history))
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
        for h in history {
            Output.line(
                "  \(h.event.replacingOccurrences(of: "_", with: " ")) \(h.key) at \(h.at) (was \(h.statusBefore) after \(h.attemptsBefore) attempt(s)): \(h.note ?? "")"
            )
        }
        for a in pending {
            Output.line("  pending: \(a["key"]!)" + (a["next_attempt_at"].map { ", next attempt at \($0)" } ?? ", on the next run"))
        }
        for l in ledger {
            Output.line(
                "  registration \(l.submissionId): \(l.at)  \(l.kind)  \(l.httpStatus.map(String.init) ?? "-")  \(l.outcome)")
        }
        for x in exceptions {
            Output.line("  exception for \(x.owner.rawValue): \(x.rule), \(x.ageDays) day(s): \(x.detail); to do: \(x.todo)")
        }
    }
}
