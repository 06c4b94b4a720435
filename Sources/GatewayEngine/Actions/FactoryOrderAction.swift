import Foundation
import GatewayCore
import GatewayStore
import GatewayTransport
import Logging

/// Stage 4: a reserved order is ordered from the factory automatically (no person places factory
/// orders). `POST {base}/v1/orders` with the sale reference as Idempotency-Key.
///
/// The in-flight marks are durable before anything is sent. A run that dies after sending simply
/// sends again: the same key and the same bytes get the factory's 200 with the order it made.
struct FactoryOrderAction {
    let store: any GatewayStore
    let factory: FactoryConfig
    let logger: Logger
    let crashPoint: CrashPoint
    let client: HTTPClient

    struct Outcome {
        var done = 0
        var failed = 0
        var retrying = 0
        var skipped = 0
    }

    func run(runID: String, batch: Int, asOf: Date, dryRun: Bool) throws -> Outcome {
        var outcome = Outcome()
        let now = Date()
        let claimed = try store.claimActions(
            kinds: [.placeFactoryOrder], runner: runID, now: now, leaseUntil: now.addingTimeInterval(900), limit: batch)
        guard !claimed.isEmpty else { return outcome }
        let token = try factory.token.resolve()
        var jobs: [(action: ActionRecord, request: HTTPRequest)] = []
        var updates: [ActionRecord] = []
        for var action in claimed {
            guard let view = try store.projection(ref: action.orderRef), view.dueActions.contains(where: { $0.kind == .placeFactoryOrder }),
                let sale = try store.facts(orderRef: action.orderRef).first(where: { $0.kind == .saleRegistered })
            else {
                action.status = .done
                action.resultJSON = "{\"skipped\":\"no longer due\"}"
                action.leaseOwner = nil
                action.updatedAt = now
                updates.append(action)
                outcome.skipped += 1
                continue
            }
            let request = HTTPRequest(
                method: "POST", url: factory.baseURL + "/v1/orders",
                headers: [
                    ("Authorization", "Bearer \(token)"), ("Idempotency-Key", action.orderRef), ("Content-Type", "application/json"),
                ],
                body: Self.body(view: view, sale: sale), timeout: factory.timeout, connectTimeout: min(10, factory.timeout))
            if dryRun {
                logger.info("would place a factory order", metadata: ["order.ref": "\(action.orderRef)"])
                continue
            }
            action.status = .inFlight
            action.attempts += 1
            action.updatedAt = now
            jobs.append((action, request))
        }
        if dryRun { return outcome }
        try store.updateActions(updates + jobs.map(\.action))
        try crashPoint.reach("factory.inFlight")

        let requests = jobs.map(\.request)
        let results = BoundedConcurrency.map(count: requests.count, limit: factory.concurrency) { i in
            Result { try client.send(requests[i]) }
        }
        try crashPoint.reach("factory.sent")

        var facts: [Fact] = []
        var finals: [ActionRecord] = []
        for (i, job) in jobs.enumerated() {
            var action = job.action
            action.leaseOwner = nil
            action.leaseUntil = nil
            action.updatedAt = Date()
            switch results[i] {
            case .success(let r) where r.status == 201 || r.status == 200:
                guard let placed = Self.placed(r.body) else {
                    retry(&action, "the factory answered \(r.status) without an order id", &outcome)
                    break
                }
                var fields: FactFields = ["factory_order": .string(placed.orderID), "plant": .string(placed.plant)]
                if let eta = placed.eta { fields["eta"] = .time(eta) }
                facts.append(
                    Fact(
                        id: FactID.make(source: "gateway", kind: .factoryOrderPlaced, key: [action.orderRef]), orderRef: action.orderRef,
                        kind: .factoryOrderPlaced, occurredAt: asOf, fields: fields, provenance: Provenance(action: action.key)))
                action.status = .done
                action.resultJSON = String(decoding: r.body, as: UTF8.self)
                action.lastError = nil
                outcome.done += 1
            case .success(let r) where r.status == 503:
                let wait = r.retryAfter ?? factory.firstBackoff
                retry(&action, "the factory is busy (503); asked to come back in \(Int(wait)) s", &outcome, after: wait)
            case .success(let r) where r.status >= 500:
                retry(&action, "the factory answered \(r.status)", &outcome)
            case .success(let r):
                // 409, 422 and the other 4xx: sending again cannot help; a person must look.
                action.status = .failed
                action.lastError = "the factory refused the order (\(r.status)): \(Self.factoryMessage(r.body))"
                outcome.failed += 1
            case .failure(let e as TransportError) where e.isTransient:
                retry(&action, "no answer from the factory: \(e.message)", &outcome)
            case .failure(let e):
                action.status = .failed
                action.lastError = "cannot reach the factory: \(e) (check factory.base_url and factory.ca_bundle)"
                outcome.failed += 1
            }
            finals.append(action)
            logger.notice(
                "factory order",
                metadata: ["order.ref": "\(action.orderRef)", "status": "\(action.status.rawValue)", "attempts": "\(action.attempts)"])
        }
        // Facts first: if the run dies before the actions are marked done, the rerun sends again,
        // gets 200 for the same key, and records the same fact, which is harmless.
        try store.appendFacts(facts, runID: runID)
        try store.updateActions(finals)
        return outcome
    }

    /// Another attempt later, with exponential back-off and jitter; given up after the limit.
    func retry(_ action: inout ActionRecord, _ why: String, _ outcome: inout Outcome, after fixed: TimeInterval? = nil) {
        action.lastError = why
        if action.attempts >= factory.maxAttempts {
            action.status = .failed
            action.lastError = "gave up after \(action.attempts) attempts: \(why)"
            outcome.failed += 1
            return
        }
        action.status = .pending
        action.nextAttemptAt = Date().addingTimeInterval(fixed ?? factory.backoff.jitteredDelay(afterAttempt: action.attempts))
        outcome.retrying += 1
    }

    /// The request body, the same bytes on every attempt (sorted keys, the reservation's own time).
    static func body(view: OrderView, sale: Fact) -> Data {
        let dealer = view.dealerCode ?? ""
        // Derived from the sale, never from the projection: an attempt made in the pass that
        // issued the credentials must send the same bytes as a retry made after it.
        let customerID = sale.string("customer.email").map { CredentialsAction.customerID(username: $0.lowercased()) } ?? ""
        let object: [String: Any] = [
            "customer_id": customerID,
            "customer_order_ref": view.ref,
            "dealer_code": dealer,
            "base_platform": view.plan ?? "",
            "options": view.options,
            // The factory always delivers to the dealership; the carrier takes it home from there.
            "delivery_location": ["type": "DEALERSHIP", "dealer_code": dealer],
            "order_date": Timestamp.iso(view.stateSince ?? sale.occurredAt),
        ]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    struct Placed {
        let orderID: String
        let plant: String
        let eta: Date?
    }

    static func placed(_ body: Data) -> Placed? {
        guard let o = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let id = o["order_id"] as? String, !id.isEmpty else {
            return nil
        }
        return Placed(
            orderID: id, plant: o["plant"] as? String ?? "", eta: (o["estimated_delivery"] as? String).flatMap(Timestamp.parseISO))
    }

    static func factoryMessage(_ body: Data) -> String {
        guard let o = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            return String(decoding: body.prefix(200), as: UTF8.self)
        }
        let error = o["error"] as? String ?? "no message"
        return (o["field"] as? String).map { "\(error) (field \($0))" } ?? error
    }
}
