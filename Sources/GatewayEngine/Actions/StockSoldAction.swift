import Foundation
import GatewayCore
import GatewayStore

/// A vehicle sold again from dealership stock: once the new sale's señal is paid, the dealership
/// learns that the VIN has left its stock (one line in `outbox/stock/`, next to the lines of
/// vehicles released to it), and the order that released the vehicle records the resale.
struct StockSoldAction: OutboxPerformer {
    let kind = DueActionKind.stockSold
    let outbox: OutboxStream
    var summaryFiles: WritableKeyPath<RunSummary, [String]>? { \.stockFiles }

    /// A stream of its own: a release and a sale in the same pass write two files, never one over the other.
    init(outbox root: String) { outbox = OutboxStream(root: root, folder: "stock", stream: "stock-sold") }

    func line(_ item: ActionItem, pass: ActionPass, inFlight: inout ActionCommit) throws -> Prepared<OutboxLine> {
        guard let view = item.view, let vin = view.stockVehicle, view.state != .cancelled else {
            return .settled(.skipped("no longer due"))
        }
        guard let sale = try pass.store.stockSale(orderRef: item.orderRef) else {
            // The claim is written with the sale's file; a sale from stock without it is a store out of step.
            return .settled(.failed("no stock claim is recorded for \(item.orderRef)'s vehicle"))
        }
        let soldAt = view.timeline.first { $0.stateAfter == .awaitingFinalPayment || $0.stateAfter == .fullyPaid }?.occurredAt
        let line: [String: Any] = [
            "idempotency_key": item.action.key, "change": "sold", "at": soldAt.map(Timestamp.iso) ?? Timestamp.iso(pass.run.asOf),
            "dealer_code": view.dealerCode ?? "", "vin": vin, "order_ref": view.ref, "released_by": sale.releasedBy,
            "plan": view.plan ?? "", "options": view.options,
        ]
        return .perform(
            OutboxLine(
                text: String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self),
                facts: [Self.resale(sale, action: item.action.key, at: pass.run.asOf)]))
    }

    /// The line is out, the resale not recorded yet: record it now.
    func recoveredFacts(_ item: ActionItem, pass: ActionPass) throws -> [Fact] {
        try pass.store.stockSale(orderRef: item.orderRef).map { [Self.resale($0, action: item.action.key, at: pass.run.asOf)] } ?? []
    }

    /// The fact on the releasing order; one per vehicle and buyer, whoever records it.
    static func resale(_ sale: StockSale, action: String, at: Date) -> Fact {
        Fact(
            id: FactID.make(source: "gateway", kind: .vehicleResold, key: [sale.vin, sale.orderRef]), orderRef: sale.releasedBy,
            kind: .vehicleResold, occurredAt: at, fields: ["vin": .string(sale.vin), "sold_to": .string(sale.orderRef)],
            provenance: Provenance(action: action))
    }
}
