import Foundation
import GatewayCore
import GatewayFormats

/// `catalogue:`: what a sale may name and what its money must be (partner contract, "Catalogue").
/// A sale that breaks it is rejected at ingest with its field and reason, before any customer
/// exists, so the factory never refuses it weeks later; the good sales of the same file go on.
///
/// ```yaml
/// catalogue:
///   plans: [BASE-URBAN, BASE-FAMILY, BASE-SPORT]        # the contract's, by default
///   options: [HEATED-SEATS, ADAPTIVE-CRUISE, PREMIUM-AUDIO, AUTOPARK, WINTER-PACK, TOWBAR]
///   currency: EUR                                       # what dealerships sell in
/// ```
public struct Catalogue: Sendable, Equatable {
    public var plans: Set<String> = ["BASE-URBAN", "BASE-FAMILY", "BASE-SPORT"]
    public var options: Set<String> = ["HEATED-SEATS", "ADAPTIVE-CRUISE", "PREMIUM-AUDIO", "AUTOPARK", "WINTER-PACK", "TOWBAR"]
    public var currency = "EUR"

    public init() {}

    static func parse(_ node: YAMLNode) throws -> Catalogue {
        var c = Catalogue()
        let f = try node.fields("catalogue", allowed: ["plans", "options", "currency"])
        func codes(_ key: String) throws -> Set<String>? {
            guard let n = f[key] else { return nil }
            let list = try n.sequence("catalogue.\(key)").map { try $0.scalar(key).uppercased() }
            guard !list.isEmpty else { throw n.error("catalogue.\(key) lists at least one code") }
            return Set(list)
        }
        if let p = try codes("plans") { c.plans = p }
        if let o = try codes("options") { c.options = o }
        if let cur = f["currency"] {
            let v = try cur.scalar("catalogue.currency").uppercased()
            guard v.count == 3, v.allSatisfy(\.isLetter) else { throw cur.error("catalogue.currency is an ISO 4217 code such as EUR") }
            c.currency = v
        }
        return c
    }

    /// What is wrong with a sale's plan, options and money: one rejection per field, never the
    /// value (a code is referred to by its length, an amount by its sign).
    public func problems(of sale: Fact) -> [(field: String, reason: String)] {
        guard sale.kind == .saleRegistered else { return [] }
        var out: [(String, String)] = []
        let announce =
            "ask the dealership to correct the sale, or add the code to the configuration's catalogue once the factory announces it"
        if let plan = sale.string("plan"), !plans.contains(plan.uppercased()) {
            out.append(("plan", "is not a plan of the catalogue (\(plans.sorted().joined(separator: ", "))): \(announce)"))
        }
        if case .list(let chosen)? = sale.fields["options"] {
            let unknown = chosen.filter { !options.contains($0.uppercased()) }
            if !unknown.isEmpty {
                out.append(
                    (
                        "options",
                        "\(unknown.count) option(s) not in the catalogue (\(options.sorted().joined(separator: ", "))): \(announce)"
                    ))
            }
        }
        if let currency = sale.string("currency"), currency.uppercased() != self.currency {
            out.append(("currency", "is not \(self.currency), the currency the dealerships sell in"))
        }
        let total = sale.int("total_minor"), deposit = sale.int("deposit_minor")
        if let total, total <= 0 { out.append(("total_minor", "the total must be positive")) }
        if let deposit, deposit <= 0 { out.append(("deposit_minor", "the deposit (señal) must be positive")) }
        if let total, let deposit, total > 0, deposit > total {
            out.append(("deposit_minor", "the deposit (señal) is above the total"))
        }
        return out
    }
}
