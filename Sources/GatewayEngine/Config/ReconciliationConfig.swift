import Foundation
import GatewayFormats

/// `reconciliation:` in caas-gateway.yaml: when a waiting order becomes an exception for a person.
/// Every threshold has a default; the README lists them.
public struct ReconciliationConfig: Sendable, Equatable {
    /// The thresholds the per-order rules compare with (a new one belongs here too): when they
    /// change, every order's stored review is out of date and is done again once.
    public var orderRulesFingerprint: String {
        [
            reservationUnpaidDays, factoryOrderMissingHours, factorySilentDays, finalPaymentDueSoonDays, releasedToStockDays,
            inTransitDays, notLinkedDays, paymentPendingHours,
        ].map(String.init).joined(separator: ",")
    }

    /// A sale with no señal at all after this many days: the dealership calls the customer.
    public var reservationUnpaidDays = 3
    /// A paid reservation without a factory order after this many hours: orders are placed
    /// automatically, so something is stuck.
    public var factoryOrderMissingHours = 24
    /// An order at the factory with no status for this many days.
    public var factorySilentDays = 5
    /// The final payment is due within this many days.
    public var finalPaymentDueSoonDays = 3
    /// A vehicle released to stock stays on the list this many days, for the dealership to sell.
    public var releasedToStockDays = 30
    /// A registration still waiting (for a body's decision or a manual upload) after this many days.
    public var registrationPendingDays = 2
    /// Out for delivery this many days without a delivery or a failed attempt.
    public var inTransitDays = 2
    /// Delivered this many days without the app linked.
    public var notLinkedDays = 1
    /// A card payment the provider still reports PENDING after this many hours: finance asks it.
    public var paymentPendingHours = 48
    /// Feed silence: a feed is silent when nothing arrived for longer than the longest quiet
    /// spell in its history, and never less than `silenceMinDays`. Partners send when they have
    /// something to say, so the longest spell, not the average, is what "usual" means. A feed
    /// with fewer than `silenceMinHistory` days of files has no usual cadence yet.
    public var silenceMinDays = 3
    public var silenceMinHistory = 5
    /// Per feed: its own silence limit in days, or `off` (nil) for a feed that only sends when
    /// there is something to say.
    public var feedSilenceDays: [String: Int?] = [:]

    public init() {}

    static func parse(_ node: YAMLNode) throws -> ReconciliationConfig {
        var c = ReconciliationConfig()
        let days: [(String, WritableKeyPath<ReconciliationConfig, Int>)] = [
            ("reservation_unpaid_days", \.reservationUnpaidDays), ("factory_order_missing_hours", \.factoryOrderMissingHours),
            ("factory_silent_days", \.factorySilentDays), ("final_payment_due_soon_days", \.finalPaymentDueSoonDays),
            ("released_to_stock_days", \.releasedToStockDays), ("registration_pending_days", \.registrationPendingDays),
            ("in_transit_days", \.inTransitDays), ("not_linked_days", \.notLinkedDays),
            ("payment_pending_hours", \.paymentPendingHours),
            ("silence_min_days", \.silenceMinDays), ("silence_min_history", \.silenceMinHistory),
        ]
        let f = try node.fields("reconciliation", allowed: Set(days.map(\.0) + ["feeds"]))
        for (key, path) in days {
            guard let v = f[key] else { continue }
            let n = try v.int("reconciliation.\(key)")
            guard n >= 0 else { throw v.error("reconciliation.\(key) cannot be negative") }
            c[keyPath: path] = n
        }
        for e in try f["feeds"]?.mapping("reconciliation.feeds") ?? [] {
            let g = try e.value.fields("reconciliation.feeds.\(e.key)", allowed: ["silent_after_days"])
            guard let v = g["silent_after_days"] else { throw e.value.error("reconciliation.feeds.\(e.key) needs silent_after_days") }
            if (try? v.scalar("")) == "off" {
                c.feedSilenceDays[e.key] = .some(nil)
            } else {
                let n = try v.int("reconciliation.feeds.\(e.key).silent_after_days (a number of days, or off)")
                guard n > 0 else { throw v.error("silent_after_days must be at least 1, or off") }
                c.feedSilenceDays[e.key] = n
            }
        }
        return c
    }
}
