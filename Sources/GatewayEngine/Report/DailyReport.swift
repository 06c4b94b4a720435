import Foundation
import GatewayCore
import GatewayFormats
import GatewayStore

/// The day's report (schema `caas-gateway/report/v2`): every run whose as-of time falls on the
/// day, what they saw and did, the state of every order now, and the exceptions the
/// reconciliation rules found, each with its owner. Documented in docs/report-schema.md.
public struct DailyReport: Codable, Sendable, Equatable {
    public static let schema = "caas-gateway/report/v2"

    public struct Run: Codable, Sendable, Equatable {
        public let id, command: String
        /// `ok`, `attention`, `endpoint_failed`, `failed`, `interrupted`; for the run writing the
        /// report, its status as of writing it (the push that follows shows in the next report).
        public internal(set) var status: String
        public let asOf, startedAt: String
        @Nullable public var finishedAt: String?
        /// The runner that ran it (several share a PostgreSQL store); null for runs of versions
        /// that did not record it.
        @Nullable public var runner: String?
    }

    public struct FileRow: Codable, Sendable, Equatable {
        public let name: String
        @Nullable public var feed: String?
        public let outcome: String
        @Nullable public var detail: String?
        @Nullable public var records: Int?
        @Nullable public var accepted: Int?
        @Nullable public var rejected: Int?
        @Nullable public var factsNew: Int?
        public let run: String
    }

    public struct RejectionRow: Codable, Sendable, Equatable {
        public let file: String
        public let record, line: Int
        @Nullable public var field: String?
        public let reason: String
        /// The record's business reference (a sale's), when it could be read.
        @Nullable public var recordRef: String?
    }

    public struct OrderRow: Codable, Sendable, Equatable {
        public let ref: String
        @Nullable public var dealer: String?
        @Nullable public var country: String?
        public let state: String
        @Nullable public var stateSince: String?
        @Nullable public var currency: String?
        public let totalMinor, depositMinor, receivedMinor, amountDueMinor: Int64
        @Nullable public var finalPaymentDueAt: String?
        public let anomalies: Int
        @Nullable public var plate: String?
        @Nullable public var factoryOrder: String?
        /// Every fact of the order and the state after it; the page's order links lead here.
        public let timeline: [TimelineRow]
    }

    public struct TimelineRow: Codable, Sendable, Equatable {
        public let at: String
        /// The fact's kind, or `policy` for a step time caused (the final-payment window closing).
        public let event: String
        @Nullable public var stateAfter: String?
        @Nullable public var note: String?
    }

    public struct AnomalyRow: Codable, Sendable, Equatable {
        public let order: String
        public let code: String
        public let occurredAt: String
        public let firstSeenAt: String
        public let message: String
        public let fact: String
    }

    public struct Counts: Codable, Sendable, Equatable {
        public var seen = 0, ingested = 0, duplicate = 0, quarantined = 0, unrecognised = 0
    }

    public let schema: String
    public let day: String
    public let asOf: String
    /// The runner that wrote this report (one at a time, when several share a store).
    @Nullable public var writtenBy: String?
    public internal(set) var runs: [Run]
    public let files: Counts
    public let fileList: [FileRow]
    public let recordsAccepted: Int
    public let recordsRejected: Int
    public let rejections: [RejectionRow]
    public let ordersByState: [String: Int]
    /// Every known order.
    public let ordersTotal: Int
    /// Orders still moving (not operational, cancelled or stock), by days in their current state,
    /// one count per `ageBuckets` entry.
    public let openOrdersByAge: [Int]
    /// The orders that need a person, with their timelines; orders.csv lists every order.
    public let orders: [OrderRow]

    public static let ageBuckets: [(label: String, upTo: Int)] = [
        ("0-1 days", 1), ("2-3 days", 3), ("4-7 days", 7), ("8-14 days", 14), ("15-30 days", 30), ("over 30 days", Int.max),
    ]

    static func bucket(_ days: Int) -> Int { ageBuckets.firstIndex { days <= $0.upTo }! }
    public let anomalies: [AnomalyRow]
    public let actionsByStatus: [String: Int]
    /// SFTP pulls and pushes of the day, with what was refused or failed and why.
    public let transfers: [TransferRecord]
    /// Numbered partner files that never arrived (a gap in a sequence), per feed and scope.
    public let lostFiles: [SequenceGap]
    /// What a person must act on, found by the reconciliation rules: oldest first within each owner.
    public let exceptions: [ReconciliationException]
    /// Open exceptions by owner.
    public let exceptionsByOwner: [String: Int]
    /// Exceptions open after the previous run that are not any more.
    public let resolvedExceptions: [ResolvedException]

    public struct ResolvedException: Codable, Sendable, Equatable {
        public let key, rule, owner, subject: String
        public let firstSeenAt: String
    }
    /// Exceptions that opened in any run of the day (whether still open or not).
    public let newToday: [DayException]
    /// Exceptions resolved (or dismissed by an operator) in any run of the day.
    public let resolvedToday: [DayException]

    public struct DayException: Codable, Sendable, Equatable {
        public let key, rule, owner, subject: String
        /// When it opened (for `new_today`) or was resolved (for `resolved_today`), as-of time.
        public let at: String
        public let run: String
        /// `opened`, `resolved` or `dismissed`.
        public let event: String
        /// For an exception new today: still open at this run.
        public let open: Bool
    }

    /// The day's openings and resolutions, from the store's events, plus this run's own when it
    /// did not record them (a dry run). An exception that opened twice counts once.
    static func dayEvents(
        store: any GatewayStore, day: String, runID: String, open: [ReconciliationException], resolved: [TrackedException], asOf: Date,
        recorded: Bool
    ) throws -> (new: [DayException], resolved: [DayException]) {
        let start = Timestamp.parseISO(day)!
        var events = try store.exceptionEvents(from: start, to: start.addingTimeInterval(86400))
        if !recorded {
            events += open.filter(\.isNew).map {
                ExceptionEvent(
                    key: $0.key, rule: $0.rule, owner: $0.owner.rawValue, subject: $0.subject, event: "opened", at: asOf, runID: runID)
            }
            events += resolved.map {
                ExceptionEvent(key: $0.key, rule: $0.rule, owner: $0.owner, subject: $0.subject, event: "resolved", at: asOf, runID: runID)
            }
        }
        let openNow = Set(open.map(\.key))
        var new: [String: DayException] = [:]
        var gone: [String: DayException] = [:]
        for e in events {
            let row = DayException(
                key: e.key, rule: e.rule, owner: e.owner, subject: e.subject, at: Timestamp.iso(e.at), run: e.runID, event: e.event,
                open: openNow.contains(e.key))
            if e.event == "opened" {
                if new[e.key] == nil { new[e.key] = row }
            } else {
                gone[e.key] = row
            }
        }
        let order: (DayException, DayException) -> Bool = { ($0.owner, $0.at, $0.key) < ($1.owner, $1.at, $1.key) }
        return (new.values.sorted(by: order), gone.values.sorted(by: order))
    }
    /// Registrations not (yet) registered: waiting for a body's decision or an operator's plate,
    /// unsure, or rejected with the field and reason.
    public let registrations: [RegistrationRow]

    public struct RegistrationRow: Codable, Sendable, Equatable {
        public let order: String
        public let country: String
        public let submissionId: String
        public let phase: String
        @Nullable public var field: String?
        @Nullable public var reason: String?
        public let since: String
    }

    /// `track` remembers the exceptions for the next run's new/resolved; a dry run does not.
    static func build(
        store: any GatewayStore, day: String, asOf: Date, runID: String, rules: ReconciliationConfig, feeds: [FeedMapping],
        track: Bool, inboxProblems: [InboxProblem] = []
    ) throws -> DailyReport {
        let runs = try store.runs(onDay: day)
        let sightings = try store.sightings(runIDs: runs.map(\.id))
        var counts = Counts()
        var fileList: [FileRow] = []
        var rejections: [RejectionRow] = []
        var accepted = 0, rejected = 0
        var input = Reconciliation.Input()
        input.classify(feeds)
        for s in sightings {
            counts.seen += 1
            var c: IngestCounts?
            switch s.outcome {
            case .ingested:
                counts.ingested += 1
                c = try store.ledgerEntry(hash: s.hash)?.counts
                accepted += c?.accepted ?? 0
                rejected += c?.rejected ?? 0
                rejections += try store.rejections(fileHash: s.hash).map {
                    RejectionRow(
                        file: s.name, record: $0.record, line: $0.line, field: $0.field, reason: $0.reason, recordRef: $0.recordRef)
                }
            case .duplicate: counts.duplicate += 1
            case .quarantined: counts.quarantined += 1
            case .unrecognised: counts.unrecognised += 1
            }
            fileList.append(
                FileRow(
                    name: s.name, feed: s.feed, outcome: s.outcome.rawValue, detail: s.detail, records: c?.records,
                    accepted: c?.accepted, rejected: c?.rejected, factsNew: c?.factsNew, run: s.runID))
        }
        // Only the orders that had exceptions or reached a rule's threshold (every fold reviews its
        // orders): the rest have nothing to show but their counts, which the store's columns give,
        // and their timelines are in their expedientes and `caas-gateway explain`. Never every order.
        let views = try store.ordersForReview(asOf: asOf)
        var byState: [String: Int] = [:]
        var openByAge = Array(repeating: 0, count: ageBuckets.count)
        for a in try store.stateAges(asOf: asOf) {
            byState[a.state, default: 0] += a.count
            if let st = OrderState(rawValue: a.state), !st.isTerminal { openByAge[Self.bucket(a.days)] += a.count }
        }
        var orders: [OrderRow] = []
        var anomalies: [AnomalyRow] = []
        for s in try store.anomalies() {
            anomalies.append(
                AnomalyRow(
                    order: s.orderRef, code: s.anomaly.code.rawValue, occurredAt: Timestamp.iso(s.anomaly.occurredAt),
                    firstSeenAt: Timestamp.iso(s.firstSeenAt), message: s.anomaly.message, fact: s.anomaly.factID))
        }
        var reviews: [String: OrderReview] = [:]
        // The orders' own rules, once per order: their findings are the report's order exceptions.
        var orderExceptions: [ReconciliationException] = []
        for v in views {
            let r = Reconciliation.review(v, config: rules, asOf: asOf)
            reviews[v.ref] = OrderReview(nextAt: r.nextChange, flagged: !r.exceptions.isEmpty)
            orderExceptions += r.exceptions
            guard let state = v.state, !r.exceptions.isEmpty else { continue }
            orders.append(
                OrderRow(
                    ref: v.ref, dealer: v.dealerCode, country: v.country, state: state.rawValue,
                    stateSince: v.stateSince.map(Timestamp.iso), currency: v.currency, totalMinor: v.totalMinor,
                    depositMinor: v.depositMinor, receivedMinor: v.receivedMinor, amountDueMinor: v.amountDueMinor,
                    finalPaymentDueAt: v.finalPaymentDueAt.map(Timestamp.iso), anomalies: v.anomalies.count, plate: v.plate,
                    factoryOrder: v.factoryOrder,
                    timeline: v.timeline.map {
                        TimelineRow(
                            at: Timestamp.iso($0.occurredAt), event: $0.kind?.rawValue ?? "policy", stateAfter: $0.stateAfter?.rawValue,
                            note: $0.note)
                    }))
        }
        let actions = Dictionary(uniqueKeysWithValues: try store.actionCounts().map { ($0.key.rawValue, $0.value) })
        input.failedActions = try store.actions(status: .failed)
        input.unplacedPayments = try store.unplacedPayments()
        let transfers = try store.transfers(runIDs: runs.map(\.id))
        let registrations = try store.unfinishedRegistrations()
        input.registrations = registrations
        input.lostFiles = try store.sequenceGaps()
        input.failedTransfers = transfers.filter { $0.outcome == .refused || $0.outcome == .failed }
        input.feedArrivals = try store.feedArrivals()
        input.fileProblems = try store.fileProblems()
        input.inboxProblems = inboxProblems
        input.setAsideOrders = try store.setAsideItems().filter { $0.kind == .order }
        // What each order's review found now, and when to look at it again.
        if track { try store.saveReviews(reviews) }
        var (open, resolved) = try Reconciliation.track(
            Reconciliation.ordered(orderExceptions + Reconciliation.evaluate(input, config: rules, asOf: asOf)), store: store, runID: runID,
            at: asOf, persist: track)
        for i in open.indices { open[i].isNewToday = open[i].firstSeenAt.map { $0.hasPrefix(day) } ?? true }
        let today = try dayEvents(store: store, day: day, runID: runID, open: open, resolved: resolved, asOf: asOf, recorded: track)
        return DailyReport(
            schema: schema, day: day, asOf: Timestamp.iso(asOf), writtenBy: runs.first { $0.id == runID }?.runner,
            runs: runs.map {
                Run(
                    id: $0.id, command: $0.command, status: $0.status, asOf: Timestamp.iso($0.asOf),
                    startedAt: Timestamp.iso($0.startedAt), finishedAt: $0.finishedAt.map(Timestamp.iso), runner: $0.runner)
            },
            files: counts, fileList: fileList, recordsAccepted: accepted, recordsRejected: rejected, rejections: rejections,
            ordersByState: byState, ordersTotal: byState.values.reduce(0, +), openOrdersByAge: openByAge, orders: orders,
            anomalies: anomalies, actionsByStatus: actions,
            transfers: transfers, lostFiles: input.lostFiles, exceptions: open,
            exceptionsByOwner: open.reduce(into: [:]) { $0[$1.owner.rawValue, default: 0] += 1 },
            resolvedExceptions: resolved.map {
                ResolvedException(
                    key: $0.key, rule: $0.rule, owner: $0.owner, subject: $0.subject, firstSeenAt: Timestamp.iso($0.firstSeenAt))
            }, newToday: today.new, resolvedToday: today.resolved,
            registrations: registrations.filter { $0.phase != .registered }.map {
                RegistrationRow(
                    order: $0.orderRef, country: $0.country, submissionId: $0.submissionID, phase: $0.phase.rawValue, field: $0.field,
                    reason: $0.reason, since: Timestamp.iso($0.acceptedAt ?? $0.updatedAt))
            })
    }
}
