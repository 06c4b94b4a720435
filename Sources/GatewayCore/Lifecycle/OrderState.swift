/// The canonical order lifecycle (DESIGN.md). Raw values are the snake_case names used in files and JSON.
public enum OrderState: String, Sendable, CaseIterable, Codable, Comparable {
    case saleRegistered = "sale_registered"
    case awaitingReservation = "awaiting_reservation"
    case reserved
    case factoryOrdered = "factory_ordered"
    case inProduction = "in_production"
    case qualityControl = "quality_control"
    case readyToShip = "ready_to_ship"
    case shippedToDealership = "shipped_to_dealership"
    case awaitingFinalPayment = "awaiting_final_payment"
    case fullyPaid = "fully_paid"
    case registering
    case registered
    case inTransit = "in_transit"
    case delivered
    case operational
    // Branches.
    case sinAsignar = "sin_asignar"
    case returnedToDealership = "returned_to_dealership"
    case cancelled

    /// Position on the main line; branches sit next to the state they leave from.
    public var rank: Int {
        switch self {
        case .cancelled: return 1
        case .sinAsignar: return 8
        case .returnedToDealership: return 12
        default: return OrderState.mainLine.firstIndex(of: self)!
        }
    }

    public static let mainLine: [OrderState] = [
        .saleRegistered, .awaitingReservation, .reserved, .factoryOrdered, .inProduction, .qualityControl,
        .readyToShip, .shippedToDealership, .awaitingFinalPayment, .fullyPaid, .registering, .registered,
        .inTransit, .delivered, .operational,
    ]

    /// States in which nothing more is expected of the gateway.
    public var isTerminal: Bool { self == .operational || self == .cancelled || self == .sinAsignar }

    public static func < (a: OrderState, b: OrderState) -> Bool { a.rank < b.rank }
}
