import Foundation
import GatewayCore

/// Each order's folded state, its change marks and its review bookkeeping.
public protocol ProjectionStore: Sendable {
    /// The saved states of several orders at once (orders with a state only), without decoding
    /// their projections.
    func states(refs: [String]) throws -> [String: OrderState]
    /// The saved projections of several orders at once.
    func projections(refs: [String]) throws -> [String: OrderView]
    /// Orders with facts not folded yet (with their change count), plus orders with a deadline
    /// at or before `asOf`.
    func ordersToFold(asOf: Date) throws -> [OrderToFold]
    /// One transaction for a batch of folded orders: their projections and anomalies, the actions
    /// that became due (inserted once by idempotency key; returns how many were new), and their
    /// change marks, each cleared only if its count is still the one the fold read.
    @discardableResult
    func commitFold(_ views: [OrderView], reviews: [String: OrderReview], due: [DueAction], marks: [OrderToFold], at: Date) throws -> Int
    /// The orders the report's rules must look at: those with exceptions at their last review and
    /// those whose review time has come. Never every order.
    func ordersForReview(asOf: Date) throws -> [OrderView]
    /// What a review found: when to look again, and whether the order has exceptions.
    func saveReviews(_ reviews: [String: OrderReview]) throws
    /// When the rules' thresholds differ from those the stored reviews were made with, makes every
    /// order due for review and remembers the new ones. True when it did.
    func reviewAll(ifRulesChangedTo fingerprint: String) throws -> Bool
    /// Known orders by state and whole days in it: the report's counts and charts.
    func stateAges(asOf: Date) throws -> [StateAge]
    /// Grows with every fold that saved projections: what was written from them is still right
    /// while it has not changed.
    func projectionsVersion() throws -> Int64
    /// Every known order as orders.csv lists it, in reference order, one at a time.
    func forEachOrderRow(_ body: (OrderListing) throws -> Void) throws
    func projections() throws -> [OrderView]
    /// Every anomaly the last folds found, with when it was first seen.
    func anomalies() throws -> [StoredAnomaly]
    func projection(ref: String) throws -> OrderView?
    /// Runs `body` with those of `refs` that no other process is folding, held as this process's
    /// until `body` returns: two runners never fold one order at once, so neither saves a view
    /// older than the other's. An order skipped keeps its mark and is folded by whoever holds it,
    /// or by the next run.
    func foldingExclusively<T>(_ refs: [String], _ body: ([String]) throws -> T) throws -> T
}

/// An order to fold: `version` is its change count when the fold read it (nil when only a
/// deadline brought it back).
public struct OrderToFold: Sendable, Equatable {
    public let ref: String
    public let version: Int64?

    public init(ref: String, version: Int64?) {
        self.ref = ref
        self.version = version
    }
}

extension ActionQueue {
    public func claimActions(kinds: [DueActionKind], runner: String, now: Date, leaseUntil: Date, limit: Int) throws -> [ActionRecord] {
        try claimActions(kinds: kinds, orderRefs: nil, runner: runner, now: now, leaseUntil: leaseUntil, limit: limit)
    }
}

extension ProjectionStore {
    /// A fold whose orders need no review bookkeeping (tests, operator commands).
    @discardableResult
    public func commitFold(_ views: [OrderView], due: [DueAction], marks: [OrderToFold], at: Date) throws -> Int {
        try commitFold(views, reviews: [:], due: due, marks: marks, at: at)
    }
}

/// When the reconciliation rules must look at an order again without a new fact, and whether
/// they found something last time.
public struct OrderReview: Sendable, Equatable {
    public let nextAt: Date?
    public let flagged: Bool

    public init(nextAt: Date?, flagged: Bool) {
        self.nextAt = nextAt
        self.flagged = flagged
    }
}

public struct StateAge: Sendable, Equatable {
    public let state: String
    public let days: Int
    public let count: Int
}

/// One line of orders.csv, from the store's columns.
public struct OrderListing: Sendable, Equatable {
    public let ref: String
    public let dealer, country: String?
    public let state: String
    public let stateSince: Date?
    public let currency: String?
    public let totalMinor, depositMinor, receivedMinor, amountDueMinor: Int64
    public let finalPaymentDueAt: Date?
    public let anomalies: Int
}

public struct StoredAnomaly: Sendable, Equatable {
    public let orderRef: String
    public let anomaly: Anomaly
    public let firstSeenAt: Date
}
