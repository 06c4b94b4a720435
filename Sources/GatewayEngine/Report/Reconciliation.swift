import Foundation
import GatewayCore
import GatewayFormats
import GatewayStore

/// Who acts on an exception.
public enum ExceptionOwner: String, Codable, Sendable, CaseIterable {
    /// Talks to the customer: señal, collection, stock, wrong customer data.
    case dealership
    /// Money: underpaid, duplicate, unmatched and returned payments, final payments.
    case finance
    /// The vehicle's journey: factory progress, the carrier.
    case logistics
    /// The gateway and the partners' feeds: lost, broken or silent files, failed calls.
    case integration
}

/// One thing a person must act on, as the reconciliation rules found it at the as-of time.
public struct ReconciliationException: Codable, Sendable, Equatable {
    /// `<rule>:<subject>`: the same problem has the same key on every run.
    public let key: String
    public let rule: String
    public let owner: ExceptionOwner
    /// The order it concerns, if it concerns one.
    @Nullable public var order: String?
    /// The order, file, feed or submission it is about.
    public let subject: String
    /// When the condition began (the state was entered, the payment arrived, the feed went quiet).
    public internal(set) var since: String
    public internal(set) var ageDays: Int
    public let detail: String
    /// What the owner should do.
    public let todo: String
    /// Not open at the end of the previous run.
    public internal(set) var isNew = true
    /// First seen by a run of the report's day (not only by the last run).
    public internal(set) var isNewToday = true
    @Nullable public internal(set) var firstSeenAt: String?
}

/// The rules that turn the gateway's state into exceptions. Pure: the same input and as-of time
/// give the same exceptions, which is what the tests pin down rule by rule.
public enum Reconciliation {
    public struct Input {
        public var views: [OrderView] = []
        public var registrations: [RegistrationRecord] = []
        public var failedActions: [ActionRecord] = []
        public var lostFiles: [SequenceGap] = []
        public var fileProblems: [ProblemFile] = []
        /// What lies in the inbox and cannot be taken (left in place): shown while it stays.
        public var inboxProblems: [InboxProblem] = []
        public var failedTransfers: [TransferRecord] = []
        public var feedArrivals: [String: [Date]] = [:]
        /// Feeds whose records are money: a rejected record there is a payment nobody can match.
        public var paymentFeeds: Set<String> = []
        /// Dealership sales feeds: a rejected record there is a sale that does not exist for us
        /// until the dealership corrects it.
        public var salesFeeds: Set<String> = []
        /// Payments that name no sale we can read.
        public var unplacedPayments: [Fact] = []
        /// Orders whose fold killed a run, left alone until an operator brings them back.
        public var setAsideOrders: [SetAsideItem] = []
        public init() {}

        /// Which feeds are money and which are sales, as their mappings say (a payment fact; a
        /// dealership source), so a new partner's mapping needs no change here.
        public mutating func classify(_ mappings: [FeedMapping]) {
            paymentFeeds = Set(mappings.filter { $0.rules.contains { $0.kind == .payment } }.map(\.feed))
            salesFeeds = Set(mappings.filter(\.isDealershipSource).map(\.feed))
        }
    }

    /// The page's order: by owner, oldest first, then by key.
    static func ordered(_ list: [ReconciliationException]) -> [ReconciliationException] {
        list.sorted { ($0.owner.rawValue, -$0.ageDays, $0.key) < ($1.owner.rawValue, -$1.ageDays, $1.key) }
    }

    /// Exceptions as they are found, with their age at the as-of time.
    struct Findings {
        let asOf: Date
        var list: [ReconciliationException] = []
        /// The next time a rule's answer changes by time alone (a threshold crossed), among the
        /// thresholds the rules compared with: until then, only a new fact can change the findings.
        var nextChange: Date?

        /// Whether the as-of time is past `t`; `t` is remembered as a time the answer changes.
        mutating func after(_ t: Date) -> Bool {
            watch(t)
            return asOf > t
        }

        /// Whether the as-of time is `t` or later; `t` is remembered likewise.
        mutating func reached(_ t: Date) -> Bool {
            watch(t)
            return asOf >= t
        }

        /// Whether the as-of time is at or before `t`; `t` is remembered likewise.
        mutating func through(_ t: Date) -> Bool {
            watch(t)
            return asOf <= t
        }

        private mutating func watch(_ t: Date) {
            if t >= asOf, nextChange.map({ t < $0 }) ?? true { nextChange = t }
        }

        mutating func add(
            _ rule: String, _ owner: ExceptionOwner, order: String?, subject: String? = nil, key: String? = nil, since: Date,
            _ detail: String, todo: String
        ) {
            let subject = subject ?? order ?? "-"
            list.append(
                ReconciliationException(
                    key: "\(rule):\(key ?? subject)", rule: rule, owner: owner, order: order, subject: subject, since: Timestamp.iso(since),
                    ageDays: max(0, Int(asOf.timeIntervalSince(since) / 86400)), detail: detail, todo: todo))
        }
    }

    /// What the rules find about one order at `asOf`, and the next time that could change
    /// without a new fact. The fold stores both, so a report reads only the orders that have
    /// exceptions or reached such a time, never every order.
    public static func review(_ v: OrderView, config c: ReconciliationConfig, asOf: Date) -> (
        exceptions: [ReconciliationException], nextChange: Date?
    ) {
        var f = Findings(asOf: asOf)
        orderRules(v, c, into: &f)
        for a in v.anomalies { anomalyRule(a, v, into: &f) }
        return (f.list, f.nextChange)
    }

    public static func evaluate(_ input: Input, config c: ReconciliationConfig, asOf: Date) -> [ReconciliationException] {
        var f = Findings(asOf: asOf)
        for v in input.views.sorted(by: { $0.ref < $1.ref }) {
            orderRules(v, c, into: &f)
            for a in v.anomalies { anomalyRule(a, v, into: &f) }
        }
        for r in input.registrations { registrationRule(r, c, into: &f) }
        for a in input.failedActions {
            f.add(
                "action_failed", .integration, order: a.orderRef, key: a.key, since: f.asOf,
                "\(a.kind.rawValue) gave up after \(a.attempts) attempt(s): \(a.lastError ?? "no reason recorded")",
                todo:
                    "fix the cause (the partner's words are in the detail), then caas-gateway retry \(a.key) --note WHY (or retry --failed --kind \(a.kind.rawValue))"
            )
        }
        for p in input.unplacedPayments {
            // Open until finance places or returns it and dismisses it with a note: such money has
            // no sale that could arrive to take it.
            let source = p.provenance.mapping ?? "a payment feed"
            f.add(
                "payment_unmatched", .finance, order: nil,
                subject: "\(source) \(p.string("payment_id") ?? p.id)", key: p.id, since: p.occurredAt,
                "\(UnplacedMoney.describe(p)) names no sale we know\(p.provenance.fileName.map { " (\($0), record \(p.provenance.record ?? 0))" } ?? "")",
                todo:
                    "find the sale (ask the bank or provider for the payer's details), then have the customer pay quoting it or return the money; once handled: caas-gateway exceptions dismiss payment_unmatched:\(p.id) --note HOW"
            )
        }
        for g in input.lostFiles {
            f.add(
                "file_lost", .integration, order: nil, subject: "\(g.feed) \(g.scope)",
                key: "\(g.feed):\(g.scope):\(g.missing.map(String.init).joined(separator: ","))", since: asOf,
                "files numbered \(g.missing.map(String.init).joined(separator: ", ")) never arrived",
                todo: "ask the partner to send them again; they are taken in whenever they come")
        }
        for o in input.setAsideOrders {
            f.add(
                "fold_failed", .integration, order: o.name, key: o.key, since: o.at,
                "the gateway died (\(CrashIsolation.describe(signal: o.signal))) at stage \(o.stage) of this order in run \(o.runID)\(o.deaths > 1 ? ", \(o.deaths) times" : ""); "
                    + "it is set aside: its facts are still taken in, but its state is not updated and nothing is done for it",
                todo:
                    "report it with that run's log (the crash and its backtrace are there); once a caas-gateway release handles it: caas-gateway retry fold:\(o.key) --note WHY, and the next run folds it again"
            )
        }
        for p in input.inboxProblems {
            f.add(
                "inbox_entry_unreadable", .integration, order: nil, subject: p.relativePath, key: "inbox:" + p.relativePath, since: asOf,
                "inbox/\(p.relativePath) is \(p.reason); it is left where it is and was not taken in",
                todo: "make it a readable file for the gateway's user (or move it out of inbox/); the next run takes it in")
        }
        for p in input.fileProblems {
            if let why = p.quarantineReason {
                f.add(
                    "file_refused", .integration, order: nil, subject: p.name, key: p.hash, since: p.arrivedAt, why,
                    todo:
                        "the file is kept whole in var/quarantine: ask \(p.feed == "unrecognised" ? "who sent it" : "the partner") for a complete, corrected file"
                )
                continue
            }
            let (rule, owner, todo): (String, ExceptionOwner, String) =
                input.paymentFeeds.contains(p.feed)
                ? ("payment_unmatched", .finance, "find the sale this money belongs to (rejections.csv lists every line)")
                : input.salesFeeds.contains(p.feed)
                    ? ("sale_rejected", .dealership, "correct the sale in the dealership's system; its next export brings it in")
                    : ("records_rejected", .integration, "correct the data with the partner; the rest of the file was taken in")
            let first =
                p.firstRejection.map {
                    " first at line \($0.line)\($0.recordRef.map { " (\($0))" } ?? "")\($0.field.map { ", field \($0)" } ?? ""): \($0.reason)"
                } ?? ""
            f.add(
                rule, owner, order: nil, subject: p.name, key: p.hash, since: p.arrivedAt, "\(p.rejected) record(s) rejected;" + first,
                todo: todo)
        }
        // Every run of the day logs the same refusal again: one exception per rule and subject,
        // since the first time, with the latest detail.
        var transfers: [String: (first: TransferRecord, last: TransferRecord)] = [:]
        var transferOrder: [String] = []
        for t in input.failedTransfers {
            let key = "\(t.direction)_\(t.outcome.rawValue)\u{1F}\(t.endpoint)\u{1F}\(t.name ?? "")"
            if let seen = transfers[key] {
                transfers[key] = (t.at < seen.first.at ? t : seen.first, t.at >= seen.last.at ? t : seen.last)
            } else {
                transfers[key] = (t, t)
                transferOrder.append(key)
            }
        }
        for key in transferOrder {
            let (first, t) = transfers[key]!
            f.add(
                "\(t.direction)_\(t.outcome.rawValue)", .integration, order: nil,
                subject: t.name.map { "\(t.endpoint): \($0)" } ?? t.endpoint,
                since: first.at, t.detail ?? "no detail", todo: "check the server, its host key and credentials; the next run tries again")
        }
        for (feed, arrivals) in input.feedArrivals.sorted(by: { $0.key < $1.key }) {
            guard let limit = silenceLimit(feed: feed, arrivals: arrivals, c), let last = arrivals.last,
                asOf.timeIntervalSince(last) > TimeInterval(limit) * 86400
            else { continue }
            f.add(
                "feed_silent", .integration, order: nil, subject: feed, since: last,
                "nothing since \(Timestamp.day(last)); it usually sends at least every \(limit) day(s)",
                todo: "check the SFTP source and ask the partner whether files are being sent")
        }
        return ordered(f.list)
    }

    static func orderRules(_ v: OrderView, _ c: ReconciliationConfig, into f: inout Findings) {
        guard let state = v.state, let since = v.stateSince else { return }
        let asOf = f.asOf
        let age = asOf.timeIntervalSince(since)
        let day: TimeInterval = 86400
        func rule(_ name: String, _ owner: ExceptionOwner, since: Date = since, _ detail: String, _ todo: String) {
            f.add(name, owner, order: v.ref, since: since, detail, todo: todo)
        }
        let money = { (m: Int64) in Money.format(m, v.currency) }
        // A payment the provider has not decided for too long: not money, and nobody knows yet.
        for (id, reported) in (v.pendingPayments ?? [:]).sorted(by: { $0.key < $1.key })
        where f.after(reported + TimeInterval(c.paymentPendingHours) * 3600) {
            f.add(
                "payment_pending", .finance, order: v.ref, key: "payment_pending:\(v.ref):\(id)", since: reported,
                "the provider reports payment \(id) PENDING since \(Timestamp.day(reported)); it is not counted as money",
                todo: "ask the provider for the payment's status; a capture or refusal in its next settlement report settles it")
        }
        switch state {
        case .saleRegistered, .awaitingReservation:
            if v.receivedMinor > 0, v.receivedMinor < v.depositMinor {
                rule(
                    "reservation_underpaid", .finance,
                    "\(money(v.receivedMinor)) received of a \(money(v.depositMinor)) señal",
                    "ask the customer for the missing \(money(Money.difference(v.depositMinor, v.receivedMinor)))")
            } else if v.receivedMinor == 0, f.after(since + TimeInterval(c.reservationUnpaidDays) * day) {
                rule(
                    "reservation_unpaid", .dealership, "no señal \(Int(age / day)) day(s) after the sale",
                    "call the customer; withdraw the sale in the intranet if they changed their mind")
            }
        case .reserved:
            if v.factoryOrder == nil, f.after(since + TimeInterval(c.factoryOrderMissingHours) * 3600) {
                rule(
                    "factory_order_missing", .integration, "reservation paid \(Int(age / 3600)) hour(s) ago and no factory order",
                    "see the place_factory_order action in caas-gateway explain \(v.ref); factory orders are never placed by hand")
            }
        case .factoryOrdered, .inProduction, .qualityControl, .readyToShip, .shippedToDealership:
            let lastWord =
                v.timeline.filter { $0.kind == .manufacturingEvent || $0.kind == .factoryOrderPlaced }.map(\.occurredAt).max() ?? since
            let quiet = asOf.timeIntervalSince(lastWord)
            if f.after(lastWord + TimeInterval(c.factorySilentDays) * day) {
                rule(
                    "factory_silent", .logistics, since: lastWord,
                    "\(v.factoryOrder ?? "the factory order") (\(v.plant ?? "plant unknown")): no status for \(Int(quiet / day)) day(s), last \(state.rawValue)",
                    "ask the plant for the order's status and date")
            }
        case .awaitingFinalPayment:
            guard let due = v.finalPaymentDueAt else { break }
            if f.after(due) {
                rule(
                    "final_payment_overdue", .finance, since: due, "\(money(v.amountDueMinor)) was due \(Timestamp.day(due))",
                    "the window has closed: check why the vehicle was not released to stock")
            } else if f.reached(due - TimeInterval(c.finalPaymentDueSoonDays) * day) {
                rule(
                    "final_payment_due_soon", .finance, "\(money(v.amountDueMinor)) due by \(Timestamp.iso(due))",
                    "remind the customer: unpaid at the deadline, the vehicle goes to stock and the señal is kept")
            }
        case .sinAsignar:
            // Sold again from stock: nothing left for the dealership to do with this vehicle.
            if v.resoldTo == nil, f.through(since + TimeInterval(c.releasedToStockDays) * day) {
                rule(
                    "released_to_stock", .dealership,
                    "final payment window closed unpaid; \(v.vin ?? "the vehicle") is dealership stock, the señal is kept",
                    "sell it from stock")
            }
        case .registered where v.deliveryMode == "DEALERSHIP":
            rule(
                "waiting_for_collection", .dealership, "registered \(v.plate ?? ""), at the dealership for the customer to collect",
                "agree a collection date with the customer")
        case .inTransit:
            if f.after(since + TimeInterval(c.inTransitDays) * day) {
                rule(
                    "delivery_overdue", .logistics, "out for delivery \(Int(age / day)) day(s) ago and no outcome from the carrier",
                    "ask the carrier where the vehicle is")
            }
        case .returnedToDealership:
            rule(
                "delivery_failed", .dealership, "the customer was absent; the vehicle is back at the dealership",
                "agree a collection with the customer (they were told the dealership's address)")
        case .delivered:
            if f.after(since + TimeInterval(c.notLinkedDays) * day) {
                rule(
                    "not_linked", .integration,
                    "delivered \(Int(age / day)) day(s) ago and the app is not linked"
                        + (v.linkFailures > 0 ? " (\(v.linkFailures) failed link attempt(s))" : ""),
                    "check the link authorization in outbox/iot with the IoT platform; help the customer link the app")
            }
        default: break
        }
        if v.chargebacks > 0 {
            rule("chargeback", .finance, "\(v.chargebacks) chargeback(s): the card holder's bank took money back", "contact the customer")
        }
        if v.refusedPayments > 0, state == .saleRegistered || state == .awaitingReservation || state == .awaitingFinalPayment {
            rule(
                "card_declined", .finance, "\(v.refusedPayments) card payment(s) declined; the customer may try again",
                "nothing yet; call the customer if the deadline comes close")
        }
    }

    static func anomalyRule(_ a: Anomaly, _ v: OrderView, into f: inout Findings) {
        let kind = v.timeline.first { $0.factID == a.factID }?.kind
        let (rule, owner, todo): (String, ExceptionOwner, String) =
            switch (a.code, kind) {
            case (.duplicatePayment, _): ("payment_duplicate", .finance, "refund the second payment to the customer")
            case (.unknownOrder, .payment?): ("payment_unmatched", .finance, "find the sale this money belongs to, or return it")
            case (.unknownOrder, _):
                ("unknown_order", .integration, "ask the partner which order they mean; the event applies by itself once the sale arrives")
            case (.cancelTooLate, _), (.moneyReturned, _), (.currencyMismatch, _), (.paymentNotExpected, _):
                ("payment_\(a.code.rawValue)", .finance, "check the money with the customer and refund by hand where due")
            case (.duplicateSale, _): ("duplicate_sale", .dealership, "check which sale export is right")
            case (.guardViolation, .carrierEvent?):
                ("carrier_out_of_turn", .logistics, "stop the carrier: the vehicle may not move before full payment and registration")
            default: ("order_\(a.code.rawValue)", .integration, "read the order's timeline (caas-gateway explain) and ask the partner")
            }
        f.add(rule, owner, order: v.ref, key: "\(v.ref):\(a.factID)", since: a.occurredAt, a.message, todo: todo)
    }

    static func registrationRule(_ r: RegistrationRecord, _ c: ReconciliationConfig, into f: inout Findings) {
        let since = r.acceptedAt ?? r.updatedAt
        switch r.phase {
        case .rejected:
            f.add(
                "registration_rejected", .dealership, order: r.orderRef, key: r.submissionID, since: r.updatedAt,
                "\(r.country) refused \(r.submissionID)\(r.field.map { " (field \($0))" } ?? ""): \(r.reason ?? "no reason given")",
                todo: "correct the customer's data, then caas-gateway resubmit \(r.orderRef)")
        case .sent, .accepted, .manual:
            guard f.after(since + TimeInterval(c.registrationPendingDays) * 86400) else { return }
            let todo =
                r.phase == .manual
                ? "upload outbox/registrations/\(r.country.lowercased())/\(r.submissionID), then caas-gateway registrations record \(r.orderRef) PLATE"
                : "ask \(r.country)'s body about \(r.submissionID); the gateway keeps polling"
            f.add(
                "registration_pending", .integration, order: r.orderRef, key: r.submissionID, since: since,
                "\(r.submissionID) waiting (\(r.phase.rawValue)) since \(Timestamp.day(since))", todo: todo)
        case .pending, .registered: return
        }
    }

    /// Days of silence after which a feed is an exception, or nil when it has no usual cadence.
    static func silenceLimit(feed: String, arrivals: [Date], _ c: ReconciliationConfig) -> Int? {
        if let configured = c.feedSilenceDays[feed] { return configured }
        let days = Array(Set(arrivals.map { Int($0.timeIntervalSince1970 / 86400) })).sorted()
        guard days.count >= max(2, c.silenceMinHistory) else { return nil }
        return max(c.silenceMinDays, zip(days.dropFirst(), days).map { $0 - $1 }.max()!)
    }

    /// Compares with what was open after the previous run: marks what is new, and returns what
    /// was resolved since. An exception is at least as old as its first sighting. Dismissed keys
    /// stay closed. `persist` false (a dry run) reads but remembers nothing.
    static func track(
        _ found: [ReconciliationException], store: any RunLog, runID: String, at: Date, persist: Bool
    ) throws -> (open: [ReconciliationException], resolved: [TrackedException]) {
        let before = Dictionary(try store.openExceptions().map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let dismissed = try store.dismissedExceptionKeys()
        var open = found.filter { !dismissed.contains($0.key) }
        var opened: [TrackedException] = []
        for i in open.indices {
            if let prior = before[open[i].key] {
                open[i].isNew = false
                open[i].firstSeenAt = Timestamp.iso(prior.firstSeenAt)
                if let since = Timestamp.parseISO(open[i].since), prior.firstSeenAt < since {
                    open[i].since = Timestamp.iso(prior.firstSeenAt)
                    open[i].ageDays = max(0, Int(at.timeIntervalSince(prior.firstSeenAt) / 86400))
                }
            } else {
                // Seen first by this run, if it remembers; a query or a dry run remembers nothing,
                // and the time of asking is no sighting (it would differ on every call).
                open[i].firstSeenAt = persist ? Timestamp.iso(at) : nil
                opened.append(
                    TrackedException(
                        key: open[i].key, rule: open[i].rule, owner: open[i].owner.rawValue, subject: open[i].subject, firstSeenAt: at,
                        firstSeenRun: runID))
            }
        }
        let still = Set(open.map(\.key))
        let resolved = before.values.filter { !still.contains($0.key) }.sorted { $0.key < $1.key }.map {
            var r = $0
            r.resolvedAt = at
            r.resolvedRun = runID
            return r
        }
        if persist { try store.recordExceptions(opened: opened, resolved: resolved) }
        return (ordered(open), resolved)
    }
}
