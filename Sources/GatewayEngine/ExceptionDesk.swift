import Foundation
import GatewayCore
import GatewayStore

/// What an operator does about exceptions: see them as the rules find them now, and dismiss one
/// that nothing in the data can resolve (a rejected record the partner already re-sent under
/// another name, a sale withdrawn by phone).
extension Gateway {
    /// The exceptions the rules find at `asOf`, marked new or not against the last run; remembers nothing.
    public func exceptions(asOf: Date) throws -> [ReconciliationException] {
        try DailyReport.build(
            store: store, day: Timestamp.day(asOf), asOf: asOf, runID: "query", rules: config.reconciliation, feeds: mappings,
            track: false, inboxProblems: InboxScanner.scan(config.inbox).problems
        ).exceptions
    }

    /// Closes an open exception for good, with the operator's note. Only exceptions a run has
    /// seen (and so has stored) can be dismissed.
    public func dismissException(key: String, note: String, asOf: Date) throws {
        let trimmed = note.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw OperatorError("say why with --note: the next person reads it") }
        guard try store.dismissException(key: key, note: trimmed, at: asOf) else {
            throw OperatorError("no open exception has the key \(key); caas-gateway exceptions lists them")
        }
    }
}
