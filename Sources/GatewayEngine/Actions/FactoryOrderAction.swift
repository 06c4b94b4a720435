import Foundation
import GatewayCore
import GatewayStore
import GatewayTransport

/// Stage 4: a reserved order is ordered from the factory automatically (no person places factory
/// orders). `POST {base}/v1/orders` with the sale reference as Idempotency-Key.
///
/// The in-flight marks are durable before anything is sent (the driver's). A run that dies after
/// sending simply sends again: the same key and the same bytes get the factory's 200 with the
/// order it made. Back-off follows the run's clock, so a replay retries on the next day's run.
struct FactoryOrderAction: ActionPerformer {
    let kind = DueActionKind.placeFactoryOrder
    let factory: FactoryConfig
    let client: HTTPClient

    var policy: ActionPolicy {
        let f = factory
        return ActionPolicy(maxAttempts: f.maxAttempts, backoff: { f.backoff.jitteredDelay(afterAttempt: $0) })
    }

    func prepare(_ items: [ActionItem], pass: ActionPass, inFlight: inout ActionCommit) throws -> [Prepared<HTTPRequest>] {
        let token = try factory.token.resolve()
        return items.map { item in
            // Once due, a placement stays due until the factory has answered it: its status files
            // can report the order before our call's answer arrives (or after an answer was lost),
            // and the same key makes the call harmless. Only a withdrawn sale stops it.
            guard let view = item.view, let state = view.state, state != .cancelled, let sale = item.sale else {
                return .settled(.skipped("no longer due"))
            }
            // A dead run may have sent it: sending again is harmless, the same key and bytes get
            // the factory's 200 with the order it made.
            return .perform(
                HTTPRequest(
                    method: "POST", url: factory.baseURL + "/v1/orders",
                    headers: [
                        ("Authorization", "Bearer \(token)"), ("Idempotency-Key", item.orderRef), ("Content-Type", "application/json"),
                    ],
                    body: Self.body(view: view, sale: sale), timeout: factory.timeout, connectTimeout: min(10, factory.timeout)))
        }
    }

    func perform(_ jobs: [(item: ActionItem, work: HTTPRequest)], pass: ActionPass, outcome: inout ActionCommit) throws -> [ActionResult] {
        let requests = jobs.map(\.work)
        let results = BoundedConcurrency.map(count: requests.count, limit: factory.concurrency) { i in
            Result { try client.send(requests[i]) }
        }
        return zip(jobs, results).map { job, result in
            let r = Self.result(result, job.item, asOf: pass.run.asOf, firstBackoff: factory.firstBackoff)
            pass.run.logger.notice("factory order", metadata: job.item.metadata.merging(["result": "\(Self.label(r))"]) { $1 })
            return r
        }
    }

    static func result(_ result: Result<HTTPResponse, any Error>, _ item: ActionItem, asOf: Date, firstBackoff: TimeInterval)
        -> ActionResult
    {
        switch result {
        case .success(let r) where r.status == 201 || r.status == 200:
            guard let placed = Self.placed(r.body) else { return .retry("the factory answered \(r.status) without an order id") }
            var fields: FactFields = ["factory_order": .string(placed.orderID), "plant": .string(placed.plant)]
            if let eta = placed.eta { fields["eta"] = .time(eta) }
            let fact = Fact(
                id: FactID.make(source: "gateway", kind: .factoryOrderPlaced, key: [item.orderRef]), orderRef: item.orderRef,
                kind: .factoryOrderPlaced, occurredAt: asOf, fields: fields, provenance: Provenance(action: item.action.key))
            return .done(facts: [fact], result: String(decoding: r.body, as: UTF8.self))
        case .success(let r) where r.status == 503:
            let wait = r.retryAfter ?? firstBackoff
            return .retry("the factory is busy (503); asked to come back in \(Int(wait)) s", after: wait)
        case .success(let r) where r.status >= 500:
            return .retry("the factory answered \(r.status)")
        case .success(let r) where r.status == 401 || r.status == 403:
            return .credentialsRefused(
                partner: "factory", reason: "the factory refused our credentials (\(r.status)): check factory.token, then retry --failed")
        case .success(let r):
            // 409, 422 and the other 4xx: sending again cannot help; a person must look.
            return .failed("the factory refused the order (\(r.status)): \(Self.factoryMessage(r.body))")
        case .failure(let e as TransportError) where e.isTransient:
            return .retry("no answer from the factory: \(e.message)")
        case .failure(let e):
            return .failed("cannot reach the factory: \(e) (check factory.base_url and factory.ca_bundle)")
        }
    }

    static func label(_ r: ActionResult) -> String {
        switch r {
        case .done: return "placed"
        case .retry: return "retry"
        case .failed, .credentialsRefused: return "failed"
        case .skipped: return "skipped"
        case .waiting: return "waiting"
        }
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
            // When the order was reserved, never the current state's start: a retry made after the
            // factory's status files moved the order on must send the same bytes.
            "order_date": Timestamp.iso(view.timeline.first { $0.stateAfter == .reserved }?.occurredAt ?? sale.occurredAt),
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
