import Foundation
import GatewayCore
import GatewayStore
import Logging

/// Folds every order that has new facts or a deadline that has come, and saves the projection.
/// The fold itself is `Lifecycle.fold`, pure; this stage only reads facts and writes results.
struct FoldStage {
    let store: any GatewayStore
    let policies: Policies
    let logger: Logger
    /// Rewrites the expediente of each folded order. Written before the projection is saved: a
    /// crash in between leaves the order to fold, so the rerun writes it again.
    var expedientes: ExpedienteWriter? = nil

    struct Change: Sendable, Codable, Equatable {
        let ref: String
        let from: OrderState?
        let to: OrderState?
    }

    /// Returns the views it folded and the state changes among them.
    func fold(asOf: Date) throws -> (views: [OrderView], changes: [Change]) {
        let refs = try store.ordersToFold(asOf: asOf)
        var views: [OrderView] = []
        var changes: [Change] = []
        for chunk in stride(from: 0, to: refs.count, by: 500).map({ Array(refs[$0..<min($0 + 500, refs.count)]) }) {
            var batch: [OrderView] = []
            for ref in chunk {
                let before = try store.projection(ref: ref)?.state
                let facts = try store.facts(orderRef: ref)
                let view = Lifecycle.fold(ref: ref, facts: facts, policies: policies, asOf: asOf)
                try expedientes?.write(view, facts: facts)
                if before != view.state {
                    changes.append(Change(ref: ref, from: before, to: view.state))
                    logger.debug(
                        "order state",
                        metadata: ["order.ref": "\(ref)", "from": "\(before?.rawValue ?? "-")", "to": "\(view.state?.rawValue ?? "-")"])
                }
                batch.append(view)
            }
            try store.saveProjection(batch, foldedAt: asOf)
            views += batch
        }
        return (views, changes)
    }
}
