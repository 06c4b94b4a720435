import Foundation
import GatewayCore

/// What both stores decide the same way, written once: they differ in how they read and write
/// rows, never in what the rows mean.
enum StoreRules {
    /// A fact whose id is known with other content: the record is rejected, and the first
    /// version stands.
    static func conflictingRepeat(of fact: Fact, firstFile: String) -> Rejection {
        Rejection(
            record: fact.provenance.record ?? 0, line: fact.provenance.line ?? 0, field: nil,
            reason:
                "repeats a \(fact.kind.rawValue) already taken from \(firstFile), with different content; the first version stands (a correction must come as a new record kind, such as a cancellation)",
            recordRef: fact.orderRef)
    }

    /// Numbers missing between the lowest and the highest seen, per feed and scope, from the
    /// numbers in feed, scope and number order.
    static func gaps(_ seen: [(feed: String, scope: String, number: Int)]) -> [SequenceGap] {
        var byScope: [String: (feed: String, scope: String, numbers: [Int])] = [:]
        for s in seen { byScope["\(s.feed)\u{1F}\(s.scope)", default: (s.feed, s.scope, [])].numbers.append(s.number) }
        return byScope.values.sorted { ($0.feed, $0.scope) < ($1.feed, $1.scope) }.compactMap { s in
            guard let first = s.numbers.first, let last = s.numbers.last else { return nil }
            let have = Set(s.numbers)
            let missing = (first...last).filter { !have.contains($0) }
            return missing.isEmpty ? nil : SequenceGap(feed: s.feed, scope: s.scope, missing: missing)
        }
    }

    /// Every order that holds or held a stock vehicle: those whose projection has its VIN, and
    /// the sales that claimed it (a claim of this run is not folded yet).
    static func stockHolders(
        orders: [(ref: String, state: String?, windowClosesAt: Date?)], claimants: Set<String>
    ) -> [StockHolder] {
        var holders: [String: StockHolder] = [:]
        for o in orders {
            holders[o.ref] = StockHolder(
                ref: o.ref, state: o.state.flatMap(OrderState.init(rawValue:)), isStockSale: claimants.contains(o.ref),
                windowClosesAt: o.windowClosesAt)
        }
        for ref in claimants where holders[ref] == nil {
            holders[ref] = StockHolder(ref: ref, state: nil, isStockSale: true, windowClosesAt: nil)
        }
        return holders.values.sorted { $0.ref < $1.ref }
    }

    /// An action row's kind and status. One that does not decode is an error naming it: an
    /// unknown kind or status means the store was written by a newer gateway or by hand, and
    /// guessing would run the wrong action.
    static func actionKindAndStatus(_ raw: String, status rawStatus: String, key: String) throws -> (DueActionKind, ActionStatus) {
        guard let kind = DueActionKind(rawValue: raw) else {
            throw StoreError("action \(key) has an unknown kind '\(raw)': was the store written by a newer caas-gateway?")
        }
        guard let status = ActionStatus(rawValue: rawStatus) else {
            throw StoreError("action \(key) has an unknown status '\(rawStatus)': was the store written by a newer caas-gateway?")
        }
        return (kind, status)
    }

    /// A requeued file stays a problem until a run has read it again: the operator's fix is
    /// not proven before that.
    static func problemReason(status: String, reason: String?) -> String? {
        switch status {
        case "quarantined": return reason ?? "quarantined"
        case "requeued": return "requeued by an operator, to be read again by the next run" + (reason.map { " (was: \($0))" } ?? "")
        default: return nil
        }
    }

    static func viewJSON(_ view: OrderView) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return String(decoding: try encoder.encode(view), as: UTF8.self)
    }
}
