import Foundation
import GatewayCore
import GatewayStore
import Logging

/// Stage 7: when the final-payment window closes unpaid the vehicle becomes dealership stock for
/// immediate sale. One line per vehicle in `outbox/stock/`, by the same protocol as the
/// notifications (in-flight marks naming the file, the file written atomically, then done). The
/// customer is told by the reservation_lost notice; the señal is kept.
struct ReleaseToStockAction {
    let store: any GatewayStore
    let outbox: OutboxStream
    let logger: Logger

    struct Outcome {
        var done = 0
        var skipped = 0
        var file: String?
    }

    func run(runID: String, pass: Int, batch: Int, asOf: Date, dryRun: Bool) throws -> Outcome {
        var outcome = Outcome()
        let now = Date()
        let claimed = try store.claimActions(
            kinds: [.releaseToStock], runner: runID, now: now, leaseUntil: now.addingTimeInterval(600), limit: batch)
        guard !claimed.isEmpty else { return outcome }
        let relFile = outbox.relativePath(runID: runID, pass: pass)
        var lines: [String] = []
        var inFlight: [ActionRecord] = []
        var finished: [ActionRecord] = []
        for var action in claimed {
            action.updatedAt = now
            action.leaseOwner = nil
            if action.status == .inFlight, let file = action.outboxFile, outbox.contains(key: action.key, inRelative: file) {
                finished.append(action)
                continue
            }
            guard let view = try store.projection(ref: action.orderRef), view.state == .sinAsignar else {
                action.resultJSON = "{\"skipped\":\"no longer due\"}"
                finished.append(action)
                outcome.skipped += 1
                continue
            }
            let line: [String: Any] = [
                "idempotency_key": action.key, "dealer_code": view.dealerCode ?? "", "order_ref": view.ref, "vin": view.vin ?? "",
                "factory_order": view.factoryOrder ?? "", "plan": view.plan ?? "", "options": view.options,
                "released_at": view.stateSince.map(Timestamp.iso) ?? "", "reason": "final payment window closed unpaid; reservation kept",
            ]
            lines.append(
                String(decoding: (try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])) ?? Data(), as: UTF8.self))
            action.status = .inFlight
            action.attempts += 1
            action.outboxFile = relFile
            inFlight.append(action)
        }
        if dryRun {
            logger.info("would release vehicles to dealership stock", metadata: ["count": "\(lines.count)"])
            return outcome
        }
        try store.updateActions(inFlight)
        if !lines.isEmpty { outcome.file = try outbox.write(lines, runID: runID, pass: pass) }
        let done = (finished + inFlight).map { a -> ActionRecord in
            var d = a
            d.status = .done
            d.leaseUntil = nil
            return d
        }
        try store.updateActions(done)
        outcome.done = done.count - outcome.skipped
        return outcome
    }
}
