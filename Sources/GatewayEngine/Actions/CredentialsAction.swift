import Crypto
import Foundation
import GatewayCore
import GatewayStore
import Logging

/// Stage 2 of the sale: the customer gets an account (username = e-mail) and a welcome message
/// with an activation link to the web and app access to the expediente de compra.
///
/// Crash safety without ever storing the token: (1) the token's hash and the action's in-flight
/// mark, naming the outbox file it will go to, commit together; (2) the outbox file is written
/// atomically; (3) the action is marked done and its fact recorded. A run that finds an action
/// in flight looks for its notification in the named file: there → finish step 3; absent → the
/// token never left the process, so a new one replaces the stored hash.
struct CredentialsAction {
    let store: any GatewayStore
    let config: GatewayConfig
    let outbox: OutboxStream
    let logger: Logger
    let crashPoint: CrashPoint

    struct Outcome {
        var done = 0
        var skipped = 0
        var failed = 0
        var notificationsFile: String?
        var notifications = 0
    }

    struct InFlightResult: Codable {
        let customerID: String
        let account: String
        let expiresAt: Date?
        let notificationKey: String
    }

    /// One pass: at most `batch` actions, their notifications in the pass's own file.
    func run(runID: String, pass: Int, batch: Int, asOf: Date, dryRun: Bool = false) throws -> Outcome {
        var outcome = Outcome()
        let now = Date()
        let claimed = try store.claimActions(
            kinds: [.issueCredentials], runner: runID, now: now,
            leaseUntil: now.addingTimeInterval(600), limit: batch)
        var pendingNotes: [Notification] = []
        var toFinish: [(ActionRecord, InFlightResult)] = []
        // Written together after the loop: one commit per pass, not one per order.
        var saves: [CredentialsToSave] = []
        var updates: [ActionRecord] = []
        // Accounts this pass creates, so a second order of the same customer sees the first.
        var createdInPass: [String: CustomerRecord] = [:]
        let relFile = outbox.relativePath(runID: runID, pass: pass)

        for var action in claimed {
            let meta: Logger.Metadata = ["order.ref": "\(action.orderRef)", "action": "\(action.key)"]
            // Recovery of an action a dead run left in flight.
            if action.status == .inFlight, let file = action.outboxFile, let result = decode(action.resultJSON) {
                if outbox.contains(key: result.notificationKey, inRelative: file) {
                    toFinish.append((action, result))
                    logger.notice("finishing an action an interrupted run had sent", metadata: meta)
                    continue
                }
                logger.notice("re-issuing credentials an interrupted run never sent", metadata: meta)
            }
            guard let view = try store.projection(ref: action.orderRef), view.dueActions.contains(where: { $0.kind == .issueCredentials })
            else {
                action.status = .done
                action.resultJSON = "{\"skipped\":\"no longer due\"}"
                action.updatedAt = now
                action.leaseOwner = nil
                updates.append(action)
                outcome.skipped += 1
                continue
            }
            guard let sale = try store.facts(orderRef: action.orderRef).first(where: { $0.kind == .saleRegistered }),
                let email = sale.string("customer.email")?.lowercased()
            else {
                action.status = .failed
                action.lastError = "the sale has no e-mail address"
                action.updatedAt = now
                updates.append(action)
                outcome.failed += 1
                continue
            }
            let existing = try createdInPass[email] ?? store.customer(username: email)
            let customer = existing ?? CustomerRecord(customerID: Self.customerID(username: email), username: email, createdAt: asOf)
            // Returning means an account made for another order. A row this very action wrote
            // before its run died is not an account the customer ever heard of.
            let returning =
                try createdInPass[email] != nil
                || (existing.map { try store.credential(customerID: $0.customerID)?.orderRef != action.orderRef } ?? false)
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
            if dryRun {
                logger.info("would issue credentials", metadata: meta.merging(["template": "\(template)"]) { $1 })
                continue
            }
            let result = InFlightResult(
                customerID: customer.customerID, account: returning ? "existing" : "new",
                expiresAt: credential?.expiresAt, notificationKey: note.idempotencyKey)
            action.status = .inFlight
            action.attempts += 1
            action.outboxFile = relFile
            action.resultJSON = encode(result)
            action.updatedAt = now
            saves.append(CredentialsToSave(customer: customer, credential: credential, action: action))
            if !returning { createdInPass[email] = customer }
            pendingNotes.append(note)
            toFinish.append((action, result))
        }
        if dryRun { return outcome }
        try store.updateActions(updates)
        try store.saveCredentials(saves)
        try crashPoint.reach("credentials.saved")
        if !pendingNotes.isEmpty {
            outcome.notificationsFile = try outbox.write(pendingNotes.map(\.jsonLine), runID: runID, pass: pass)
            outcome.notifications = pendingNotes.count
        }
        try crashPoint.reach("credentials.outboxWritten")

        var facts: [Fact] = []
        for (action, result) in toFinish {
            var fields: FactFields = ["customer_id": .string(result.customerID), "account": .string(result.account)]
            if let e = result.expiresAt { fields["expires_at"] = .time(e) }
            facts.append(
                Fact(
                    id: FactID.make(source: "gateway", kind: .credentialsIssued, key: [action.orderRef]),
                    orderRef: action.orderRef, kind: .credentialsIssued, occurredAt: asOf, fields: fields,
                    provenance: Provenance(action: action.key)))
        }
        // Facts first: if the run dies before the actions are marked done, the rerun finds the
        // notification in the outbox and records the same facts again, which is harmless.
        try store.appendFacts(facts, runID: runID)
        outcome.done += toFinish.count
        try store.updateActions(
            toFinish.map { action, _ in
                var done = action
                done.status = .done
                done.leaseOwner = nil
                done.leaseUntil = nil
                done.updatedAt = now
                return done
            })
        return outcome
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
