import Foundation

/// A fact that does not fit the order's lifecycle. It is kept, shown, and looked at again on every
/// fold: once the missing sale arrives, for instance, the fact applies and the anomaly disappears.
public struct Anomaly: Sendable, Hashable, Codable {
    public enum Code: String, Sendable, Codable, CaseIterable {
        case unknownOrder = "unknown_order"
        case guardViolation = "guard_violation"
        case outOfOrder = "out_of_order"
        case duplicateSale = "duplicate_sale"
        case cancelTooLate = "cancel_too_late"
        case currencyMismatch = "currency_mismatch"
        case paymentNotExpected = "payment_not_expected"
        case duplicatePayment = "duplicate_payment"
        case moneyReturned = "money_returned"
        case conflictingValue = "conflicting_value"
        /// A value no partner can mean, stored before the gateway refused such values at ingest
        /// (an amount beyond `Money.plausibleMinor`): kept and shown, never folded into a sum.
        case implausibleValue = "implausible_value"
    }

    public let code: Code
    public let factID: String
    public let occurredAt: Date
    public let message: String

    public init(code: Code, factID: String, occurredAt: Date, message: String) {
        self.code = code
        self.factID = factID
        self.occurredAt = occurredAt
        self.message = message
    }
}

/// What the gateway must do for an order in its current state. The engine turns these into
/// actions with idempotency keys; the key is the kind and the order reference.
///
/// A kind is a registered name, not an enum case, so a new kind of action is declared in its own
/// file (`static let x = DueActionKind.register("x")`) next to the performer that does it. A name
/// nobody registered does not decode: an action row of a kind this gateway cannot perform is an
/// error, never a guess.
public struct DueActionKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// Only registered names.
    public init?(rawValue: String) {
        _ = Self.builtIn
        guard Self.registry.contains(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    private init(registered name: String) { rawValue = name }

    /// Declares a kind; registering a name twice gives the same kind.
    public static func register(_ name: String) -> DueActionKind {
        registry.insert(name)
        return DueActionKind(registered: name)
    }

    public static let issueCredentials = register("issue_credentials")
    public static let placeFactoryOrder = register("place_factory_order")
    public static let submitRegistration = register("submit_registration")
    public static let releaseToStock = register("release_to_stock")
    public static let notifyCustomer = register("notify_customer")
    /// At handover: the IoT platform is told which customer may link which vehicle.
    public static let authorizeLink = register("authorize_link")
    /// A vehicle sold again from dealership stock: the dealership learns it has left its stock.
    public static let stockSold = register("stock_sold")

    /// The lifecycle's own kinds, registered before anything is decoded.
    public static let builtIn: [DueActionKind] = [
        issueCredentials, placeFactoryOrder, submitRegistration, releaseToStock, notifyCustomer, authorizeLink, stockSold,
    ]

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        _ = Self.builtIn
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let kind = DueActionKind(rawValue: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown action kind \(name)"))
        }
        self = kind
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    private static let registry = KindRegistry()
}

/// The registered kind names, safe to read and extend from any thread.
final class KindRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var names: Set<String> = []

    func insert(_ name: String) {
        lock.lock()
        names.insert(name)
        lock.unlock()
    }

    func contains(_ name: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return names.contains(name)
    }
}

public struct DueAction: Sendable, Hashable, Codable {
    public let kind: DueActionKind
    public let orderRef: String
    /// What makes this action one of several of its kind for the order (a notice's template and
    /// fact): part of the idempotency key.
    public let detail: String?
    public var idempotencyKey: String { "\(kind.rawValue):\(orderRef)" + (detail.map { ":" + $0 } ?? "") }

    public init(kind: DueActionKind, orderRef: String, detail: String? = nil) {
        self.kind = kind
        self.orderRef = orderRef
        self.detail = detail
    }
}

/// Something the customer is told: a step of their order, the fact that caused it, and what
/// the message needs. Recorded by the fold; sent by the notify action, once per key.
public struct CustomerNotice: Sendable, Hashable, Codable {
    public let template: String
    public let factID: String
    public let occurredAt: Date
    /// SMS as well as e-mail (the vehicle is ready at the dealership).
    public let sms: Bool
    public let variables: [String: String]

    /// The action that sends this notice; its key is how the notify action finds the notice again.
    public func dueAction(orderRef: String) -> DueAction {
        DueAction(kind: .notifyCustomer, orderRef: orderRef, detail: "\(template):\(factID)")
    }
}

/// One fact of the order's timeline and the state after it, for `explain`.
public struct TimelineStep: Sendable, Hashable, Codable {
    /// `-` for a step the policies caused (the final-payment window closing).
    public let factID: String
    public let kind: FactKind?
    public let occurredAt: Date
    public let stateAfter: OrderState?
    public let note: String?
}

/// The order as the fold sees it at the as-of time. Everything here is derived from facts.
public struct OrderView: Sendable, Hashable, Codable {
    public let ref: String
    public internal(set) var state: OrderState?
    public internal(set) var stateSince: Date?
    public internal(set) var dealerCode: String?
    public internal(set) var country: String?
    public internal(set) var customerID: String?
    public internal(set) var plan: String?
    public internal(set) var options: [String] = []
    public internal(set) var deliveryMode: String?
    public internal(set) var currency: String?
    public internal(set) var totalMinor: Int64 = 0
    public internal(set) var depositMinor: Int64 = 0
    /// Money captured minus money refunded or charged back.
    public internal(set) var receivedMinor: Int64 = 0
    public internal(set) var refusedPayments: Int = 0
    /// Provider payments still PENDING, by payment id, with when they were reported: not money.
    /// (Optional, so projections stored before it decode.)
    public internal(set) var pendingPayments: [String: Date]? = nil
    /// Payment ids a capture, refusal, refund or chargeback settled: a PENDING report arriving
    /// after them is old news.
    public internal(set) var settledPayments: Set<String>? = nil
    public internal(set) var refunds: Int = 0
    public internal(set) var chargebacks: Int = 0
    public internal(set) var vin: String?
    /// The VIN of the dealership stock vehicle this sale took; nil for a vehicle ordered from the factory.
    public internal(set) var stockVehicle: String? = nil
    /// For an order that released its vehicle unpaid: the order that bought it from stock after.
    public internal(set) var resoldTo: String? = nil
    public internal(set) var factoryOrder: String?
    public internal(set) var plant: String?
    public internal(set) var eta: Date?
    public internal(set) var etaRevisions: Int = 0
    public internal(set) var plate: String?
    public internal(set) var registrationRejection: String?
    public internal(set) var finalPaymentDueAt: Date?
    public internal(set) var linkFailures: Int = 0
    public internal(set) var anomalies: [Anomaly] = []
    public internal(set) var timeline: [TimelineStep] = []
    public internal(set) var dueActions: [DueAction] = []
    public internal(set) var notices: [CustomerNotice] = []

    public init(ref: String) { self.ref = ref }

    /// What the customer still owes for the stage the order is in.
    public var amountDueMinor: Int64 {
        guard let state else { return 0 }
        switch state {
        case .saleRegistered, .awaitingReservation: return max(0, Money.difference(depositMinor, receivedMinor))
        case .cancelled, .sinAsignar: return 0
        default: return max(0, Money.difference(totalMinor, receivedMinor))
        }
    }

    /// True when the sale is known: an order with only parked facts has no state.
    public var isKnown: Bool { state != nil }
}
