import Foundation
import GatewayCore
import GatewayStore
import Logging

/// Stage 10: when the vehicle is handed over (delivered at home or collected at the dealership),
/// the IoT platform gets the link authorization: this customer may link this vehicle to their
/// app. One line per vehicle in `outbox/iot/`, by the outbox protocol of `OutboxAction`.
struct LinkAuthorizationAction {
    let store: any GatewayStore
    let outbox: OutboxStream
    let logger: Logger
    let crashPoint: CrashPoint

    func run(runID: String, pass: Int, batch: Int, asOf: Date, dryRun: Bool) throws -> OutboxAction.Outcome {
        try OutboxAction(store: store, outbox: outbox, kind: .authorizeLink, crashPoint: crashPoint).run(
            runID: runID, pass: pass, batch: batch, dryRun: dryRun
        ) { action in
            guard let view = try store.projection(ref: action.orderRef), view.state == .delivered || view.state == .operational,
                let vin = view.vin, let customer = view.customerID
            else { return nil }
            if dryRun { logger.info("would authorize the app link", metadata: ["order.ref": "\(action.orderRef)"]) }
            let line: [String: Any] = [
                "idempotency_key": action.key, "order_ref": view.ref, "vin": vin, "customer_id": customer, "plan": view.plan ?? "",
                "handed_over_at": view.timeline.last { $0.stateAfter == .delivered }.map { Timestamp.iso($0.occurredAt) } ?? "",
            ]
            return String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self)
        }
    }
}
