/// The canonical facts the gateway understands. A mapping turns a partner record into one of
/// these; the lifecycle fold reads nothing else.
public enum FactKind: String, Sendable, CaseIterable, Codable {
    case saleRegistered = "sale_registered"
    case saleCancelled = "sale_cancelled"
    case credentialsIssued = "credentials_issued"
    case payment
    /// The provider has not decided yet (PENDING): never money; a later capture or refusal with
    /// the same payment id settles it.
    case paymentPending = "payment_pending"
    case factoryOrderPlaced = "factory_order_placed"
    case manufacturingEvent = "manufacturing_event"
    case registrationSubmitted = "registration_submitted"
    case registrationCompleted = "registration_completed"
    case registrationRejected = "registration_rejected"
    case carrierEvent = "carrier_event"
    case appLinkEvent = "app_link_event"
    /// The gateway's own record on the order that released a vehicle to stock: another sale took
    /// it from stock. (Last, so the fold's tie-break order of the older kinds is unchanged.)
    case vehicleResold = "vehicle_resold"

    /// The canonical fields of this kind: what a mapping must (or may) bind and what the fold reads.
    public var schema: FactSchema { FactSchema.of(self) }

    /// Money received is kept even when it names no sale we can read (a transfer without a
    /// reference, a capture for an unknown merchant reference): such a payment is a fact without
    /// an order, shown to finance until it is placed or returned, never a rejected record.
    public var mayNameNoOrder: Bool { self == .payment }
}

public enum FieldType: String, Sendable {
    case string, int, time, list
}

public struct FieldSpec: Sendable {
    public let name: String
    public let type: FieldType
    public let required: Bool
    /// For enumerations: the only values the fold understands.
    public let allowed: [String]?
    /// For whole numbers: the only values a partner can mean (money: `Money.plausibleMinor`).
    public let range: ClosedRange<Int64>?

    init(
        _ name: String, _ type: FieldType = .string, required: Bool = false, allowed: [String]? = nil,
        range: ClosedRange<Int64>? = nil
    ) {
        self.name = name
        self.type = type
        self.required = required
        self.allowed = allowed
        self.range = range
    }

    /// An amount of money in minor units: positive and below `Money.plausibleMinor`'s bound.
    static func money(_ name: String, required: Bool = false) -> FieldSpec {
        FieldSpec(name, .int, required: required, range: Money.plausibleMinor)
    }
}

/// Every fact has `order_ref` and `occurred_at`; the schema lists the rest.
public struct FactSchema: Sendable {
    public let kind: FactKind
    public let fields: [FieldSpec]

    public func spec(_ name: String) -> FieldSpec? {
        fields.first { $0.name == name }
    }

    public static let common: [FieldSpec] = [
        FieldSpec("order_ref", required: true),
        FieldSpec("occurred_at", .time, required: true),
    ]

    public static let manufacturingCodes = [
        "order_confirmed", "production_started", "quality_control", "ready_for_shipment",
        "shipped_to_dealership", "available_at_dealership", "delayed",
    ]
    public static let carrierEvents = [
        "pickup_factory", "arrived_dealership", "pickup_dealership", "out_for_delivery", "delivered",
        "delivery_failed_absent", "returned_to_dealership", "collected_by_customer",
    ]

    static func of(_ kind: FactKind) -> FactSchema {
        let own: [FieldSpec]
        switch kind {
        case .saleRegistered:
            own = [
                FieldSpec("dealer_code", required: true),
                FieldSpec("country", required: true),
                FieldSpec("customer.given_name", required: true),
                FieldSpec("customer.family_name", required: true),
                FieldSpec("customer.email", required: true),
                FieldSpec("customer.phone"),
                FieldSpec("customer.national_id", required: true),
                FieldSpec("customer.national_id_type", required: true, allowed: ["DNI", "NIE", "CNI", "NPA", "CF", "NIF"]),
                FieldSpec("customer.street"), FieldSpec("customer.postal_code"),
                FieldSpec("customer.city"), FieldSpec("customer.country"),
                FieldSpec("plan", required: true),
                FieldSpec("options", .list),
                FieldSpec("currency", required: true),
                .money("total_minor", required: true),
                .money("deposit_minor", required: true),
                FieldSpec("delivery_mode", required: true, allowed: ["HOME", "DEALERSHIP"]),
                FieldSpec("delivery.street"), FieldSpec("delivery.postal_code"),
                FieldSpec("delivery.city"), FieldSpec("delivery.country"),
                FieldSpec("sales_rep"),
                // A vehicle already in dealership stock (released unpaid by an earlier order): no factory order.
                FieldSpec("stock_vin"),
            ]
        case .saleCancelled:
            own = [FieldSpec("dealer_code"), FieldSpec("reason")]
        case .credentialsIssued:
            own = [
                FieldSpec("customer_id", required: true), FieldSpec("expires_at", .time),
                FieldSpec("account", allowed: ["new", "existing"]),
            ]
        case .paymentPending:
            own = [
                FieldSpec("payment_id", required: true),
                FieldSpec("purpose", allowed: ["reservation", "final", "unknown"]),
                .money("amount_minor"),
                FieldSpec("currency"),
                FieldSpec("method"),
            ]
        case .payment:
            own = [
                FieldSpec("event", required: true, allowed: ["captured", "refused", "refunded", "chargeback"]),
                FieldSpec("purpose", allowed: ["reservation", "final", "unknown"]),
                // Always positive: a refund or a chargeback says so in `event`, never with a sign.
                .money("amount_minor", required: true),
                FieldSpec("currency", required: true),
                FieldSpec("payment_id", required: true),
                FieldSpec("method"), FieldSpec("reason"),
            ]
        case .factoryOrderPlaced:
            own = [FieldSpec("factory_order", required: true), FieldSpec("plant"), FieldSpec("eta", .time)]
        case .manufacturingEvent:
            own = [
                FieldSpec("code", required: true, allowed: manufacturingCodes),
                FieldSpec("factory_order"), FieldSpec("plant"), FieldSpec("vin"), FieldSpec("eta", .time),
            ]
        case .registrationSubmitted:
            own = [FieldSpec("submission_id", required: true), FieldSpec("country")]
        case .registrationCompleted:
            own = [FieldSpec("plate", required: true), FieldSpec("submission_id")]
        case .registrationRejected:
            own = [FieldSpec("reason", required: true), FieldSpec("field"), FieldSpec("submission_id")]
        case .carrierEvent:
            own = [
                FieldSpec("event", required: true, allowed: carrierEvents), FieldSpec("shipment_id"),
                FieldSpec("vin"), FieldSpec("location"),
            ]
        case .vehicleResold:
            own = [FieldSpec("vin", required: true), FieldSpec("sold_to", required: true)]
        case .appLinkEvent:
            own = [
                FieldSpec("event", required: true, allowed: ["linked", "link_failed", "unlinked"]),
                FieldSpec("vin"), FieldSpec("detail"),
            ]
        }
        return FactSchema(kind: kind, fields: common + own)
    }
}
