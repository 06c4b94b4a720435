import Foundation

/// The order lifecycle as one pure fold: facts + policies + as-of time → state, deadlines,
/// anomalies and due actions. Nothing else decides an order's state.
public enum Lifecycle {
    public static func fold(ref: String, facts: [Fact], policies: Policies, asOf: Date) -> OrderView {
        var folder = Folder(view: OrderView(ref: ref), policies: policies)
        for fact in facts.sorted(by: foldOrder) {
            folder.closeWindow(before: fact.occurredAt)
            folder.apply(fact)
        }
        folder.closeWindow(before: asOf)
        folder.view.dueActions = dueActions(for: folder.view)
        let horizon = asOf.addingTimeInterval(-Double(policies.noticeHorizonDays) * 86400)
        if folder.view.state != nil {
            folder.view.dueActions += folder.view.notices.filter { $0.occurredAt >= horizon }.map {
                $0.dueAction(orderRef: ref)
            }
        }
        return folder.view
    }

    /// The sale opens an order whatever its timestamp says; everything else in time order, with
    /// the kind and then the id breaking ties so that every fold of the same facts is the same.
    static func foldOrder(_ a: Fact, _ b: Fact) -> Bool {
        let aSale = a.kind == .saleRegistered, bSale = b.kind == .saleRegistered
        if aSale != bSale { return aSale }
        if a.occurredAt != b.occurredAt { return a.occurredAt < b.occurredAt }
        let ka = FactKind.allCases.firstIndex(of: a.kind)!, kb = FactKind.allCases.firstIndex(of: b.kind)!
        if ka != kb { return ka < kb }
        return a.id < b.id
    }

    static func dueActions(for view: OrderView) -> [DueAction] {
        guard let state = view.state else { return [] }
        var due: [DueActionKind] = []
        // Every live order needs its customer's account, whatever state its facts reached: a sale
        // and its payment can arrive in the same run (a late export, a replay).
        if view.customerID == nil && state != .cancelled { due.append(.issueCredentials) }
        switch state {
        case .reserved: due.append(.placeFactoryOrder)
        case .fullyPaid: due.append(.submitRegistration)
        case .sinAsignar: due.append(.releaseToStock)
        case .delivered, .operational: due.append(.authorizeLink)
        default: break
        }
        // A vehicle sold from stock leaves the dealership's stock once its señal is paid.
        if view.stockVehicle != nil, state.rank >= OrderState.awaitingFinalPayment.rank { due.append(.stockSold) }
        return due.map { DueAction(kind: $0, orderRef: view.ref) }
    }
}

/// The mutable walk over one order's facts. Each `apply` either moves the state, records an
/// attribute, or parks the fact as an anomaly; the timeline gets one step per fact either way.
struct Folder {
    var view: OrderView
    let policies: Policies

    private static let manufacturingTarget: [String: OrderState] = [
        "order_confirmed": .factoryOrdered, "production_started": .inProduction,
        "quality_control": .qualityControl, "ready_for_shipment": .readyToShip,
        "shipped_to_dealership": .shippedToDealership, "available_at_dealership": .awaitingFinalPayment,
    ]

    var state: OrderState? { view.state }

    mutating func notice(_ template: String, _ fact: Fact, sms: Bool = false, _ variables: [String: String] = [:]) {
        view.notices.append(
            CustomerNotice(template: template, factID: fact.id, occurredAt: fact.occurredAt, sms: sms, variables: variables))
    }

    static let manufacturingNotice: [String: String] = [
        "order_confirmed": "order_confirmed", "production_started": "production_started", "quality_control": "quality_control",
        "ready_for_shipment": "ready_to_ship", "shipped_to_dealership": "shipped_to_dealership",
    ]

    mutating func move(to newState: OrderState, at time: Date) {
        view.state = newState
        view.stateSince = time
    }

    mutating func step(_ fact: Fact, _ note: String? = nil) {
        view.timeline.append(
            TimelineStep(
                factID: fact.id, kind: fact.kind, occurredAt: fact.occurredAt,
                stateAfter: view.state, note: note))
    }

    mutating func park(_ fact: Fact, _ code: Anomaly.Code, _ message: String) {
        view.anomalies.append(Anomaly(code: code, factID: fact.id, occurredAt: fact.occurredAt, message: message))
        step(fact, "anomaly: " + message)
    }

    /// The final-payment window is the only transition driven by time rather than by a fact.
    mutating func closeWindow(before time: Date) {
        guard state == .awaitingFinalPayment, let due = view.finalPaymentDueAt, time > due else { return }
        move(to: .sinAsignar, at: due)
        view.notices.append(
            CustomerNotice(template: "reservation_lost", factID: "window:\(view.ref)", occurredAt: due, sms: false, variables: [:]))
        view.timeline.append(
            TimelineStep(
                factID: "-", kind: nil, occurredAt: due, stateAfter: .sinAsignar,
                note: "final payment window closed unpaid: vehicle released to dealership stock, reservation kept"))
    }

    mutating func apply(_ fact: Fact) {
        guard let state else {
            if fact.kind == .saleRegistered { return registerSale(fact) }
            if fact.kind == .payment {
                // Money naming a sale we do not know: finance sees what it is, never who paid it.
                return park(
                    fact, .unknownOrder,
                    "\(UnplacedMoney.describe(fact)) names sale \(fact.orderRef), which no dealership registered; kept and applied if the sale arrives"
                )
            }
            return park(fact, .unknownOrder, "no sale is registered for \(fact.orderRef) yet; kept and applied when the sale arrives")
        }
        switch fact.kind {
        case .saleRegistered:
            park(fact, .duplicateSale, "the sale was registered again by another source; the first registration stands")
        case .saleCancelled:
            if state == .saleRegistered || state == .awaitingReservation {
                if view.receivedMinor > 0 {
                    park(fact, .cancelTooLate, "sale withdrawn after money was received: refund it by hand")
                } else {
                    move(to: .cancelled, at: fact.occurredAt)
                    step(fact, "sale withdrawn before the reservation was paid")
                }
            } else if state == .cancelled {
                step(fact, "already cancelled")
            } else {
                park(fact, .cancelTooLate, "sale withdrawn after the reservation was paid (state \(state.rawValue)): needs a person")
            }
        case .credentialsIssued:
            view.customerID = fact.string("customer_id") ?? view.customerID
            if state == .saleRegistered {
                move(to: .awaitingReservation, at: fact.occurredAt)
                step(fact, "customer credentials issued")
            } else {
                step(fact, "credentials issued (no state change)")
            }
        case .payment: applyPayment(fact, state)
        case .paymentPending:
            let id = fact.string("payment_id") ?? ""
            if view.settledPayments?.contains(id) == true {
                step(fact, "a PENDING report for a payment already settled")
            } else {
                view.pendingPayments = (view.pendingPayments ?? [:]).merging([id: fact.occurredAt]) { first, _ in first }
                step(fact, "payment pending at the provider: not money until it is captured")
            }
        case .factoryOrderPlaced:
            if view.stockVehicle != nil {
                park(fact, .guardViolation, "a factory order for a vehicle sold from dealership stock: it is never ordered again")
            } else if state == .reserved {
                view.factoryOrder = fact.string("factory_order")
                view.plant = fact.string("plant") ?? view.plant
                view.eta = fact.time("eta") ?? view.eta
                move(to: .factoryOrdered, at: fact.occurredAt)
                step(fact, "factory order \(view.factoryOrder ?? "?")")
            } else if state < .reserved || state == .cancelled {
                park(fact, .guardViolation, "factory order without a paid reservation")
            } else if let known = view.factoryOrder, known != fact.string("factory_order") {
                park(fact, .conflictingValue, "a second factory order \(fact.string("factory_order") ?? "?") differs from \(known)")
            } else {
                step(fact, "factory order already recorded")
            }
        case .manufacturingEvent: applyManufacturing(fact, state)
        case .registrationSubmitted:
            if state == .fullyPaid || state == .registering {
                view.registrationRejection = nil
                move(to: .registering, at: fact.occurredAt)
                step(fact, "registration submitted")
            } else if state < .fullyPaid || state == .cancelled || state == .sinAsignar {
                park(fact, .guardViolation, "registration submitted without full payment")
            } else {
                park(fact, .outOfOrder, "registration submitted for an order already \(state.rawValue)")
            }
        case .registrationCompleted:
            let plate = fact.string("plate")
            if state == .fullyPaid || state == .registering {
                view.plate = plate
                view.registrationRejection = nil
                move(to: .registered, at: fact.occurredAt)
                notice("registered", fact, ["plate": plate ?? ""])
                step(fact, "registered: plate \(plate ?? "?")")
            } else if state < .fullyPaid || state == .cancelled || state == .sinAsignar {
                park(fact, .guardViolation, "registration without full payment")
            } else if view.plate == plate {
                step(fact, "registration already recorded")
            } else {
                park(fact, .conflictingValue, "a second registration with another plate")
            }
        case .registrationRejected:
            if state == .fullyPaid || state == .registering {
                // Back to waiting for a registration: nothing is pending at the body any more.
                view.registrationRejection = fact.string("reason")
                move(to: .fullyPaid, at: fact.occurredAt)
                let field = fact.string("field").map { " (\($0))" } ?? ""
                step(fact, "registration rejected\(field): \(fact.string("reason") ?? "no reason given")")
            } else {
                park(fact, .outOfOrder, "registration rejection for an order in state \(state.rawValue)")
            }
        case .carrierEvent: applyCarrier(fact, state)
        case .appLinkEvent: applyLink(fact, state)
        case .vehicleResold:
            let buyer = fact.string("sold_to") ?? "?"
            if state == .sinAsignar {
                view.resoldTo = buyer
                step(fact, "the vehicle was sold again from dealership stock, to \(buyer)")
            } else {
                park(fact, .outOfOrder, "a resale of the vehicle to \(buyer) while the order is \(state.rawValue), not dealership stock")
            }
        }
    }

    mutating func registerSale(_ fact: Fact) {
        view.dealerCode = fact.string("dealer_code")
        view.country = fact.string("country")
        view.plan = fact.string("plan")
        view.options = fact["options"]?.list ?? []
        view.deliveryMode = fact.string("delivery_mode")
        view.currency = fact.string("currency")
        view.totalMinor = fact.int("total_minor") ?? 0
        view.depositMinor = fact.int("deposit_minor") ?? 0
        if let vin = fact.string("stock_vin") {
            view.stockVehicle = vin
            view.vin = vin
        }
        move(to: .saleRegistered, at: fact.occurredAt)
        step(fact, "sale registered by \(view.dealerCode ?? "?")" + (view.stockVehicle.map { " of stock vehicle \($0)" } ?? ""))
    }

    mutating func applyPayment(_ fact: Fact, _ state: OrderState) {
        // Whatever the provider finally said settles a PENDING report of the same payment.
        if let id = fact.string("payment_id") {
            view.settledPayments = (view.settledPayments ?? []).union([id])
            if view.pendingPayments?.removeValue(forKey: id) != nil, view.pendingPayments?.isEmpty == true { view.pendingPayments = nil }
        }
        let amount = fact.int("amount_minor") ?? 0
        let event = fact.string("event") ?? "captured"
        // Ingest refuses such amounts; a store written before it did may still hold one, and a
        // sum must never trap on it (a trap here stopped every run, for every order).
        guard event == "refused" || Money.plausibleMinor.contains(amount) else {
            return park(
                fact, .implausibleValue,
                "payment of \(amount) minor units is outside \(Money.plausibleMinor.lowerBound)...\(Money.plausibleMinor.upperBound): not counted")
        }
        let purpose = fact.string("purpose") ?? "unknown"
        guard fact.string("currency") == view.currency else {
            return park(
                fact, .currencyMismatch, "payment in \(fact.string("currency") ?? "?") for an order priced in \(view.currency ?? "?")")
        }
        switch event {
        case "refused":
            view.refusedPayments += 1
            step(fact, "card payment declined (\(fact.string("reason") ?? "no reason")); not final, the customer may try again")
        case "refunded", "chargeback":
            view.receivedMinor = Money.difference(view.receivedMinor, amount)
            if event == "chargeback" { view.chargebacks += 1 } else { view.refunds += 1 }
            let needed: Int64 =
                state >= .fullyPaid && state != .sinAsignar
                ? view.totalMinor
                : state >= .reserved && state != .cancelled && state != .sinAsignar ? view.depositMinor : 0
            if event == "chargeback" || view.receivedMinor < needed {
                park(
                    fact, .moneyReturned,
                    "\(event) of \(Money.format(amount, view.currency)) leaves \(Money.format(view.receivedMinor, view.currency)) received, less than the stage needs"
                )
            } else {
                step(fact, "\(event) of \(Money.format(amount, view.currency))")
            }
        default:
            view.receivedMinor = Money.sum(view.receivedMinor, amount)
            switch state {
            case .saleRegistered, .awaitingReservation:
                if view.receivedMinor >= view.depositMinor, view.stockVehicle != nil {
                    // The vehicle is at the dealership already: its final-payment window opens now.
                    openFinalPaymentWindow(fact, "reservation paid; the stock vehicle is at the dealership")
                } else if view.receivedMinor >= view.depositMinor {
                    move(to: .reserved, at: fact.occurredAt)
                    step(fact, "reservation paid")
                } else {
                    step(
                        fact,
                        "reservation underpaid: \(Money.format(view.receivedMinor, view.currency)) of \(Money.format(view.depositMinor, view.currency))"
                    )
                }
            case .awaitingFinalPayment:
                if view.receivedMinor >= view.totalMinor {
                    move(to: .fullyPaid, at: fact.occurredAt)
                    notice("final_payment_received", fact)
                    step(fact, "final payment received")
                } else {
                    step(
                        fact,
                        "final payment partial: \(Money.format(view.receivedMinor, view.currency)) of \(Money.format(view.totalMinor, view.currency))"
                    )
                }
            case .cancelled, .sinAsignar:
                park(fact, .paymentNotExpected, "payment received for an order in state \(state.rawValue): refund it")
            default:
                if purpose == "reservation" || view.receivedMinor > view.totalMinor {
                    park(fact, .duplicatePayment, "payment of \(Money.format(amount, view.currency)) beyond what is owed: refund it")
                } else {
                    step(fact, "payment received ahead of the final-payment window")
                }
            }
        }
    }

    mutating func applyManufacturing(_ fact: Fact, _ state: OrderState) {
        let code = fact.string("code") ?? ""
        if view.stockVehicle != nil {
            return park(
                fact, .outOfOrder, "factory status \(code) for a vehicle sold from dealership stock, which the factory no longer builds")
        }
        if state < .reserved || state == .cancelled {
            return park(fact, .guardViolation, "factory status \(code) for an order without a paid reservation")
        }
        if let fo = fact.string("factory_order") {
            if let known = view.factoryOrder, known != fo {
                return park(fact, .conflictingValue, "factory status for factory order \(fo), but the order has \(known)")
            }
            view.factoryOrder = fo
        }
        view.plant = fact.string("plant") ?? view.plant
        if let vin = fact.string("vin") { view.vin = vin }
        if code == "delayed" {
            view.eta = fact.time("eta") ?? view.eta
            view.etaRevisions += 1
            notice("delayed", fact, ["eta": view.eta.map(Timestamp.day) ?? ""])
            return step(fact, "delayed: new estimated completion \(view.eta.map(Timestamp.day) ?? "not given")")
        }
        if let eta = fact.time("eta") { view.eta = eta }
        guard let target = Self.manufacturingTarget[code] else { return step(fact, "unknown factory code") }
        if target.rank < state.rank || state == .sinAsignar {
            return park(fact, .outOfOrder, "factory status \(code) arrived after the order was already \(state.rawValue)")
        }
        if target == state {
            // Placing the order made it factory_ordered already; the factory's confirmation is
            // still the customer's news.
            if code == "order_confirmed" && !view.notices.contains(where: { $0.template == "order_confirmed" }) {
                notice("order_confirmed", fact, ["eta": view.eta.map(Timestamp.day) ?? ""])
                return step(fact, "order confirmed by the factory")
            }
            return step(fact, "repeated factory status")
        }
        if target == .awaitingFinalPayment { return openFinalPaymentWindow(fact, "available at the dealership") }
        move(to: target, at: fact.occurredAt)
        if let template = Self.manufacturingNotice[code] { notice(template, fact, ["eta": view.eta.map(Timestamp.day) ?? ""]) }
        step(fact, code.replacingOccurrences(of: "_", with: " "))
    }

    /// The vehicle is at the dealership (from the factory, or from stock once its señal is
    /// paid): the customer is told, and the final payment is due within the country's window.
    mutating func openFinalPaymentWindow(_ fact: Fact, _ what: String) {
        move(to: .awaitingFinalPayment, at: fact.occurredAt)
        let days = policies.finalPaymentWindowDays(country: view.country)
        view.finalPaymentDueAt = fact.occurredAt.addingTimeInterval(Double(days) * 86400)
        notice(
            "available_at_dealership", fact, sms: true,
            [
                "dealer_code": view.dealerCode ?? "", "final_payment_due_at": view.finalPaymentDueAt.map(Timestamp.iso) ?? "",
                "amount_due": Money.format(max(0, Money.difference(view.totalMinor, view.receivedMinor)), view.currency),
            ])
        if view.receivedMinor >= view.totalMinor {
            move(to: .fullyPaid, at: fact.occurredAt)
            return step(fact, "\(what), already paid in full")
        }
        step(fact, "\(what); final payment due within \(days) days")
    }

    mutating func applyCarrier(_ fact: Fact, _ state: OrderState) {
        let event = fact.string("event") ?? ""
        if let vin = fact.string("vin"), view.vin == nil { view.vin = vin }
        if event == "pickup_factory" || event == "arrived_dealership" {
            if state < .reserved || state == .cancelled {
                return park(fact, .guardViolation, "transport event \(event) for an order without a paid reservation")
            }
            return step(fact, "transport to the dealership: \(event.replacingOccurrences(of: "_", with: " "))")
        }
        if state < .registered || state == .sinAsignar || state == .cancelled {
            let why = state < .fullyPaid || state == .sinAsignar || state == .cancelled ? "not fully paid" : "not registered"
            return park(fact, .guardViolation, "carrier event \(event) for an order \(why) (state \(state.rawValue))")
        }
        let dealer = ["dealer_code": view.dealerCode ?? ""]
        switch (event, state) {
        case ("pickup_dealership", .registered), ("out_for_delivery", .registered),
            ("out_for_delivery", .returnedToDealership), ("pickup_dealership", .returnedToDealership):
            move(to: .inTransit, at: fact.occurredAt)
            notice("out_for_delivery", fact)
            step(fact, "out for delivery")
        case ("delivered", .inTransit), ("delivered", .registered):
            move(to: .delivered, at: fact.occurredAt)
            notice("delivered", fact)
            step(fact, "delivered at home")
        case ("delivery_failed_absent", .inTransit):
            move(to: .returnedToDealership, at: fact.occurredAt)
            // Where to collect it: the notify action adds the dealership's address.
            notice("delivery_failed", fact, sms: true, dealer)
            step(fact, "customer absent: vehicle goes back to the dealership")
        case ("returned_to_dealership", .inTransit), ("returned_to_dealership", .returnedToDealership):
            let first = state == .inTransit
            move(to: .returnedToDealership, at: fact.occurredAt)
            if first || !view.notices.contains(where: { $0.template == "ready_for_collection" }) {
                notice("ready_for_collection", fact, dealer)
            }
            step(fact, "back at the dealership, waiting for collection")
        case ("collected_by_customer", .returnedToDealership), ("collected_by_customer", .registered):
            move(to: .delivered, at: fact.occurredAt)
            notice("delivered", fact)
            step(fact, "collected by the customer at the dealership")
        case (_, .inTransit) where event == "out_for_delivery" || event == "pickup_dealership":
            step(fact, "repeated transport event")
        default:
            park(fact, .outOfOrder, "carrier event \(event) does not fit state \(state.rawValue)")
        }
    }

    mutating func applyLink(_ fact: Fact, _ state: OrderState) {
        switch fact.string("event") ?? "" {
        case "linked":
            if state == .delivered {
                move(to: .operational, at: fact.occurredAt)
                notice("vehicle_linked", fact)
                step(fact, "app linked: vehicle operational")
            } else if state == .operational {
                step(fact, "app already linked")
            } else {
                park(fact, .outOfOrder, "app linked before handover (state \(state.rawValue))")
            }
        case "link_failed":
            view.linkFailures += 1
            step(fact, "app link failed; does not block delivery, can be completed later")
        default:
            if state == .operational {
                move(to: .delivered, at: fact.occurredAt)
                step(fact, "app unlinked")
            } else {
                step(fact, "app unlinked (no state change)")
            }
        }
    }
}

/// Money display for notes and reports; amounts stay integer minor units everywhere else.
public enum Money {
    /// The amounts a partner may send, in minor units: from one cent to ten billion (10^12 minor
    /// units). Money in is never zero or negative (a refund or a chargeback is an event of its own,
    /// with a positive amount), and no car costs more; anything else is a mistake or an attack,
    /// refused at ingest naming the field and these bounds.
    public static let plausibleMinor: ClosedRange<Int64> = 1...1_000_000_000_000

    /// `a + b`, saturating instead of trapping. Plausible amounts never come near the bounds (it
    /// takes millions of payments of the largest amount); this is the proof that no sum traps.
    public static func sum(_ a: Int64, _ b: Int64) -> Int64 {
        let (r, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b < 0 ? Int64.min : Int64.max) : r
    }

    /// `a - b`, saturating instead of trapping.
    public static func difference(_ a: Int64, _ b: Int64) -> Int64 {
        let (r, overflow) = a.subtractingReportingOverflow(b)
        return overflow ? (b > 0 ? Int64.min : Int64.max) : r
    }

    public static func format(_ minor: Int64, _ currency: String?) -> String {
        let sign = minor < 0 ? "-" : ""
        let m = minor.magnitude  // abs(Int64.min) would trap
        let cents = m % 100
        let amount = "\(sign)\(m / 100).\(cents < 10 ? "0" : "")\(cents)"
        // orders.csv formats three amounts for every order: no Foundation trimming per call.
        guard let currency, !currency.isEmpty else { return amount }
        return amount + " " + currency
    }
}

/// How a payment that no order can take is described to finance: amount, currency, date and the
/// bank's or provider's reference, never the payer's name or account (a mapping does not even
/// read them).
public enum UnplacedMoney {
    public static func describe(_ payment: Fact) -> String {
        let amount = Money.format(payment.int("amount_minor") ?? 0, payment.string("currency"))
        let verb =
            switch payment.string("event") {
            case "refunded"?: "refunded"
            case "chargeback"?: "charged back"
            default: "received"
            }
        return "\(amount) \(verb) on \(Timestamp.day(payment.occurredAt))"
            + (payment.string("payment_id").map { " (reference \($0))" } ?? "")
    }
}
