import Foundation
import GatewayCore
import GatewayFormats
import GatewayStore

/// What a mapped fact must pass before it is written: the rules that hold for every feed alike
/// and need the configuration or the store, not the partner's layout. A fact that breaks one is
/// a rejected record with its field and reason; the file's other records go on.
struct Admission {
    let catalogue: Catalogue
    /// The run's as-of time: whether a vehicle is stock is decided as the fold will see it.
    let asOf: Date

    func admit(_ fact: Fact, into writer: inout any FactWriter) throws {
        switch fact.kind {
        case .saleRegistered:
            // The catalogue first: before any customer exists, and before a stock vehicle is taken.
            let broken = catalogue.problems(of: fact)
            guard broken.isEmpty else { return try writer.reject(broken.map { rejection(fact, $0.field, $0.reason) }) }
            guard let vin = fact.string("stock_vin") else { return try add(fact, &writer) }
            switch try writer.claimStockVehicle(vin: vin, for: fact.orderRef, saleFact: fact.id, asOf: asOf) {
            case .claimed:
                if case .conflicting = try writer.add(fact) { try writer.withdrawStockClaim(vin: vin, for: fact.orderRef) }
            case .alreadyClaimed:
                try add(fact, &writer)
            case .soldTo(let other):
                try writer.reject([
                    rejection(
                        fact, "stock_vin",
                        "names a stock vehicle already sold again, to \(other): one vehicle is sold once; ask the dealership which sale is right (a sale withdrawn before its señal frees the vehicle)"
                    )
                ])
            case .notInStock(let holder?, let state, let closes):
                let why =
                    state == .awaitingFinalPayment && closes != nil
                    ? "\(holder)'s final-payment window is open until \(Timestamp.iso(closes!))"
                    : "it belongs to \(holder) (\(state?.rawValue ?? "not folded yet"))"
                try writer.reject([
                    rejection(
                        fact, "stock_vin",
                        "is not dealership stock: \(why); only a vehicle released unpaid can be sold again. The dealership sends the sale again once it is stock"
                    )
                ])
            case .notInStock(nil, _, _):
                try writer.reject([
                    rejection(
                        fact, "stock_vin",
                        "is not dealership stock: no order of ours released this vehicle; check the VIN with the dealership")
                ])
            }
        case .payment where fact.orderRef.isEmpty && fact.string("event") == "refused":
            // A declined card attempt moves no money: with no sale to count it for, there is nothing to keep.
            try writer.reject([
                rejection(
                    fact, "order_ref",
                    "names no sale we can read, and a declined attempt moves no money: nothing to place; ask the provider which sale it was if the customer calls"
                )
            ])
        default:
            try add(fact, &writer)
        }
    }

    private func add(_ fact: Fact, _ writer: inout any FactWriter) throws { _ = try writer.add(fact) }

    private func rejection(_ fact: Fact, _ field: String, _ reason: String) -> Rejection {
        Rejection(
            record: fact.provenance.record ?? 0, line: fact.provenance.line ?? 0, field: field, reason: reason,
            recordRef: fact.orderRef.isEmpty ? nil : fact.orderRef)
    }
}
