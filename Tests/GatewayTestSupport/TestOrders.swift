import Foundation
import GatewayCore

/// Orders made of facts, for tests of what happens once an order reached a stage.
public enum TestOrders {
    /// An order of `country` that is fully paid and has its VIN, written as facts straight into the
    /// store (the feeds that bring them are tested elsewhere). Without the final payment it waits for it.
    public static func facts(
        _ ref: String, country: String, nationalID: String, idType: String, city: String = "Madrid", at: String = "2026-11-01T10:00:00Z",
        finalPayment: Bool = true
    ) -> [Fact] {
        let t0 = Timestamp.parseISO(at)!
        func fact(_ kind: FactKind, _ minutes: Double, _ fields: FactFields, key: String = "") -> Fact {
            Fact(
                id: FactID.make(source: "test", kind: kind, key: [ref, key]), orderRef: ref, kind: kind,
                occurredAt: t0.addingTimeInterval(minutes * 60), fields: fields, provenance: Provenance(fileName: "test"))
        }
        var facts = [
            fact(
                .saleRegistered, 0,
                [
                    "dealer_code": .string("\(country)-TST-01"), "country": .string(country), "customer.given_name": .string("Ana"),
                    "customer.family_name": .string("Pereira Soto"), "customer.email": .string("ana.\(ref.lowercased())@example.com"),
                    "customer.national_id": .string(nationalID), "customer.national_id_type": .string(idType),
                    "customer.street": .string("Calle Mayor 1"), "customer.postal_code": .string("28013"), "customer.city": .string(city),
                    "customer.country": .string(country), "plan": .string("BASE-FAMILY"), "options": .list([]),
                    "currency": .string("EUR"), "total_minor": .int(3_000_000), "deposit_minor": .int(500_000),
                    "delivery_mode": .string("HOME"),
                ]),
            fact(.credentialsIssued, 1, ["customer_id": .string("C-\(ref)"), "account": .string("new")]),
            fact(
                .payment, 2,
                [
                    "event": .string("captured"), "purpose": .string("reservation"), "amount_minor": .int(500_000),
                    "currency": .string("EUR"), "payment_id": .string("P1-\(ref)"),
                ], key: "res"),
            fact(.factoryOrderPlaced, 3, ["factory_order": .string("FO-\(ref)"), "plant": .string("VLC1")]),
            fact(.manufacturingEvent, 4, ["code": .string("production_started"), "vin": .string("VSCCAE108V3047010")], key: "ps"),
            fact(.manufacturingEvent, 5, ["code": .string("available_at_dealership")], key: "av"),
        ]
        if finalPayment {
            facts.append(
                fact(
                    .payment, 6,
                    [
                        "event": .string("captured"), "purpose": .string("final"), "amount_minor": .int(2_500_000),
                        "currency": .string("EUR"),
                        "payment_id": .string("P2-\(ref)"),
                    ], key: "fin"))
        }
        return facts
    }
}
