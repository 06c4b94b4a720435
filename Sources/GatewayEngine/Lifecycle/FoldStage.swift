import Foundation
import GatewayCore
import GatewayStore
import Logging

/// Folds every order that has new facts or a deadline that has come. The fold itself is
/// `Lifecycle.fold`, pure; this stage reads each batch's facts once, folds, and commits the batch's
/// projections, the actions that became due and its cleared change marks in one transaction (the
/// transactional outbox): a crash leaves either all of it or none, and none means the orders are
/// still marked and fold again.
struct FoldStage {
    let store: any FactLedger & ProjectionStore
    let policies: Policies
    let logger: Logger
    /// Rewrites the expediente of each folded order. Written before the batch commits: a crash in
    /// between leaves the order marked, so the rerun writes it again (only if its bytes changed).
    var expedientes: ExpedienteWriter? = nil
    /// The actions each folded order needs, from the performers this gateway has: a kind it
    /// cannot perform (no factory configured) waits until it can.
    let due: @Sendable (OrderView) -> [DueAction]
    /// The reconciliation rules: each folded order is reviewed, so the report looks only at orders
    /// with exceptions or a threshold coming, never at every order.
    let rules: ReconciliationConfig
    /// Orders folded per transaction.
    var batchSize = 500
    /// Names the order being folded, so that if it kills the process the next run sets it aside.
    var mark: WorkMark? = nil
    /// Orders whose fold killed a run: left as they are (marked, with their last state) until
    /// an operator brings them back.
    var setAside: Set<String> = []

    struct Change: Sendable, Codable, Equatable {
        let ref: String
        let from: OrderState?
        let to: OrderState?
    }

    /// Returns how many orders it folded and the state changes among them. `committed` is called
    /// after each batch commits, with its views and facts: the actions they made due are taken
    /// while they are at hand, and never read again.
    func fold(asOf: Date, committed: ((FoldedBatch) throws -> Void)? = nil) throws -> (folded: Int, changes: [Change]) {
        let marks = try store.ordersToFold(asOf: asOf).filter { !setAside.contains($0.ref) }
        var changes: [Change] = []
        var folded = 0
        for start in stride(from: 0, to: marks.count, by: batchSize) {
            // An order another runner is folding is left to it: its mark stays until one commits.
            // The orders stay held while the actions the batch made due are taken with its views:
            // released earlier, another runner could fold an order again and make an action due
            // that this one would then judge by the older view (and settle as no longer due).
            try store.foldingExclusively(marks[start..<min(start + batchSize, marks.count)].map(\.ref)) { taken in
                let held = Set(taken)
                let chunk = marks[start..<min(start + batchSize, marks.count)].filter { held.contains($0.ref) }
                folded += chunk.count
                let batch = try foldBatch(chunk, asOf: asOf, changes: &changes)
                if let committed, !batch.isEmpty { try committed(batch) }
            }
        }
        return (folded, changes)
    }

    /// Reads, folds and commits one batch of orders this process holds; returns their views and facts.
    private func foldBatch(_ chunk: [OrderToFold], asOf: Date, changes: inout [Change]) throws -> FoldedBatch {
        let refs = chunk.map(\.ref)
        // Only the state is compared: decoding every old projection would cost a JSON decode per order.
        let before = try store.states(refs: refs)
        let facts = try store.facts(orderRefs: refs)
        var views: [OrderView] = []
        var reviews: [String: OrderReview] = [:]
        var due: [DueAction] = []
        var wroteExpedientes = false
        for ref in refs {
            mark?.set(.order, key: ref, name: ref, stage: "fold")
            defer { mark?.clear() }
            let orderFacts = facts[ref] ?? []
            let view = Lifecycle.fold(ref: ref, facts: orderFacts, policies: policies, asOf: asOf)
            mark?.set(.order, key: ref, name: ref, stage: "expediente")
            if try expedientes?.write(view, facts: orderFacts) == true { wroteExpedientes = true }
            let was = before[ref]
            if was != view.state {
                changes.append(Change(ref: ref, from: was, to: view.state))
                logger.debug(
                    "order state",
                    metadata: ["order.ref": "\(ref)", "from": "\(was?.rawValue ?? "-")", "to": "\(view.state?.rawValue ?? "-")"])
            }
            mark?.set(.order, key: ref, name: ref, stage: "review")
            let review = Reconciliation.review(view, config: rules, asOf: asOf)
            reviews[ref] = OrderReview(nextAt: review.nextChange, flagged: !review.exceptions.isEmpty)
            mark?.set(.order, key: ref, name: ref, stage: "due actions")
            due += self.due(view)
            views.append(view)
        }
        if wroteExpedientes { try expedientes?.flush() }
        try store.commitFold(views, reviews: reviews, due: due, marks: chunk, at: asOf)
        var batch = FoldedBatch(minimumCapacity: views.count)
        for v in views { batch[v.ref] = (v, facts[v.ref] ?? []) }
        return batch
    }
}
