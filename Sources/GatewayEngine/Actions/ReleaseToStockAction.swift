import Foundation
import GatewayCore
import GatewayStore
import Logging

/// Stage 7: when the final-payment window closes unpaid the vehicle becomes dealership stock for
/// immediate sale: one line per vehicle in `outbox/stock/`, by the outbox protocol of
/// `OutboxAction`. The customer is told by the reservation_lost notice; the señal is kept.
struct ReleaseToStockAction {
    let store: any GatewayStore
    let outbox: OutboxStream
    let logger: Logger
    let crashPoint: CrashPoint

    func run(runID: String, pass: Int, batch: Int, asOf: Date, dryRun: Bool) throws -> OutboxAction.Outcome {
        try OutboxAction(store: store, outbox: outbox, kind: .releaseToStock, crashPoint: crashPoint).run(
            runID: runID, pass: pass, batch: batch, dryRun: dryRun
        ) { action in
            guard let view = try store.projection(ref: action.orderRef), view.state == .sinAsignar else { return nil }
            if dryRun { logger.info("would release to dealership stock", metadata: ["order.ref": "\(action.orderRef)"]) }
            let line: [String: Any] = [
                "idempotency_key": action.key, "dealer_code": view.dealerCode ?? "", "order_ref": view.ref, "vin": view.vin ?? "",
                "factory_order": view.factoryOrder ?? "", "plan": view.plan ?? "", "options": view.options,
                "released_at": view.stateSince.map(Timestamp.iso) ?? "", "reason": "final payment window closed unpaid; reservation kept",
            ]
            return String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self)
        }
    }
}
