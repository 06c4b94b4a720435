import Foundation
import GatewayCore

/// What the engine keeps between runs, as one store with every capability. Each capability is
/// a small protocol of its own concern; SQLite implements them all first. The contract is
/// written so that a store shared by several runners (PostgreSQL) can implement them too:
/// - a file is claimed by its content hash inside its ingest transaction (unique row), so two
///   runners never ingest the same file;
/// - facts are idempotent by id;
/// - actions are claimed with a lease (`claimActions`), and an expired lease is taken over;
/// - projections are written per order, after folding that order's facts, and a change mark is
///   cleared by version.
public protocol GatewayStore:
    FactLedger, ProjectionStore, ActionQueue, TransferLedger, RunLog, RegistrationStore, CustomerStore, CrashLedger
{}

/// The file ledger and the fact log: what came in, once, and what it said.
public protocol FactLedger: Sendable {
    func ledgerEntry(hash: String) throws -> LedgerEntry?
    /// The ledger rows of a file by its name, or by a prefix of its SHA-256 (8 hex digits or more).
    func ledgerEntries(named nameOrHash: String) throws -> [LedgerEntry]
    /// Makes a file's ledger row `requeued`, keeping what it was (and its rejected records) in
    /// the requeue history; returns the row as it was, or nil if the ledger has no such file.
    func requeueFile(hash: String, note: String, at: Date) throws -> LedgerEntry?
    func recordSighting(_ sighting: FileSighting) throws
    func sightings(runIDs: [String]) throws -> [FileSighting]
    /// One transaction for one file: claims it by hash, lets `body` write its facts and
    /// rejections, and records its ledger row. If `body` throws, nothing of the file remains.
    func ingestFile(
        _ file: IncomingFile, runID: String, at: Date,
        _ body: (inout any FactWriter) throws -> Void
    ) throws -> IngestCounts
    func quarantine(_ file: IncomingFile, runID: String, at: Date, reason: String) throws
    func rejections(fileHash: String) throws -> [Rejection]
    /// Numbers missing between the lowest and the highest seen, per feed and scope: lost files.
    func sequenceGaps() throws -> [SequenceGap]
    /// Quarantined files not resent since, and ingested files with rejected records.
    func fileProblems() throws -> [ProblemFile]
    /// When each feed's ingested files arrived, by the as-of time of the run that took them, oldest first.
    func feedArrivals() throws -> [String: [Date]]

    func facts(orderRef: String) throws -> [Fact]
    /// The facts of several orders at once, each order's in time order.
    func facts(orderRefs: [String]) throws -> [String: [Fact]]
    /// Payments that name no sale we can read: money received (or returned) without an order.
    func unplacedPayments() throws -> [Fact]
    /// The stock vehicle a sale took, if it took one.
    func stockSale(orderRef: String) throws -> StockSale?
    /// Facts the gateway itself produced (outcomes of actions), idempotent by id.
    func appendFacts(_ facts: [Fact], runID: String) throws
}

/// Each order's folded state, its change marks and its review bookkeeping.
public protocol ProjectionStore: Sendable {
    /// The saved states of several orders at once (orders with a state only), without decoding
    /// their projections.
    func states(refs: [String]) throws -> [String: OrderState]
    /// The saved projections of several orders at once.
    func projections(refs: [String]) throws -> [String: OrderView]
    /// Orders with facts not folded yet (with their change count), plus orders with a deadline
    /// at or before `asOf`.
    func ordersToFold(asOf: Date) throws -> [OrderToFold]
    /// One transaction for a batch of folded orders: their projections and anomalies, the actions
    /// that became due (inserted once by idempotency key; returns how many were new), and their
    /// change marks, each cleared only if its count is still the one the fold read.
    @discardableResult
    func commitFold(_ views: [OrderView], reviews: [String: OrderReview], due: [DueAction], marks: [OrderToFold], at: Date) throws -> Int
    /// The orders the report's rules must look at: those with exceptions at their last review and
    /// those whose review time has come. Never every order.
    func ordersForReview(asOf: Date) throws -> [OrderView]
    /// What a review found: when to look again, and whether the order has exceptions.
    func saveReviews(_ reviews: [String: OrderReview]) throws
    /// When the rules' thresholds differ from those the stored reviews were made with, makes every
    /// order due for review and remembers the new ones. True when it did.
    func reviewAll(ifRulesChangedTo fingerprint: String) throws -> Bool
    /// Known orders by state and whole days in it: the report's counts and charts.
    func stateAges(asOf: Date) throws -> [StateAge]
    /// Grows with every fold that saved projections: what was written from them is still right
    /// while it has not changed.
    func projectionsVersion() throws -> Int64
    /// Every known order as orders.csv lists it, in reference order, one at a time.
    func forEachOrderRow(_ body: (OrderListing) throws -> Void) throws
    func projections() throws -> [OrderView]
    /// Every anomaly the last folds found, with when it was first seen.
    func anomalies() throws -> [StoredAnomaly]
    func projection(ref: String) throws -> OrderView?
    /// Runs `body` with those of `refs` that no other process is folding, held as this process's
    /// until `body` returns: two runners never fold one order at once, so neither saves a view
    /// older than the other's. An order skipped keeps its mark and is folded by whoever holds it,
    /// or by the next run.
    func foldingExclusively<T>(_ refs: [String], _ body: ([String]) throws -> T) throws -> T
}

/// The transactional outbox the fold fills: actions claimed with leases, made due again by an
/// operator, with their history.
public protocol ActionQueue: Sendable {
    /// Takes up to `limit` runnable actions of these kinds (pending and due, or in flight) that no
    /// live lease holds, leasing them to `runner` until `leaseUntil`.
    /// `orderRefs` narrows the claim to those orders' actions (the batch a fold just committed).
    func claimActions(
        kinds: [DueActionKind], orderRefs: [String]?, runner: String, now: Date, leaseUntil: Date, limit: Int
    ) throws -> [ActionRecord]
    func updateAction(_ action: ActionRecord) throws
    func actions(status: ActionStatus?) throws -> [ActionRecord]
    func actions(orderRef: String) throws -> [ActionRecord]
    func actionCounts() throws -> [ActionStatus: Int]
    /// Failed actions become pending again with a fresh attempt budget; the failure and `note`
    /// are kept in the action's history. Returns the keys made due.
    func makeDue(_ selector: ActionSelector, note: String, at: Date) throws -> [String]
    func actionEvents(key: String) throws -> [ActionEvent]
    /// What one step of an action pass wrote, in one transaction: action states, the facts of
    /// their outcomes (each marking its order changed), customers and credentials, registration
    /// records and ledger lines.
    func commitActions(_ commit: ActionCommit, runID: String) throws
}

/// The SFTP pull and push ledgers and the transfer log.
public protocol TransferLedger: Sendable {
    /// The pull ledger: a remote file, by source, path, size and mtime, once fetched.
    func pulled(source: String, remotePath: String, size: Int64, mtime: Int64) throws -> PulledFile?
    /// Records fetched files, and their transfer log entries, in one transaction.
    func recordPulls(_ files: [(file: PulledFile, transfer: TransferRecord?)]) throws
    /// Remembers how a remote file looked and returns how it looked before, for readiness rules.
    func observe(source: String, remotePath: String, size: Int64, mtime: Int64, at: Date) throws -> RemoteObservation?
    func pushed(destination: String, localPath: String, hash: String) throws -> Bool
    func recordPush(destination: String, localPath: String, hash: String, remotePath: String, at: Date) throws
    func logTransfer(_ t: TransferRecord) throws
    func transfers(runIDs: [String]) throws -> [TransferRecord]
    /// Claims remote files of one source (each by path, size and mtime) for `runID` before they
    /// are fetched, in one transaction, and returns the paths this run may fetch: not those
    /// another run's claim still holds, nor those already fetched (by a runner that took them
    /// between the listing and the claim). A claim ends at `until`, when its run ends (a file it
    /// left waiting is anyone's next time), or when its run is found dead, so a runner that died
    /// mid-download does not keep it from the others.
    func claimPulls(
        source: String, files: [(path: String, size: Int64, mtime: Int64)], runID: String, now: Date, until: Date
    ) throws -> Set<String>
}

extension TransferLedger {
    /// One file's claim (`claimPulls`).
    public func claimPull(source: String, remotePath: String, size: Int64, mtime: Int64, runID: String, now: Date, until: Date) throws
        -> Bool
    {
        try claimPulls(source: source, files: [(remotePath, size, mtime)], runID: runID, now: now, until: until).contains(remotePath)
    }
}

/// Runs, and the reconciliation exceptions they opened and resolved.
public protocol RunLog: Sendable {
    func beginRun(_ run: RunRecord) throws
    func finishRun(id: String, status: String, summaryJSON: String, finishedAt: Date) throws
    func runs(onDay day: String) throws -> [RunRecord]
    /// Runs of `runner` still marked running, other than `current`: with the runner's lock held
    /// they are dead. Marks them interrupted, frees their leases, and returns their ids.
    func interruptDeadRuns(runner: String, except current: String, at: Date) throws -> [String]

    /// Runs `body` while no other runner does the same cluster-wide `work` (the daily report and
    /// its exception bookkeeping), waiting for its turn.
    func exclusively<T>(_ work: String, _ body: () throws -> T) throws -> T

    /// Exceptions seen open by the last tracked run.
    func openExceptions() throws -> [TrackedException]
    /// Exceptions that opened (or reopened) and that were resolved, in one transaction.
    func recordExceptions(opened: [TrackedException], resolved: [TrackedException]) throws
    /// Keys an operator dismissed: never opened again.
    func dismissedExceptionKeys() throws -> Set<String>
    /// An operator closes an open exception nothing in the data can resolve; false when no open
    /// exception has the key.
    func dismissException(key: String, note: String, at: Date) throws -> Bool
    /// Openings, resolutions and dismissals between `from` (inclusive) and `to`, oldest first.
    func exceptionEvents(from: Date, to: Date) throws -> [ExceptionEvent]
}

/// Registration submissions and their ledger of attempts.
public protocol RegistrationStore: Sendable {
    func registration(orderRef: String) throws -> RegistrationRecord?
    func registrations() throws -> [RegistrationRecord]
    /// Registrations not registered yet: what the report and its rules look at.
    func unfinishedRegistrations() throws -> [RegistrationRecord]
    /// The ledger, oldest first; one order's when `orderRef` is given.
    func registrationAttempts(orderRef: String?) throws -> [RegistrationAttempt]
}

/// Customers and their activation credentials.
public protocol CustomerStore: Sendable {
    func customer(username: String) throws -> CustomerRecord?
    func credential(customerID: String) throws -> CredentialRecord?
}

/// `commitActions` wrote nothing: the customer already has credentials issued for another of
/// their orders, by another runner since this one looked. The action is to be prepared again,
/// and will find a returning customer.
public struct CustomerWelcomedElsewhere: Error, CustomStringConvertible, Sendable {
    public let customerID: String
    public let orderRef: String
    public var description: String {
        "customer \(customerID) was welcomed for another order while \(orderRef)'s credentials were being issued"
    }
}

/// What one step of an action pass writes together (`GatewayStore.commitActions`).
public struct ActionCommit: Sendable {
    public var actions: [ActionRecord] = []
    public var facts: [Fact] = []
    /// A customer (new or not) and the hash of a fresh activation token, if one was made.
    public var credentials: [(customer: CustomerRecord, credential: CredentialRecord?)] = []
    public var registrations: [RegistrationRecord] = []
    public var registrationAttempts: [RegistrationAttempt] = []

    public init() {}

    public var isEmpty: Bool {
        actions.isEmpty && facts.isEmpty && credentials.isEmpty && registrations.isEmpty && registrationAttempts.isEmpty
    }
}

extension ActionQueue {
    public func claimActions(kinds: [DueActionKind], runner: String, now: Date, leaseUntil: Date, limit: Int) throws -> [ActionRecord] {
        try claimActions(kinds: kinds, orderRefs: nil, runner: runner, now: now, leaseUntil: leaseUntil, limit: limit)
    }
}

extension ProjectionStore {
    /// A fold whose orders need no review bookkeeping (tests, operator commands).
    @discardableResult
    public func commitFold(_ views: [OrderView], due: [DueAction], marks: [OrderToFold], at: Date) throws -> Int {
        try commitFold(views, reviews: [:], due: due, marks: marks, at: at)
    }
}

/// When the reconciliation rules must look at an order again without a new fact, and whether
/// they found something last time.
public struct OrderReview: Sendable, Equatable {
    public let nextAt: Date?
    public let flagged: Bool

    public init(nextAt: Date?, flagged: Bool) {
        self.nextAt = nextAt
        self.flagged = flagged
    }
}

public struct StateAge: Sendable, Equatable {
    public let state: String
    public let days: Int
    public let count: Int
}

/// One line of orders.csv, from the store's columns.
public struct OrderListing: Sendable, Equatable {
    public let ref: String
    public let dealer, country: String?
    public let state: String
    public let stateSince: Date?
    public let currency: String?
    public let totalMinor, depositMinor, receivedMinor, amountDueMinor: Int64
    public let finalPaymentDueAt: Date?
    public let anomalies: Int
}

/// An order to fold: `version` is its change count when the fold read it (nil when only a
/// deadline brought it back).
public struct OrderToFold: Sendable, Equatable {
    public let ref: String
    public let version: Int64?

    public init(ref: String, version: Int64?) {
        self.ref = ref
        self.version = version
    }
}

/// Which failed actions to make due again.
public enum ActionSelector: Sendable, Equatable {
    case keys([String])
    /// Every failed action, or those of one kind, or of one order.
    case failed(kind: DueActionKind?, orderRef: String?)
}

/// One thing that happened to an action outside its own attempts (an operator made it due again).
public struct ActionEvent: Sendable, Equatable {
    public let key: String
    public let at: Date
    public let event: String
    public let statusBefore: String
    public let attemptsBefore: Int
    public let lastError: String?
    public let note: String?
}

public struct SequenceGap: Sendable, Equatable, Codable {
    public let feed: String
    public let scope: String
    public let missing: [Int]
}

public struct StoredAnomaly: Sendable, Equatable {
    public let orderRef: String
    public let anomaly: Anomaly
    public let firstSeenAt: Date
}

public struct PulledFile: Sendable, Equatable {
    public let source: String
    public let remotePath: String
    public let size: Int64
    public let mtime: Int64
    public let localName: String
    public let fetchedAt: Date
    /// The source's after-action (keep, move, delete) is done.
    public var afterActionDone: Bool

    public init(
        source: String, remotePath: String, size: Int64, mtime: Int64, localName: String, fetchedAt: Date,
        afterActionDone: Bool
    ) {
        self.source = source
        self.remotePath = remotePath
        self.size = size
        self.mtime = mtime
        self.localName = localName
        self.fetchedAt = fetchedAt
        self.afterActionDone = afterActionDone
    }
}

public struct RemoteObservation: Sendable, Equatable {
    public let size: Int64
    public let mtime: Int64
    /// When the file was first seen with this size and mtime.
    public let since: Date
}

/// One thing a pull or push did or refused, for the report.
public struct TransferRecord: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable, CaseIterable {
        case pulled, pushed, waiting, refused, failed
    }

    public let runID: String
    public let direction: String  // pull | push
    public let endpoint: String
    @Nullable public var name: String?
    public let outcome: Outcome
    @Nullable public var detail: String?
    public let bytes: Int64
    public let at: Date

    public init(
        runID: String, direction: String, endpoint: String, name: String?, outcome: Outcome, detail: String?, bytes: Int64 = 0,
        at: Date
    ) {
        self.runID = runID
        self.direction = direction
        self.endpoint = endpoint
        self.name = name
        self.outcome = outcome
        self.detail = detail
        self.bytes = bytes
        self.at = at
    }
}

/// Writes the facts of one file inside its transaction.
public protocol FactWriter {
    mutating func add(_ fact: Fact) throws -> FactWriteResult
    /// One rejected record, with every problem found in it.
    mutating func reject(_ problems: [Rejection]) throws
    /// One record the mapping deliberately does not turn into a fact.
    mutating func skip()
    /// The file's number in its partner's sequence, committed with the file.
    /// Records the file's number in its partner's sequence; throws `SequenceNumberTaken` when
    /// another file already holds that number.
    mutating func recordSequence(scope: String, number: Int) throws
    /// A sale takes a vehicle from dealership stock, by VIN, as the stock is at `asOf`. The claim
    /// is written with the file, so a second sale of the same VIN, in this file or a later one,
    /// finds it.
    mutating func claimStockVehicle(vin: String, for orderRef: String, saleFact: String, asOf: Date) throws -> StockClaim
    /// Takes back a claim this file made, when its sale was not applied after all.
    mutating func withdrawStockClaim(vin: String, for orderRef: String) throws
}

/// The answer to a sale that names a stock vehicle.
public enum StockClaim: Sendable, Equatable {
    /// The vehicle was stock; `releasedBy` is the order whose window closed unpaid.
    case claimed(releasedBy: String)
    /// The same sale claimed it before (its file read again).
    case alreadyClaimed(releasedBy: String)
    /// Another sale from stock holds it.
    case soldTo(String)
    /// Not stock: `holder` is still buying it (in `state`, its window closing at
    /// `windowClosesAt`), or no order of ours ever had this vehicle (`holder` nil).
    case notInStock(holder: String?, state: OrderState?, windowClosesAt: Date?)
}

/// An order that holds or held a VIN, as the store knows it when a sale names the vehicle.
public struct StockHolder: Sendable {
    public let ref: String
    /// nil: a sale that claimed the vehicle in this run and is not folded yet.
    public let state: OrderState?
    /// The order is itself a sale from stock.
    public let isStockSale: Bool
    public let windowClosesAt: Date?

    public init(ref: String, state: OrderState?, isStockSale: Bool, windowClosesAt: Date?) {
        self.ref = ref
        self.state = state
        self.isStockSale = isStockSale
        self.windowClosesAt = windowClosesAt
    }

    /// The window closed unpaid (folded already, or closing by the as-of time the fold will use).
    func releasedUnpaid(asOf: Date) -> Bool {
        state == .sinAsignar || (state == .awaitingFinalPayment && windowClosesAt.map { asOf > $0 } ?? false)
    }

    /// No longer holding the vehicle: released unpaid, or a sale from stock withdrawn before its señal.
    func letGo(asOf: Date) -> Bool { releasedUnpaid(asOf: asOf) || state == .cancelled }

    /// Stock when an order released it and nobody holds it now; the vehicle comes from the order
    /// that released it last (a sale from stock whose own window closed releases it again).
    public static func decide(_ holders: [StockHolder], asOf: Date) -> StockClaim {
        if let live = holders.first(where: { !$0.letGo(asOf: asOf) }) {
            return live.isStockSale
                ? .soldTo(live.ref) : .notInStock(holder: live.ref, state: live.state, windowClosesAt: live.windowClosesAt)
        }
        let released = holders.filter { $0.releasedUnpaid(asOf: asOf) }
        guard let last = released.max(by: { ($0.windowClosesAt ?? .distantPast, $0.ref) < ($1.windowClosesAt ?? .distantPast, $1.ref) })
        else { return .notInStock(holder: nil, state: nil, windowClosesAt: nil) }
        return .claimed(releasedBy: last.ref)
    }
}

/// A sale that took a vehicle from dealership stock.
public struct StockSale: Sendable, Equatable, Codable {
    public let vin: String
    public let orderRef: String
    public let releasedBy: String
    public let claimedAt: Date
}

public enum FactWriteResult: Sendable, Equatable {
    case inserted
    /// The same fact, already in the log.
    case known
    /// Same id, different content: the first version stands. Carries the file that brought it.
    case conflicting(firstFile: String)
}

public struct IncomingFile: Sendable, Hashable {
    public let hash: String
    public let name: String
    public let feed: String
    public let size: Int64

    public init(hash: String, name: String, feed: String, size: Int64) {
        self.hash = hash
        self.name = name
        self.feed = feed
        self.size = size
    }
}

public struct IngestCounts: Sendable, Equatable, Codable {
    public var records = 0
    public var accepted = 0
    public var rejected = 0
    /// Records the mapping deliberately skips (debits on a statement of credits, for instance).
    public var skipped = 0

    enum CodingKeys: String, CodingKey {
        case records, accepted, rejected, skipped, factsNew, factsKnown, factsConflicting
    }

    /// Ledger rows written before a count existed read it as zero.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        records = try c.decodeIfPresent(Int.self, forKey: .records) ?? 0
        accepted = try c.decodeIfPresent(Int.self, forKey: .accepted) ?? 0
        rejected = try c.decodeIfPresent(Int.self, forKey: .rejected) ?? 0
        skipped = try c.decodeIfPresent(Int.self, forKey: .skipped) ?? 0
        factsNew = try c.decodeIfPresent(Int.self, forKey: .factsNew) ?? 0
        factsKnown = try c.decodeIfPresent(Int.self, forKey: .factsKnown) ?? 0
        factsConflicting = try c.decodeIfPresent(Int.self, forKey: .factsConflicting) ?? 0
    }
    public var factsNew = 0
    public var factsKnown = 0
    public var factsConflicting = 0

    public init() {}
}

public enum FileStatus: String, Sendable, Codable, CaseIterable {
    case ingested, quarantined
    /// Sent back to the inbox by an operator: the same bytes are taken in again, once.
    case requeued
}

public struct LedgerEntry: Sendable, Equatable {
    public let hash: String
    public let feed: String
    public let name: String
    public let status: FileStatus
    public let counts: IngestCounts
    public let reason: String?
    public let runID: String
    public let at: Date
}

/// Every time a file is seen, whatever became of it: the report counts these.
public struct FileSighting: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable, CaseIterable {
        case ingested, duplicate, quarantined, unrecognised
    }

    public let runID: String
    public let hash: String
    public let name: String
    public let feed: String?
    public let outcome: Outcome
    public let detail: String?
    public let at: Date

    public init(runID: String, hash: String, name: String, feed: String?, outcome: Outcome, detail: String?, at: Date) {
        self.runID = runID
        self.hash = hash
        self.name = name
        self.feed = feed
        self.outcome = outcome
        self.detail = detail
        self.at = at
    }
}

public struct RunRecord: Sendable, Equatable {
    public let id: String
    public let command: String
    public let asOf: Date
    public let startedAt: Date
    public var finishedAt: Date?
    public var status: String
    public var summaryJSON: String?
    /// The runner (host) that started it.
    public var runner: String?

    public init(
        id: String, command: String, asOf: Date, startedAt: Date, finishedAt: Date? = nil, status: String = "running",
        summaryJSON: String? = nil, runner: String? = nil
    ) {
        self.runner = runner
        self.id = id
        self.command = command
        self.asOf = asOf
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.summaryJSON = summaryJSON
    }
}

public enum ActionStatus: String, Sendable, Codable, CaseIterable {
    /// Waiting to run (again, once `nextAttemptAt` has passed).
    case pending
    /// Leased by a runner; side effects may have started. Recovery decides what happened.
    case inFlight = "in_flight"
    case done
    /// Given up: needs a person.
    case failed
}

public struct ActionRecord: Sendable, Equatable {
    public let key: String
    public let orderRef: String
    public let kind: DueActionKind
    public var status: ActionStatus
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var leaseOwner: String?
    public var leaseUntil: Date?
    public var lastError: String?
    /// The outbox file the action's side effect goes to, recorded before it is written.
    public var outboxFile: String?
    public var resultJSON: String?
    public let createdAt: Date
    public var updatedAt: Date

    public init(
        key: String, orderRef: String, kind: DueActionKind, status: ActionStatus, attempts: Int = 0,
        nextAttemptAt: Date? = nil, leaseOwner: String? = nil, leaseUntil: Date? = nil, lastError: String? = nil,
        outboxFile: String? = nil, resultJSON: String? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.key = key
        self.orderRef = orderRef
        self.kind = kind
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.leaseOwner = leaseOwner
        self.leaseUntil = leaseUntil
        self.lastError = lastError
        self.outboxFile = outboxFile
        self.resultJSON = resultJSON
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct CustomerRecord: Sendable, Equatable {
    public let customerID: String
    /// The login name: the customer's e-mail address.
    public let username: String
    public let createdAt: Date

    public init(customerID: String, username: String, createdAt: Date) {
        self.customerID = customerID
        self.username = username
        self.createdAt = createdAt
    }
}

/// An activation credential. Only the token's SHA-256 is kept; the token itself exists once, in
/// the welcome notification.
public struct CredentialRecord: Sendable, Equatable {
    public let customerID: String
    public let tokenHash: String
    public let expiresAt: Date
    public let issuedAt: Date
    public let orderRef: String

    public init(customerID: String, tokenHash: String, expiresAt: Date, issuedAt: Date, orderRef: String) {
        self.customerID = customerID
        self.tokenHash = tokenHash
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
        self.orderRef = orderRef
    }
}

/// Another runner (or an earlier, interrupted attempt that did commit) holds this content hash.
public struct FileAlreadyClaimed: Error, Sendable {
    public let hash: String
}

public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A numbered partner file whose number another file (other content) already holds.
public struct SequenceNumberTaken: Error, Sendable {
    public let scope: String
    public let number: Int
    public let byFile: String
    public let at: Date?
}
