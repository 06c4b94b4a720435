import Foundation
import GatewayCore
import GatewayStore
import Logging

/// Tells customers what happened to their order: one notification per notice the fold recorded
/// (order confirmed, production started, …, available at the dealership with SMS, reservation
/// lost). Same protocol as the welcome: in-flight marks naming the file, the file written
/// atomically, then done; a run that died is finished from the file or sends again.
struct NotifyAction {
    let store: any GatewayStore
    let config: GatewayConfig
    let outbox: OutboxStream
    let logger: Logger
    let crashPoint: CrashPoint

    struct Outcome {
        var done = 0
        var skipped = 0
        var notificationsFile: String?
        var notifications = 0
    }

    func run(runID: String, pass: Int, batch: Int, asOf: Date, dryRun: Bool) throws -> Outcome {
        var outcome = Outcome()
        let now = Date()
        let claimed = try store.claimActions(
            kinds: [.notifyCustomer], runner: runID, now: now, leaseUntil: now.addingTimeInterval(600), limit: batch)
        guard !claimed.isEmpty else { return outcome }
        let relFile = outbox.relativePath(runID: runID, pass: pass)
        var notes: [Notification] = []
        var inFlight: [ActionRecord] = []
        var finished: [ActionRecord] = []
        for var action in claimed {
            action.updatedAt = now
            action.leaseOwner = nil
            if action.status == .inFlight, let file = action.outboxFile, outbox.contains(key: action.key, inRelative: file) {
                finished.append(action)  // a dead run had written it
                continue
            }
            let detail = String(action.key.dropFirst("\(DueActionKind.notifyCustomer.rawValue):\(action.orderRef):".count))
            guard let view = try store.projection(ref: action.orderRef),
                let notice = view.notices.first(where: { "\($0.template):\($0.factID)" == detail }),
                let sale = try store.facts(orderRef: action.orderRef).first(where: { $0.kind == .saleRegistered }),
                let email = sale.string("customer.email")?.lowercased()
            else {
                action.resultJSON = "{\"skipped\":\"no longer due\"}"
                finished.append(action)
                outcome.skipped += 1
                continue
            }
            var to = ["email": email]
            if notice.sms, let phone = sale.string("customer.phone") { to["sms"] = phone }
            let variables = notice.variables.merging(
                [
                    "given_name": sale.string("customer.given_name") ?? "", "order_ref": action.orderRef, "plan": sale.string("plan") ?? "",
                    "expediente_url": "\(config.expedienteURL)/\(CredentialsAction.urlComponent(action.orderRef))",
                ]) { mine, _ in mine }
            notes.append(
                Notification(
                    idempotencyKey: action.key, template: "order_\(notice.template)", channels: notice.sms ? ["email", "sms"] : ["email"],
                    orderRef: action.orderRef, customerID: CredentialsAction.customerID(username: email),
                    locale: CredentialsAction.locale(country: sale.string("country")), to: to, variables: variables, createdAt: asOf))
            action.status = .inFlight
            action.attempts += 1
            action.outboxFile = relFile
            inFlight.append(action)
        }
        if dryRun {
            for n in notes { logger.info("would notify", metadata: ["order.ref": "\(n.orderRef)", "template": "\(n.template)"]) }
            return outcome
        }
        try store.updateActions(inFlight)
        try crashPoint.reach("notices.inFlight")
        if !notes.isEmpty {
            outcome.notificationsFile = try outbox.write(notes.map(\.jsonLine), runID: runID, pass: pass)
            outcome.notifications = notes.count
        }
        try crashPoint.reach("notices.written")
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
