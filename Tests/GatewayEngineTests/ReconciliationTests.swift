import Foundation
import GatewayFormats
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine
@testable import GatewayStore

/// The reconciliation rules one by one, on orders built by hand, and the run-to-run memory that
/// says what is new and what was resolved.
@Suite("Reconciliation rules: who acts on what, and since when")
struct ReconciliationTests {
    static let asOf = Timestamp.parseISO("2026-11-20T23:00:00Z")!
    static func daysAgo(_ d: Double) -> Date { asOf.addingTimeInterval(-d * 86400) }

    static func order(
        _ ref: String, _ state: OrderState, since days: Double, _ change: (inout OrderView) -> Void = { _ in }
    ) -> OrderView {
        var v = OrderView(ref: ref)
        v.state = state
        v.stateSince = daysAgo(days)
        v.currency = "EUR"
        v.totalMinor = 4_000_000
        v.depositMinor = 200_000
        change(&v)
        return v
    }

    func found(_ views: [OrderView], _ config: ReconciliationConfig = ReconciliationConfig()) -> [String: ReconciliationException] {
        var input = Reconciliation.Input()
        input.views = views
        return Dictionary(
            uniqueKeysWithValues: Reconciliation.evaluate(input, config: config, asOf: Self.asOf).map { ($0.order ?? $0.subject, $0) })
    }

    /// Each order rule: the state and its age that make it an exception, the owner, and the same
    /// order one day younger than the threshold, which is no exception.
    @Test(arguments: [
        ("reservation_unpaid", ExceptionOwner.dealership, OrderState.awaitingReservation, 4.0, 2.0),
        ("factory_order_missing", .integration, .reserved, 2.0, 0.5),
        ("factory_silent", .logistics, .inProduction, 6.0, 4.0),
        ("delivery_overdue", .logistics, .inTransit, 3.0, 1.0),
        ("not_linked", .integration, .delivered, 2.0, 0.5),
    ])
    func anOrderWaitingPastItsThresholdIsAnException(
        rule: String, owner: ExceptionOwner, state: OrderState, old: Double, young: Double
    ) {
        let hit = found([Self.order("S-1", state, since: old)])["S-1"]
        #expect(hit?.rule == rule)
        #expect(hit?.owner == owner)
        #expect(hit?.ageDays == Int(old))
        #expect(found([Self.order("S-1", state, since: young)])["S-1"] == nil)
    }

    @Test func thresholdsComeFromTheConfiguration() throws {
        let config = try GatewayConfig.parse(
            """
            reconciliation:
              reservation_unpaid_days: 10
              feeds:
                iot-links: {silent_after_days: 2}
                dms-sales-pt: {silent_after_days: off}
            dealerships:
              ES-MAD-01: {address: "Paseo de la Castellana 200, Madrid"}
            """, file: "t.yaml")
        #expect(config.reconciliation.reservationUnpaidDays == 10)
        #expect(config.dealerships["ES-MAD-01"] == "Paseo de la Castellana 200, Madrid")
        #expect(found([Self.order("S-1", .awaitingReservation, since: 4)], config.reconciliation).isEmpty)
        #expect(found([Self.order("S-1", .awaitingReservation, since: 11)], config.reconciliation)["S-1"]?.rule == "reservation_unpaid")
        #expect(throws: ConfigError.self) { try GatewayConfig.parse("reconciliation: {in_transit_days: -1}", file: "t.yaml") }
        #expect(throws: ConfigError.self) { try GatewayConfig.parse("reconciliation: {unknown_days: 1}", file: "t.yaml") }

        var input = Reconciliation.Input()
        input.feedArrivals = ["iot-links": [Self.daysAgo(3)], "dms-sales-pt": [Self.daysAgo(300)]]
        let feeds = Reconciliation.evaluate(input, config: config.reconciliation, asOf: Self.asOf)
        #expect(feeds.map(\.subject) == ["iot-links"])
    }

    @Test func moneyGoesToFinanceWithTheAmounts() {
        let underpaid = Self.order("S-303", .awaitingReservation, since: 1) { $0.receivedMinor = 150_000 }
        let dueSoon = Self.order("S-302", .awaitingFinalPayment, since: 12) {
            $0.receivedMinor = 200_000
            $0.finalPaymentDueAt = Self.asOf.addingTimeInterval(2 * 86400)
        }
        let notYet = Self.order("S-305", .awaitingFinalPayment, since: 2) {
            $0.finalPaymentDueAt = Self.asOf.addingTimeInterval(12 * 86400)
        }
        let chargeback = Self.order("S-306", .inProduction, since: 1) { $0.chargebacks = 1 }
        let x = found([underpaid, dueSoon, notYet, chargeback])
        #expect(x["S-303"]?.rule == "reservation_underpaid" && x["S-303"]?.owner == .finance)
        #expect(x["S-303"]?.detail == "1500.00 EUR received of a 2000.00 EUR señal")
        #expect(x["S-302"]?.rule == "final_payment_due_soon" && x["S-302"]?.detail.contains("38000.00 EUR due by") == true)
        #expect(x["S-305"] == nil)
        #expect(x["S-306"]?.rule == "chargeback")
    }

    @Test func theHandoverAndStockGoToTheDealership() {
        let x = found([
            Self.order("S-103", .sinAsignar, since: 4) { $0.vin = "VSCCAE103V3047030" },
            Self.order("S-OLD", .sinAsignar, since: 40),
            Self.order("S-102", .returnedToDealership, since: 0.5),
            Self.order("VD-46", .registered, since: 1) { $0.deliveryMode = "DEALERSHIP" },
            Self.order("S-HOME", .registered, since: 1) { $0.deliveryMode = "HOME" },
        ])
        #expect(x["S-103"]?.rule == "released_to_stock" && x["S-103"]?.owner == .dealership)
        #expect(x["S-OLD"] == nil)  // sold or not, a month later it is no news
        #expect(x["S-102"]?.rule == "delivery_failed" && x["S-102"]?.owner == .dealership)
        #expect(x["VD-46"]?.rule == "waiting_for_collection")
        #expect(x["S-HOME"] == nil)  // the carrier takes it home
    }

    /// Who acts on an anomaly depends on what the fact was: money is finance's, a carrier moving
    /// an unpaid car is logistics', an event for nobody's order is integration's.
    @Test func anomaliesGoToWhoeverOwnsTheFactsKind() {
        func parked(_ ref: String, _ code: Anomaly.Code, _ kind: FactKind) -> OrderView {
            var v = OrderView(ref: ref)
            if code != .unknownOrder {
                v.state = .inProduction
                v.stateSince = Self.daysAgo(1)
            }
            v.anomalies = [Anomaly(code: code, factID: "f-\(ref)", occurredAt: Self.daysAgo(3), message: "m")]
            v.timeline = [TimelineStep(factID: "f-\(ref)", kind: kind, occurredAt: Self.daysAgo(3), stateAfter: v.state, note: nil)]
            return v
        }
        let x = found([
            parked("P1", .unknownOrder, .payment), parked("F1", .unknownOrder, .manufacturingEvent),
            parked("D1", .duplicatePayment, .payment), parked("C1", .guardViolation, .carrierEvent),
        ])
        #expect(x["P1"]?.rule == "payment_unmatched" && x["P1"]?.owner == .finance)
        #expect(x["F1"]?.rule == "unknown_order" && x["F1"]?.owner == .integration)
        #expect(x["D1"]?.rule == "payment_duplicate" && x["D1"]?.owner == .finance && x["D1"]?.ageDays == 3)
        #expect(x["C1"]?.rule == "carrier_out_of_turn" && x["C1"]?.owner == .logistics)
    }

    /// Who acts on a rejected record follows from the feed's mapping: a dealership source's is a
    /// sale the dealership must fix, a feed of payments' is money finance must match.
    @Test func rejectedRecordsGoToWhoeverOwnsTheFeed() throws {
        var input = Reconciliation.Input()
        input.classify(try MappingLoader.loadDirectory(Fixtures.mappingsDir).mappings)
        #expect(input.salesFeeds == ["intranet-sales", "dms-sales-pt"])
        #expect(input.paymentFeeds == ["bank-camt054", "psp-settlement"])
        let first = Rejection(record: 1, line: 3, field: "x", reason: "r")
        input.fileProblems = ["dms-sales-pt", "bank-camt054", "carrier-trucklog"].map {
            ProblemFile(
                name: "\($0).csv", feed: $0, hash: $0, arrivedAt: Self.daysAgo(1), quarantineReason: nil, rejected: 1, firstRejection: first
            )
        }
        let x = Dictionary(uniqueKeysWithValues: Reconciliation.evaluate(input, config: .init(), asOf: Self.asOf).map { ($0.subject, $0) })
        #expect(x["dms-sales-pt.csv"]?.rule == "sale_rejected" && x["dms-sales-pt.csv"]?.owner == .dealership)
        #expect(x["bank-camt054.csv"]?.rule == "payment_unmatched" && x["bank-camt054.csv"]?.owner == .finance)
        #expect(x["carrier-trucklog.csv"]?.rule == "records_rejected" && x["carrier-trucklog.csv"]?.owner == .integration)
    }

    @Test func registrationsRejectedOrWaitingTooLong() {
        var input = Reconciliation.Input()
        input.registrations = [
            RegistrationRecord(
                orderRef: "S-1", country: "IT", generation: 1, submissionID: "IT-S-1-1", phase: .rejected, field: "codice_fiscale",
                reason: "check character", updatedAt: Self.daysAgo(1)),
            RegistrationRecord(
                orderRef: "S-2", country: "PT", generation: 1, submissionID: "PT-S-2-1", phase: .accepted, acceptedAt: Self.daysAgo(5),
                updatedAt: Self.daysAgo(0.1)),
            RegistrationRecord(
                orderRef: "S-3", country: "DE", generation: 1, submissionID: "DE-S-3-1", phase: .accepted, acceptedAt: Self.daysAgo(1),
                updatedAt: Self.daysAgo(0.1)),
        ]
        let x = Dictionary(uniqueKeysWithValues: Reconciliation.evaluate(input, config: .init(), asOf: Self.asOf).map { ($0.order!, $0) })
        #expect(x["S-1"]?.rule == "registration_rejected" && x["S-1"]?.owner == .dealership)
        #expect(x["S-1"]?.detail.contains("field codice_fiscale") == true && x["S-1"]?.todo.contains("resubmit S-1") == true)
        #expect(x["S-2"]?.rule == "registration_pending" && x["S-2"]?.ageDays == 5)
        #expect(x["S-3"] == nil)
    }

    /// A feed's usual cadence is learnt from its own history: the factory's daily feed is silent
    /// after a few quiet days; a feed that has been quiet for a month before is not silent after
    /// five days; a feed with too little history is never called silent.
    @Test func aFeedIsSilentWhenQuietForLongerThanItsUsualGap() {
        var input = Reconciliation.Input()
        let daily = (5...12).map { Self.daysAgo(Double($0)) }.reversed()
        input.feedArrivals = [
            "factory-vlc1": Array(daily), "iot-links": [Self.daysAgo(30), Self.daysAgo(20)],
            "psp-settlement": [40, 39, 38, 8, 7, 6, 5].map { Self.daysAgo(Double($0)) },
        ]
        let x = Reconciliation.evaluate(input, config: .init(), asOf: Self.asOf)
        #expect(x.map(\.subject) == ["factory-vlc1"])
        #expect(x.first?.owner == .integration && x.first?.ageDays == 5)
        #expect(x.first?.detail == "nothing since 2026-11-15; it usually sends at least every 3 day(s)")
        input.feedArrivals["factory-vlc1"] = Array(daily) + [Self.daysAgo(1)]
        #expect(Reconciliation.evaluate(input, config: .init(), asOf: Self.asOf).isEmpty)
    }

    /// Between runs the store remembers what was open: a report says what is new and what was
    /// resolved, keeps an exception's age from its first sighting, and never reopens a dismissed one.
    @Test func newResolvedAndDismissedAcrossRuns() throws {
        let store = try SQLiteStore(path: Fixtures.tempDir(#function) + "/s.sqlite")
        func run(_ views: [OrderView], at days: Double, _ id: String, persist: Bool = true) throws -> (
            open: [ReconciliationException], resolved: [TrackedException]
        ) {
            var input = Reconciliation.Input()
            input.views = views
            let at = Self.daysAgo(days)
            return try Reconciliation.track(
                Reconciliation.evaluate(input, config: .init(), asOf: at), store: store, runID: id, at: at, persist: persist)
        }
        let unpaid = Self.order("S-104", .awaitingReservation, since: 10)
        let silent = Self.order("S-202", .inProduction, since: 20)
        var r = try run([unpaid, silent], at: 3, "r1")
        #expect(r.open.map(\.isNew) == [true, true])
        r = try run([unpaid, silent], at: 2, "r2")
        #expect(r.open.map(\.isNew) == [false, false])
        #expect(r.open.first { $0.rule == "reservation_unpaid" }?.firstSeenAt == Timestamp.iso(Self.daysAgo(3)))

        // The señal arrives: resolved in the next run, once.
        let paid = Self.order("S-104", .reserved, since: 1.5) { $0.factoryOrder = "FO-VLC1-1" }
        r = try run([paid, silent], at: 1.5, "r3")
        #expect(r.resolved.map(\.key) == ["reservation_unpaid:S-104"])
        #expect(r.open.map(\.rule) == ["factory_silent"])
        r = try run([paid, silent], at: 1, "r4")
        #expect(r.resolved.isEmpty)

        // A dry run reads the memory but does not change it.
        _ = try run([paid], at: 0.9, "dry", persist: false)
        #expect(try store.openExceptions().map(\.key) == ["factory_silent:S-202"])

        // Dismissed by a person: gone, and not opened again by the next run.
        #expect(try store.dismissException(key: "factory_silent:S-202", note: "plant confirmed by phone", at: Self.daysAgo(0.5)))
        #expect(try !store.dismissException(key: "factory_silent:S-202", note: "again", at: Self.daysAgo(0.5)))
        r = try run([paid, silent], at: 0, "r5")
        #expect(r.open.isEmpty && r.resolved.isEmpty)
    }

    @Test func anExceptionIsAsOldAsItsFirstSighting() throws {
        let store = try SQLiteStore(path: Fixtures.tempDir(#function) + "/s.sqlite")
        var input = Reconciliation.Input()
        input.lostFiles = [SequenceGap(feed: "factory-vlc1", scope: "VLC1", missing: [5])]
        for (days, id) in [(10.0, "r1"), (0.0, "r2")] {
            let at = Self.daysAgo(days)
            let r = try Reconciliation.track(
                Reconciliation.evaluate(input, config: .init(), asOf: at), store: store, runID: id, at: at, persist: true)
            #expect(r.open.first?.ageDays == 10 - Int(days))
        }
    }
}
