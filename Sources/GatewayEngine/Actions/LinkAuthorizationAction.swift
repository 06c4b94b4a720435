import Foundation
import GatewayCore
import GatewayStore

/// Stage 10: when the vehicle is handed over (delivered at home or collected at the dealership),
/// the IoT platform gets the link authorization: this customer may link this vehicle to their
/// app. One line per vehicle in `outbox/iot/`.
struct LinkAuthorizationAction: OutboxPerformer {
    let kind = DueActionKind.authorizeLink
    let outbox: OutboxStream
    var summaryFiles: WritableKeyPath<RunSummary, [String]>? { \.linkAuthorizationFiles }

    init(outbox root: String) { outbox = OutboxStream(root: root, folder: "iot", stream: "link-authorizations") }

    func line(_ item: ActionItem, pass: ActionPass, inFlight: inout ActionCommit) throws -> Prepared<OutboxLine> {
        guard let view = item.view, view.state == .delivered || view.state == .operational, let vin = view.vin,
            let customer = view.customerID
        else { return .settled(.skipped("no longer due")) }
        let line: [String: Any] = [
            "idempotency_key": item.action.key, "order_ref": view.ref, "vin": vin, "customer_id": customer, "plan": view.plan ?? "",
            "handed_over_at": view.timeline.last { $0.stateAfter == .delivered }.map { Timestamp.iso($0.occurredAt) } ?? "",
        ]
        return .perform(
            OutboxLine(text: String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self)))
    }
}
