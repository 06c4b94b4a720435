import Foundation
import GatewayCore
import GatewayStore
import Logging

/// Tells customers what happened to their order: one notification per notice the fold recorded
/// (order confirmed, production started, …, available at the dealership with SMS, reservation
/// lost), by the outbox protocol of `OutboxAction`.
struct NotifyAction {
    let store: any GatewayStore
    let config: GatewayConfig
    let outbox: OutboxStream
    let logger: Logger
    let crashPoint: CrashPoint

    func run(runID: String, pass: Int, batch: Int, asOf: Date, dryRun: Bool) throws -> OutboxAction.Outcome {
        try OutboxAction(store: store, outbox: outbox, kind: .notifyCustomer, crashPoint: crashPoint).run(
            runID: runID, pass: pass, batch: batch, dryRun: dryRun
        ) { action in
            guard let view = try store.projection(ref: action.orderRef),
                let notice = view.notices.first(where: { $0.dueAction(orderRef: action.orderRef).idempotencyKey == action.key }),
                let sale = try store.facts(orderRef: action.orderRef).first(where: { $0.kind == .saleRegistered }),
                let email = sale.string("customer.email")?.lowercased()
            else { return nil }
            var to = ["email": email]
            if notice.sms, let phone = sale.string("customer.phone") { to["sms"] = phone }
            var variables = notice.variables
            // Where to collect the vehicle: the dealership's address, from the configuration.
            if let code = variables["dealer_code"], let address = config.dealerships[code] { variables["dealer_address"] = address }
            variables = variables.merging(
                [
                    "given_name": sale.string("customer.given_name") ?? "", "order_ref": action.orderRef, "plan": sale.string("plan") ?? "",
                    "expediente_url": "\(config.expedienteURL)/\(CredentialsAction.urlComponent(action.orderRef))",
                ]) { mine, _ in mine }
            if dryRun { logger.info("would notify", metadata: ["order.ref": "\(action.orderRef)", "template": "\(notice.template)"]) }
            return Notification(
                idempotencyKey: action.key, template: "order_\(notice.template)", channels: notice.sms ? ["email", "sms"] : ["email"],
                orderRef: action.orderRef, customerID: CredentialsAction.customerID(username: email),
                locale: CredentialsAction.locale(country: sale.string("country")), to: to, variables: variables, createdAt: asOf
            ).jsonLine
        }
    }
}
