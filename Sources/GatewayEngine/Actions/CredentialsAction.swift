import Crypto
import Foundation
import GatewayCore
import GatewayStore

/// Stage 2 of the sale: the customer gets an account (username = e-mail) and a welcome message
/// with an activation link to the web and app access to the expediente de compra.
///
/// Crash safety without ever storing the token: (1) the token's hash and the action's in-flight
/// mark, naming the outbox file it will go to, commit together; (2) the outbox file is written
/// atomically; (3) the action is marked done and its fact recorded. A run that finds an action
/// in flight looks for its notification in the named file: there → finish step 3; absent → the
/// token never left the process, so a new one replaces the stored hash.
struct CredentialsAction: OutboxPerformer {
    let kind = DueActionKind.issueCredentials
    let outbox: OutboxStream
    var summaryFiles: WritableKeyPath<RunSummary, [String]>? { \.notificationsFiles }

    init(outbox root: String) { outbox = OutboxStream(root: root, folder: "notifications", stream: "welcome") }

    struct InFlightResult: Codable {
        let customerID: String
        let account: String
        let expiresAt: Date?
        let notificationKey: String
    }

    /// The welcome carries its own key (`customer_welcome:<ref>`), kept in the in-flight mark.
    func lineKey(_ item: ActionItem) -> String? { decode(item.action.resultJSON)?.notificationKey }

    func recoveredFacts(_ item: ActionItem, pass: ActionPass) throws -> [Fact] {
        decode(item.action.resultJSON).map { [Self.fact(item.action, $0)] } ?? []
    }

    func line(_ item: ActionItem, pass: ActionPass, inFlight: inout ActionCommit) throws -> Prepared<OutboxLine> {
        let action = item.action
        if item.isRecovery {
            pass.run.logger.notice("re-issuing credentials an interrupted run never sent", metadata: item.metadata)
        }
        guard let view = item.view, view.dueActions.contains(where: { $0.kind == .issueCredentials }) else {
            return .settled(.skipped("no longer due"))
        }
        guard let sale = item.sale, let email = sale.string("customer.email")?.lowercased() else {
            return .settled(.failed("the sale has no e-mail address"))
        }
        let config = pass.run.config, asOf = pass.run.asOf
        // An account this pass creates, so a second order of the same customer sees the first.
        let createdInPass = inFlight.credentials.first { $0.customer.username == email }?.customer
        let existing = try createdInPass ?? pass.store.customer(username: email)
        let customer = existing ?? CustomerRecord(customerID: Self.customerID(username: email), username: email, createdAt: asOf)
        // Returning means an account made for another order. A row this very action wrote
        // before its run died is not an account the customer ever heard of.
        let returning =
            try createdInPass != nil
            || (existing.map { try pass.store.credential(customerID: $0.customerID)?.orderRef != action.orderRef } ?? false)
        var credential: CredentialRecord?
        var variables: [String: String] = [
            "given_name": sale.string("customer.given_name") ?? "",
            "username": email,
            "expediente_url": "\(config.expedienteURL)/\(Self.urlComponent(action.orderRef))",
            "order_ref": action.orderRef,
            "plan": sale.string("plan") ?? "",
        ]
        let template: String
        if !returning {
            let token = Self.newToken()
            let expires = asOf.addingTimeInterval(Double(config.activationTTLHours) * 3600)
            credential = CredentialRecord(
                customerID: customer.customerID, tokenHash: Hex.sha256(token), expiresAt: expires,
                issuedAt: asOf, orderRef: action.orderRef)
            variables["activation_url"] = "\(config.activationURL)?token=\(token)"
            variables["activation_expires_at"] = Timestamp.iso(expires)
            template = "customer_welcome"
        } else {
            // A returning customer already has an account: the new order appears in it.
            template = "customer_order_added"
        }
        let note = Notification(
            idempotencyKey: "\(template):\(action.orderRef)", template: template, channels: ["email"],
            orderRef: action.orderRef, customerID: customer.customerID,
            locale: Self.locale(country: sale.string("country")), to: ["email": email],
            variables: variables, createdAt: asOf)
        let result = InFlightResult(
            customerID: customer.customerID, account: returning ? "existing" : "new",
            expiresAt: credential?.expiresAt, notificationKey: note.idempotencyKey)
        // The token's hash is durable with the in-flight mark, before the token leaves in the file.
        inFlight.credentials.append((customer, credential))
        return .perform(OutboxLine(text: note.jsonLine, facts: [Self.fact(action, result)]), mark: InFlightMark(resultJSON: encode(result)))
    }

    static func fact(_ action: ActionRecord, _ result: InFlightResult) -> Fact {
        var fields: FactFields = ["customer_id": .string(result.customerID), "account": .string(result.account)]
        if let e = result.expiresAt { fields["expires_at"] = .time(e) }
        // When the credentials were issued is the action's time, the same on a rerun.
        return Fact(
            id: FactID.make(source: "gateway", kind: .credentialsIssued, key: [action.orderRef]),
            orderRef: action.orderRef, kind: .credentialsIssued, occurredAt: action.updatedAt, fields: fields,
            provenance: Provenance(action: action.key))
    }

    /// 256 random bits from the system's CSPRNG, base64url without padding.
    static func newToken() -> String {
        var g = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Stable across runs and replays, so the factory and the app see one id per customer.
    static func customerID(username: String) -> String {
        "C-" + Hex.sha256("customer\u{1F}" + username).prefix(12).uppercased()
    }

    static func locale(country: String?) -> String {
        ["ES": "es-ES", "PT": "pt-PT", "FR": "fr-FR", "DE": "de-DE", "IT": "it-IT"][country ?? ""] ?? "en"
    }

    static func urlComponent(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? s
    }

    func encode(_ r: InFlightResult) -> String {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .millisecondsSince1970
        e.outputFormatting = .sortedKeys
        return String(decoding: (try? e.encode(r)) ?? Data(), as: UTF8.self)
    }

    func decode(_ s: String?) -> InFlightResult? {
        guard let s else { return nil }
        let d = JSONDecoder()
        d.dateDecodingStrategy = .millisecondsSince1970
        return try? d.decode(InFlightResult.self, from: Data(s.utf8))
    }
}
