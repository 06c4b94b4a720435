import Foundation
import GatewayCore
import GatewayStore

/// Tells customers what happened to their order: one notification per notice the fold recorded
/// (order confirmed, production started, …, available at the dealership with SMS, reservation
/// lost), one line each in `outbox/notifications/`.
struct NotifyAction: OutboxPerformer {
    let kind = DueActionKind.notifyCustomer
    let outbox: OutboxStream
    var summaryFiles: WritableKeyPath<RunSummary, [String]>? { \.notificationsFiles }

    init(outbox root: String) { outbox = OutboxStream(root: root, folder: "notifications", stream: "notices") }

    func line(_ item: ActionItem, pass: ActionPass, inFlight: inout ActionCommit) throws -> Prepared<OutboxLine> {
        let ref = item.orderRef
        guard let view = item.view,
            let notice = view.notices.first(where: { $0.dueAction(orderRef: ref).idempotencyKey == item.action.key }),
            let sale = item.sale, let email = sale.string("customer.email")?.lowercased()
        else { return .settled(.skipped("no longer due")) }
        let config = pass.run.config
        var to = ["email": email]
        if notice.sms, let phone = sale.string("customer.phone") { to["sms"] = phone }
        var variables = notice.variables
        // Where to collect the vehicle: the dealership's address, from the configuration.
        if let code = variables["dealer_code"], let address = config.dealerships[code] { variables["dealer_address"] = address }
        variables = variables.merging(
            [
                "given_name": sale.string("customer.given_name") ?? "", "order_ref": ref, "plan": sale.string("plan") ?? "",
                "expediente_url": "\(config.expedienteURL)/\(CredentialsAction.urlComponent(ref))",
            ]) { mine, _ in mine }
        let note = Notification(
            idempotencyKey: item.action.key, template: "order_\(notice.template)", channels: notice.sms ? ["email", "sms"] : ["email"],
            orderRef: ref, customerID: CredentialsAction.customerID(username: email),
            locale: CredentialsAction.locale(country: sale.string("country")), to: to, variables: variables, createdAt: pass.run.asOf)
        return .perform(OutboxLine(text: note.jsonLine))
    }
}
