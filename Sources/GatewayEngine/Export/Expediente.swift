import Foundation
import GatewayCore
import GatewayFiles

/// The expediente de compra: one order's purchase file as the web platform and the app show it to
/// the customer (schema `caas-gateway/expediente/v1`, documented in docs/expediente-schema.md).
/// Derived from the order's facts alone, so the same facts always give the same bytes.
///
/// It names the customer by `customer_id` only: names, e-mail, phone, national id and addresses
/// stay with the platform that owns the customer record, not in files this gateway leaves around.
public struct Expediente: Codable, Sendable, Equatable {
    public static let schema = "caas-gateway/expediente/v1"

    public struct Sale: Codable, Sendable, Equatable {
        public let dealerCode: String?
        public let country: String?
        public let soldAt: String?
        public let plan: String?
        public let options: [String]
        public let currency: String?
        public let totalMinor, depositMinor: Int64
    }

    public struct Payments: Codable, Sendable, Equatable {
        public let receivedMinor, amountDueMinor: Int64
        public let finalPaymentDueAt: String?
        public let history: [Payment]
    }

    public struct Payment: Codable, Sendable, Equatable {
        public let at, event: String
        public let purpose, method: String?
        public let amountMinor: Int64
        public let currency: String?
    }

    public struct Factory: Codable, Sendable, Equatable {
        public let order, plant, vin, eta: String?
        /// Every factory status in time order, with the delivery date the factory gave then.
        public let history: [Step]
    }

    public struct Step: Codable, Sendable, Equatable {
        public let at, event: String
        public let eta: String?
    }

    /// Where the customer's vehicle comes from: built for this order, or dealership stock that an
    /// earlier sale released unpaid.
    public struct Vehicle: Codable, Sendable, Equatable {
        /// `factory_order` or `dealership_stock`.
        public let origin: String
        public let vin: String?
    }

    public struct Registration: Codable, Sendable, Equatable {
        public let plate: String?
        public let registeredAt: String?
        public let rejected: String?
    }

    public struct Delivery: Codable, Sendable, Equatable {
        public let mode: String?
        public let events: [Step]
    }

    public struct AppLink: Codable, Sendable, Equatable {
        /// linked, failed (a later attempt may still work), unlinked, or not_yet.
        public let status: String
        public let events: [Step]
    }

    public let schema: String
    public let orderRef: String
    public let customerId: String?
    public let state: String?
    public let stateSince: String?
    /// When the latest fact of the order happened: the document changes only with the order.
    public let updatedAt: String?
    public let sale: Sale
    public let payments: Payments
    public let vehicle: Vehicle
    public let factory: Factory
    public let registration: Registration
    public let delivery: Delivery
    public let appLink: AppLink

    public static func of(_ v: OrderView, facts: [Fact]) -> Expediente {
        let ordered = facts.sorted { ($0.occurredAt, $0.id) < ($1.occurredAt, $1.id) }
        func iso(_ d: Date?) -> String? { d.map(Timestamp.iso) }
        func steps(_ kind: FactKind, _ field: String) -> [Step] {
            ordered.filter { $0.kind == kind }.map {
                Step(at: Timestamp.iso($0.occurredAt), event: $0.string(field) ?? "?", eta: $0.time("eta").map(Timestamp.day))
            }
        }
        let links = steps(.appLinkEvent, "event")
        let linkStatus: String =
            switch links.last?.event {
            case "linked"?: "linked"
            case "link_failed"?: "failed"
            case "unlinked"?: "unlinked"
            default: "not_yet"
            }
        return Expediente(
            schema: schema, orderRef: v.ref, customerId: v.customerID, state: v.state?.rawValue, stateSince: iso(v.stateSince),
            updatedAt: iso(v.timeline.map(\.occurredAt).max()),
            sale: Sale(
                dealerCode: v.dealerCode, country: v.country, soldAt: iso(ordered.first { $0.kind == .saleRegistered }?.occurredAt),
                plan: v.plan, options: v.options, currency: v.currency, totalMinor: v.totalMinor, depositMinor: v.depositMinor),
            payments: Payments(
                receivedMinor: v.receivedMinor, amountDueMinor: v.amountDueMinor, finalPaymentDueAt: iso(v.finalPaymentDueAt),
                history: ordered.filter { $0.kind == .payment }.map {
                    Payment(
                        at: Timestamp.iso($0.occurredAt), event: $0.string("event") ?? "?", purpose: $0.string("purpose"),
                        method: $0.string("method"), amountMinor: $0.int("amount_minor") ?? 0, currency: $0.string("currency"))
                }),
            vehicle: Vehicle(origin: v.stockVehicle == nil ? "factory_order" : "dealership_stock", vin: v.vin),
            factory: Factory(
                order: v.factoryOrder, plant: v.plant, vin: v.vin, eta: v.eta.map(Timestamp.day),
                history: steps(.factoryOrderPlaced, "factory_order").map { Step(at: $0.at, event: "order_placed", eta: $0.eta) }
                    + steps(.manufacturingEvent, "code")),
            registration: Registration(
                plate: v.plate, registeredAt: iso(ordered.last { $0.kind == .registrationCompleted }?.occurredAt),
                rejected: v.registrationRejection),
            delivery: Delivery(mode: v.deliveryMode, events: steps(.carrierEvent, "event")),
            appLink: AppLink(status: linkStatus, events: links))
    }
}

/// Writes `outbox/expedientes/<ref>.json`, atomically, only when its bytes change: the platform
/// that picks the folder up sees a file move only when the order did.
struct ExpedienteWriter {
    let dir: String

    /// `VD/2026/000046` → `VD%2F2026%2F000046.json`: any reference gives one safe file name, and
    /// two references never the same.
    static func fileName(_ ref: String) -> String {
        var out = ""
        for b in ref.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"):
                out.append(Character(Unicode.Scalar(b)))
            default: out += String(format: "%%%02X", b)
            }
        }
        return out + ".json"
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }()

    /// Returns true when the file was (re)written. Not durable until `flush`.
    @discardableResult
    func write(_ v: OrderView, facts: [Fact]) throws -> Bool {
        guard v.isKnown else { return false }
        let data = try Self.encoder.encode(Expediente.of(v, facts: facts)) + Data("\n".utf8)
        let path = (dir as NSString).appendingPathComponent(Self.fileName(v.ref))
        if FileManager.default.contents(atPath: path) == data { return false }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try AtomicFile.write(data, to: path, mode: 0o640, durable: false)
        return true
    }

    /// Makes the batch's expedientes durable with one flush, before the fold that wrote them commits.
    func flush() throws {
        guard FileManager.default.fileExists(atPath: dir) else { return }
        try AtomicFile.syncFileSystem(holding: dir)
    }
}
