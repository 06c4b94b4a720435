import Foundation
import GatewayCore
import GatewayStore

/// Stage 7: when the final-payment window closes unpaid the vehicle becomes dealership stock for
/// immediate sale: one line per vehicle in `outbox/stock/`. The customer is told by the
/// reservation_lost notice; the señal is kept.
struct ReleaseToStockAction: OutboxPerformer {
    let kind = DueActionKind.releaseToStock
    let outbox: OutboxStream
    var summaryFiles: WritableKeyPath<RunSummary, [String]>? { \.stockFiles }

    init(outbox root: String) { outbox = OutboxStream(root: root, folder: "stock", stream: "stock") }

    func line(_ item: ActionItem, pass: ActionPass, inFlight: inout ActionCommit) throws -> Prepared<OutboxLine> {
        guard let view = item.view, view.state == .sinAsignar else { return .settled(.skipped("no longer due")) }
        let line: [String: Any] = [
            "idempotency_key": item.action.key, "change": "released", "at": view.stateSince.map(Timestamp.iso) ?? "",
            "dealer_code": view.dealerCode ?? "", "order_ref": view.ref, "vin": view.vin ?? "",
            "factory_order": view.factoryOrder ?? "", "plan": view.plan ?? "", "options": view.options,
            "released_at": view.stateSince.map(Timestamp.iso) ?? "", "reason": "final payment window closed unpaid; reservation kept",
        ]
        return .perform(
            OutboxLine(text: String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self)))
    }
}
