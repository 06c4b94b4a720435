import Foundation
import Testing

@testable import GatewayCore

/// Builds an order's facts day by day, the way partner files would bring them.
struct OrderStory {
    let ref: String
    let start = Timestamp.parseISO("2026-10-01T10:00:00Z")!
    var facts: [Fact] = []
    var policies = Policies()

    /// - Parameter stockVIN: the sale takes this vehicle from dealership stock.
    init(ref: String = "S-2026-000101", delivery: String = "HOME", country: String = "ES", stockVIN: String? = nil) {
        self.ref = ref
        var sale: FactFields = [
            "dealer_code": .string("\(country)-MAD-01"), "country": .string(country), "plan": .string("BASE-FAMILY"),
            "currency": .string("EUR"), "total_minor": .int(4_599_000), "deposit_minor": .int(300_000),
            "delivery_mode": .string(delivery),
        ]
        if let stockVIN { sale["stock_vin"] = .string(stockVIN) }
        add(.saleRegistered, day: 0, sale)
    }

    func at(_ day: Double) -> Date { start.addingTimeInterval(day * 86400) }

    mutating func add(_ kind: FactKind, day: Double, _ fields: FactFields = [:]) {
        let id = FactID.make(source: "test", kind: kind, key: [ref, String(facts.count)])
        facts.append(Fact(id: id, orderRef: ref, kind: kind, occurredAt: at(day), fields: fields, provenance: Provenance(fileName: "test")))
    }

    mutating func pay(_ amount: Int64, day: Double, purpose: String = "unknown", event: String = "captured", currency: String = "EUR") {
        add(
            .payment, day: day,
            [
                "event": .string(event), "purpose": .string(purpose), "amount_minor": .int(amount),
                "currency": .string(currency), "payment_id": .string("P\(facts.count)"),
            ])
    }

    mutating func factory(_ code: String, day: Double, _ extra: FactFields = [:]) {
        add(.manufacturingEvent, day: day, extra.merging(["code": .string(code)]) { $1 })
    }

    mutating func carrier(_ event: String, day: Double) { add(.carrierEvent, day: day, ["event": .string(event)]) }
    mutating func link(_ event: String, day: Double) { add(.appLinkEvent, day: day, ["event": .string(event)]) }

    func fold(asOfDay day: Double = 60) -> OrderView {
        Lifecycle.fold(ref: ref, facts: facts, policies: policies, asOf: at(day))
    }

    // Building blocks up to a given state.
    mutating func toAwaitingReservation() { add(.credentialsIssued, day: 0.1, ["customer_id": .string("C-1")]) }
    mutating func toReserved() {
        toAwaitingReservation()
        pay(300_000, day: 1, purpose: "reservation")
    }
    mutating func toFactoryOrdered() {
        toReserved()
        add(.factoryOrderPlaced, day: 1.1, ["factory_order": .string("FO-VLC1-0004701"), "plant": .string("VLC1")])
    }
    mutating func toAvailable(day: Double = 30) {
        toFactoryOrdered()
        factory("order_confirmed", day: 2)
        factory("production_started", day: 5, ["vin": .string("VSSZZZ1KZTR000101")])
        factory("quality_control", day: 20)
        factory("ready_for_shipment", day: 22)
        factory("shipped_to_dealership", day: 24)
        factory("available_at_dealership", day: day)
    }
    mutating func toFullyPaid() {
        toAvailable()
        pay(4_299_000, day: 31, purpose: "final")
    }
    mutating func toRegistered() {
        toFullyPaid()
        add(.registrationSubmitted, day: 32, ["submission_id": .string("R-1")])
        add(.registrationCompleted, day: 33, ["plate": .string("1234 BCD")])
    }
}

@Suite("Lifecycle fold: every state and branch")
struct LifecycleTests {
    @Test func aNewSaleWaitsForCredentials() {
        let v = OrderStory().fold()
        #expect(v.state == .saleRegistered)
        #expect(v.dueActions.map(\.kind) == [.issueCredentials])
        #expect(v.dueActions.first?.idempotencyKey == "issue_credentials:S-2026-000101")
        #expect(v.totalMinor == 4_599_000 && v.depositMinor == 300_000 && v.amountDueMinor == 300_000)
    }

    @Test func credentialsThenReservation() {
        var s = OrderStory()
        s.toAwaitingReservation()
        #expect(s.fold().state == .awaitingReservation)
        #expect(s.fold().dueActions.isEmpty)
        s.pay(300_000, day: 1, purpose: "reservation")
        let v = s.fold()
        #expect(v.state == .reserved)
        #expect(v.dueActions.map(\.kind) == [.placeFactoryOrder])
        #expect(v.amountDueMinor == 4_299_000)
    }

    @Test func credentialsAreOwedToEveryLiveOrderWithoutThemWhateverItsState() {
        // Sale and payment ingested in the same run: the first fold already says reserved.
        var s = OrderStory()
        s.pay(300_000, day: 1, purpose: "reservation")
        let v = s.fold()
        #expect(v.state == .reserved)
        #expect(Set(v.dueActions.map(\.kind)) == [.issueCredentials, .placeFactoryOrder])
        s.add(.credentialsIssued, day: 2, ["customer_id": .string("C-1")])
        #expect(s.fold().dueActions.map(\.kind) == [.placeFactoryOrder])
        var cancelled = OrderStory()
        cancelled.add(.saleCancelled, day: 0.5)
        #expect(cancelled.fold().dueActions.isEmpty)
    }

    @Test func anUnderpaidReservationIsNotAReservation() {
        var s = OrderStory()
        s.toAwaitingReservation()
        s.pay(100_000, day: 1)
        #expect(s.fold().state == .awaitingReservation)
        #expect(s.fold().amountDueMinor == 200_000)
        #expect(s.fold().timeline.last?.note?.contains("underpaid") == true)
        s.pay(200_000, day: 2)
        #expect(s.fold().state == .reserved)
    }

    @Test func aDeclinedCardIsRecordedAndNotFinal() {
        var s = OrderStory()
        s.toAwaitingReservation()
        s.pay(300_000, day: 1, event: "refused")
        #expect(s.fold().state == .awaitingReservation)
        #expect(s.fold().refusedPayments == 1)
        #expect(s.fold().receivedMinor == 0)
    }

    @Test func paymentInAnotherCurrencyIsAnAnomaly() {
        var s = OrderStory()
        s.toAwaitingReservation()
        s.pay(300_000, day: 1, currency: "GBP")
        #expect(s.fold().state == .awaitingReservation)
        #expect(s.fold().anomalies.map(\.code) == [.currencyMismatch])
    }

    @Test func aSecondReservationPaymentIsADuplicateToRefund() {
        var s = OrderStory()
        s.toReserved()
        s.pay(300_000, day: 1.5, purpose: "reservation")
        #expect(s.fold().state == .reserved)
        #expect(s.fold().anomalies.map(\.code) == [.duplicatePayment])
    }

    @Test func cancellationBeforeAndAfterTheReservation() {
        var early = OrderStory()
        early.toAwaitingReservation()
        early.add(.saleCancelled, day: 0.5)
        #expect(early.fold().state == .cancelled)
        #expect(early.fold().dueActions.isEmpty)

        var fromRegistered = OrderStory()
        fromRegistered.add(.saleCancelled, day: 0.05)
        #expect(fromRegistered.fold().state == .cancelled)

        var late = OrderStory()
        late.toReserved()
        late.add(.saleCancelled, day: 2)
        #expect(late.fold().state == .reserved)
        #expect(late.fold().anomalies.map(\.code) == [.cancelTooLate])

        var paymentAfterCancel = early
        paymentAfterCancel.pay(300_000, day: 1)
        #expect(paymentAfterCancel.fold().state == .cancelled)
        #expect(paymentAfterCancel.fold().anomalies.map(\.code) == [.paymentNotExpected])
    }

    @Test func noFactoryOrderWithoutAPaidReservation() {
        var s = OrderStory()
        s.toAwaitingReservation()
        s.add(.factoryOrderPlaced, day: 1, ["factory_order": .string("FO-1")])
        #expect(s.fold().state == .awaitingReservation)
        #expect(s.fold().anomalies.map(\.code) == [.guardViolation])
        s.factory("production_started", day: 2)
        #expect(s.fold().anomalies.count == 2)
    }

    @Test func manufacturingMovesThroughEveryStage() {
        var s = OrderStory()
        s.toFactoryOrdered()
        #expect(s.fold().state == .factoryOrdered)
        #expect(s.fold().factoryOrder == "FO-VLC1-0004701")
        let steps: [(String, OrderState)] = [
            ("order_confirmed", .factoryOrdered), ("production_started", .inProduction), ("quality_control", .qualityControl),
            ("ready_for_shipment", .readyToShip), ("shipped_to_dealership", .shippedToDealership),
            ("available_at_dealership", .awaitingFinalPayment),
        ]
        for (i, (code, state)) in steps.enumerated() {
            s.factory(code, day: Double(2 + i), code == "production_started" ? ["vin": .string("VSSZZZ1KZTR000101")] : [:])
            #expect(s.fold(asOfDay: 8).state == state, "after \(code)")
        }
        let v = s.fold(asOfDay: 8)
        #expect(v.vin == "VSSZZZ1KZTR000101")
        #expect(v.finalPaymentDueAt == s.at(7 + 14))
        #expect(v.amountDueMinor == 4_299_000)
    }

    @Test func aFactoryEventImpliesTheFactoryOrderWhenThePlacementAnswerWasLost() {
        var s = OrderStory()
        s.toReserved()
        s.factory("order_confirmed", day: 2, ["factory_order": .string("FO-VLC1-0004701")])
        #expect(s.fold().state == .factoryOrdered)
        #expect(s.fold().factoryOrder == "FO-VLC1-0004701")
    }

    @Test func aStaleFactoryStatusIsParkedNotApplied() {
        var s = OrderStory()
        s.toFactoryOrdered()
        s.factory("quality_control", day: 10)
        s.factory("production_started", day: 11)
        #expect(s.fold().state == .qualityControl)
        #expect(s.fold().anomalies.map(\.code) == [.outOfOrder])
    }

    @Test func aDelayRevisesTheETAWithoutChangingState() {
        var s = OrderStory()
        s.toFactoryOrdered()
        s.factory("production_started", day: 5)
        s.factory("delayed", day: 6, ["eta": .time(s.at(45))])
        let v = s.fold()
        #expect(v.state == .inProduction)
        #expect(v.eta == s.at(45))
        #expect(v.etaRevisions == 1)
    }

    @Test func finalPaymentInsideTheWindow() {
        var s = OrderStory()
        s.toFullyPaid()
        let v = s.fold()
        #expect(v.state == .fullyPaid)
        #expect(v.dueActions.map(\.kind) == [.submitRegistration])
        #expect(v.amountDueMinor == 0)
    }

    @Test func aPartialFinalPaymentKeepsTheWindowOpen() {
        var s = OrderStory()
        s.toAvailable()
        s.pay(1_000_000, day: 31, purpose: "final")
        #expect(s.fold(asOfDay: 32).state == .awaitingFinalPayment)
        #expect(s.fold(asOfDay: 32).amountDueMinor == 3_299_000)
    }

    @Test func paidInFullBeforeAvailabilitySkipsTheWindow() {
        var s = OrderStory()
        s.toFactoryOrdered()
        s.pay(4_299_000, day: 3, purpose: "final")
        #expect(s.fold().state == .factoryOrdered)
        s.factory("available_at_dealership", day: 30)
        #expect(s.fold().state == .fullyPaid)
    }

    @Test func theWindowClosesUnpaidIntoSinAsignar() {
        var s = OrderStory()
        s.toAvailable(day: 30)
        #expect(s.fold(asOfDay: 43.9).state == .awaitingFinalPayment)
        let v = s.fold(asOfDay: 44.1)
        #expect(v.state == .sinAsignar)
        #expect(v.stateSince == s.at(44))
        #expect(v.dueActions.map(\.kind) == [.releaseToStock, .notifyCustomer])  // stock for the dealership; the customer told
        #expect(v.amountDueMinor == 0)
        #expect(v.receivedMinor == 300_000)  // the señal is kept
    }

    @Test func aPaymentAfterTheWindowDoesNotRevive() {
        var s = OrderStory()
        s.toAvailable(day: 30)
        s.pay(4_299_000, day: 45, purpose: "final")
        let v = s.fold()
        #expect(v.state == .sinAsignar)
        #expect(v.anomalies.map(\.code) == [.paymentNotExpected])
    }

    @Test func thePaymentWindowIsACountryPolicy() {
        var s = OrderStory(country: "PT")
        s.policies = Policies(finalPaymentWindowDays: 14, finalPaymentWindowDaysByCountry: ["PT": 10])
        s.toAvailable(day: 30)
        #expect(s.fold(asOfDay: 40.5).state == .sinAsignar)
        var es = OrderStory(country: "ES")
        es.policies = s.policies
        es.toAvailable(day: 30)
        #expect(es.fold(asOfDay: 40.5).state == .awaitingFinalPayment)
    }

    @Test func noRegistrationWithoutFullPayment() {
        var s = OrderStory()
        s.toAvailable()
        s.add(.registrationSubmitted, day: 31, ["submission_id": .string("R-1")])
        s.add(.registrationCompleted, day: 32, ["plate": .string("1234 BCD")])
        #expect(s.fold(asOfDay: 33).state == .awaitingFinalPayment)
        #expect(s.fold(asOfDay: 33).anomalies.map(\.code) == [.guardViolation, .guardViolation])
    }

    @Test func registrationSubmittedRejectedAndCompleted() {
        var s = OrderStory()
        s.toFullyPaid()
        s.add(.registrationSubmitted, day: 32, ["submission_id": .string("R-1")])
        #expect(s.fold().state == .registering)
        s.add(.registrationRejected, day: 32.5, ["reason": .string("holder id")])
        // Refused: nothing is pending at the body any more; the order waits for a resubmission.
        #expect(s.fold().state == .fullyPaid)
        #expect(s.fold().registrationRejection == "holder id")
        s.add(.registrationSubmitted, day: 33, ["submission_id": .string("R-2")])
        #expect(s.fold().state == .registering)
        #expect(s.fold().registrationRejection == nil)
        s.add(.registrationCompleted, day: 34, ["plate": .string("1234 BCD")])
        #expect(s.fold().state == .registered)
        #expect(s.fold().plate == "1234 BCD")
    }

    @Test func homeDeliveryOnlyAfterRegistration() {
        var s = OrderStory()
        s.toFullyPaid()
        s.carrier("out_for_delivery", day: 32)
        #expect(s.fold().state == .fullyPaid)
        #expect(s.fold().anomalies.last?.message.contains("not registered") == true)

        var unpaid = OrderStory()
        unpaid.toAvailable()
        unpaid.carrier("out_for_delivery", day: 31)
        #expect(unpaid.fold(asOfDay: 32).anomalies.last?.message.contains("not fully paid") == true)
    }

    @Test func deliveredAtHomeThenOperational() {
        var s = OrderStory()
        s.toRegistered()
        s.carrier("out_for_delivery", day: 35)
        #expect(s.fold().state == .inTransit)
        s.carrier("delivered", day: 35.2)
        #expect(s.fold().state == .delivered)
        s.link("linked", day: 35.3)
        #expect(s.fold().state == .operational)
        #expect(s.fold().state?.isTerminal == true)
    }

    @Test func anAbsentCustomerSendsTheCarBackToTheDealership() {
        var s = OrderStory()
        s.toRegistered()
        s.carrier("out_for_delivery", day: 35)
        s.carrier("delivery_failed_absent", day: 35.2)
        #expect(s.fold().state == .returnedToDealership)
        s.carrier("returned_to_dealership", day: 35.5)
        #expect(s.fold().state == .returnedToDealership)
        s.carrier("collected_by_customer", day: 37)
        #expect(s.fold().state == .delivered)
    }

    @Test func dealershipPickUpGoesStraightToDelivered() {
        var s = OrderStory(delivery: "DEALERSHIP")
        s.toRegistered()
        s.carrier("collected_by_customer", day: 34)
        #expect(s.fold().state == .delivered)
    }

    @Test func aFailedLinkIsRecordedAndDoesNotBlock() {
        var s = OrderStory()
        s.toRegistered()
        s.carrier("delivered", day: 35)
        s.link("link_failed", day: 35.1)
        #expect(s.fold().state == .delivered)
        #expect(s.fold().linkFailures == 1)
        #expect(s.fold().anomalies.isEmpty)
        s.link("linked", day: 36)
        #expect(s.fold().state == .operational)
        s.link("unlinked", day: 40)
        #expect(s.fold().state == .delivered)
    }

    @Test func factsForAnUnknownOrderAreParkedThenAppliedWhenTheSaleArrives() {
        var s = OrderStory()
        let sale = s.facts.removeFirst()
        s.pay(300_000, day: 1, purpose: "reservation")
        let parked = s.fold()
        #expect(parked.state == nil)
        #expect(!parked.isKnown)
        #expect(parked.anomalies.map(\.code) == [.unknownOrder])
        s.facts.append(sale)
        s.toAwaitingReservation()
        let v = s.fold()
        #expect(v.anomalies.isEmpty)
        #expect(v.state == .reserved)
    }

    @Test func aSecondSaleRegistrationForTheSameReferenceIsAnAnomaly() {
        var s = OrderStory()
        s.add(.saleRegistered, day: 1, ["dealer_code": .string("PT-LIS-01"), "country": .string("PT")])
        #expect(s.fold().state == .saleRegistered)
        #expect(s.fold().dealerCode == "ES-MAD-01")
        #expect(s.fold().anomalies.map(\.code) == [.duplicateSale])
    }

    @Test func theFoldIsIndependentOfFactArrivalOrder() {
        var s = OrderStory()
        s.toRegistered()
        s.carrier("out_for_delivery", day: 35)
        s.carrier("delivered", day: 35.2)
        let forward = s.fold()
        var shuffled = s
        shuffled.facts.reverse()
        #expect(shuffled.fold() == forward)
        var g = SystemRandomNumberGenerator()
        shuffled.facts.shuffle(using: &g)
        #expect(shuffled.fold() == forward)
    }

    @Test func customerFacingStepsBecomeNoticesAndRecentOnesAreDue() {
        var s = OrderStory()
        s.toAvailable(day: 30)
        s.factory("delayed", day: 25, ["eta": .time(s.at(40))])
        s.pay(4_299_000, day: 31, purpose: "final")
        let v = s.fold(asOfDay: 32)
        #expect(
            v.notices.map(\.template) == [
                "order_confirmed", "production_started", "quality_control", "ready_to_ship", "shipped_to_dealership", "delayed",
                "available_at_dealership", "final_payment_received",
            ])
        #expect(v.notices.filter(\.sms).map(\.template) == ["available_at_dealership"])
        #expect(v.notices.first { $0.template == "delayed" }?.variables["eta"] == "2026-11-10")
        // Only what happened within the horizon (7 days before day 32) is due: old news is not sent.
        let due = v.dueActions.filter { $0.kind == .notifyCustomer }.map { $0.detail!.split(separator: ":").first! }
        #expect(due == ["delayed", "available_at_dealership", "final_payment_received"])
        #expect(
            v.dueActions.first { $0.kind == .notifyCustomer }?.idempotencyKey.hasPrefix("notify_customer:S-2026-000101:delayed:f_") == true)
    }

    @Test func aClosedWindowTellsTheCustomerAndAParkedFactTellsNobody() {
        var s = OrderStory()
        s.toAvailable(day: 30)
        let lost = s.fold(asOfDay: 45)
        #expect(lost.notices.last?.template == "reservation_lost")
        #expect(lost.notices.last?.occurredAt == s.at(44))
        var stale = OrderStory()
        stale.toFactoryOrdered()
        stale.factory("quality_control", day: 10)
        stale.factory("production_started", day: 11)  // out of order: parked
        #expect(stale.fold(asOfDay: 12).notices.map(\.template) == ["quality_control"])
    }

    @Test func everyStateIsReachedByTheseTests() {
        // A guard for this file: the lifecycle names 18 states, each has a test above.
        #expect(OrderState.allCases.count == 18)
    }

    @Test func aRefundBelowWhatTheStageNeedsIsAnAnomaly() {
        var s = OrderStory()
        s.toReserved()
        s.pay(300_000, day: 2, event: "refunded")
        #expect(s.fold().anomalies.map(\.code) == [.moneyReturned])
        var chargeback = OrderStory()
        chargeback.toReserved()
        chargeback.pay(300_000, day: 2, purpose: "reservation")  // duplicate
        chargeback.pay(300_000, day: 3, event: "refunded")  // its refund: fine
        #expect(chargeback.fold().anomalies.map(\.code) == [.duplicatePayment])
        chargeback.pay(300_000, day: 4, event: "chargeback")
        #expect(chargeback.fold().anomalies.map(\.code) == [.duplicatePayment, .moneyReturned])
        #expect(chargeback.fold().refunds == 1 && chargeback.fold().chargebacks == 1)
    }
}
