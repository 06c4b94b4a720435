import Foundation
import GatewayCore
import GatewayStore
import Logging

/// One claimed action, with its order as the fold left it. Performers get these from the driver
/// and never read the order's facts or projection themselves.
struct ActionItem: Sendable {
    let action: ActionRecord
    /// The saved projection; nil for an order never folded.
    let view: OrderView?
    /// The order's facts, in time order.
    let facts: [Fact]

    var orderRef: String { action.orderRef }
    var sale: Fact? { facts.first { $0.kind == .saleRegistered } }
    /// A run that died left it in flight: its side effect may or may not have happened.
    var isRecovery: Bool { action.status == .inFlight }
    var metadata: Logger.Metadata { ["order.ref": "\(action.orderRef)", "action": "\(action.key)"] }
}

/// What became of an action, decided by its performer; the driver turns it into the action's
/// status, attempts, next attempt and facts.
enum ActionResult: Sendable {
    /// The same result with every secret of `mask` replaced, in its texts and its facts.
    func masked(by mask: SecretMask) -> ActionResult {
        switch self {
        case .done(let facts, let result): return .done(facts: facts.map(mask.apply), result: mask.apply(result))
        case .skipped(let why): return .skipped(mask.apply(why))
        case .retry(let why, let after): return .retry(mask.apply(why), after: after)
        case .waiting(let until, let facts): return .waiting(until: until, facts: facts.map(mask.apply))
        case .failed(let why): return .failed(mask.apply(why))
        case .credentialsRefused(let partner, let why): return .credentialsRefused(partner: partner, reason: mask.apply(why))
        }
    }

    /// Done, with the facts its outcome adds and what to keep as its result.
    case done(facts: [Fact] = [], result: String? = nil)
    /// The order no longer needs it (its state moved on).
    case skipped(String)
    /// Did not work this time; tried again after `after` seconds (or the kind's back-off), until
    /// the kind's attempts are spent.
    case retry(String, after: TimeInterval? = nil)
    /// The partner has it and decides later: asked again at `at`. Not a failed try.
    case waiting(until: Date, facts: [Fact] = [])
    /// Sending again cannot help: a person must look.
    case failed(String)
    /// The partner refused our credentials (401, 403): every call to it fails the same way until
    /// a person fixes the secret, then `caas-gateway retry --failed --kind K` sends them again.
    /// Failed like `failed`, and the run tells cron which partner.
    case credentialsRefused(partner: String, reason: String)
}

/// How the driver treats one prepared action.
enum Prepared<Work: Sendable>: Sendable {
    /// Decided without a side effect (no longer due, a check failed, a dead run had finished it).
    case settled(ActionResult)
    /// A side effect to perform. `mark` is written with the in-flight status before it starts:
    /// what a later run needs to find out whether it happened.
    case perform(Work, mark: InFlightMark = InFlightMark())
}

struct InFlightMark: Sendable {
    var outboxFile: String?
    var resultJSON: String?
}

/// Retry rules of a kind of action.
struct ActionPolicy: Sendable {
    var maxAttempts: Int
    /// Delay before the next attempt after `n` failed ones (as-of clock).
    var backoff: @Sendable (_ attempts: Int) -> TimeInterval
    /// How long a claim holds (as-of clock) before another runner may take the action over.
    var lease: TimeInterval = 900

    /// Outbox writes do not fail for a partner's reasons: a failure is the disk's, tried each run.
    static let local = ActionPolicy(maxAttempts: 8, backoff: { _ in 0 })
}

/// What a performer sees of the pass it works in.
struct ActionPass: Sendable {
    let run: RunContext
    let number: Int
    let store: any GatewayStore
    let crashPoint: CrashPoint
    /// Files the pass wrote and the lines in them, for the run's summary.
    let report: PassReport
}

final class PassReport: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var files: [String] = []
    private(set) var lines = 0

    func wrote(_ file: String, lines n: Int = 0) {
        lock.lock()
        files.append(file)
        lines += n
        lock.unlock()
    }
}

/// One kind of action: when an order needs it, and how it is done. Everything else (claims,
/// leases, the durable in-flight mark, attempts, back-off, giving up, outcomes as facts) is the
/// driver's. A new kind is one file with its `DueActionKind.register` and a type conforming to
/// this, plus one line in `ActionRegistry.performers`.
protocol ActionPerformer: Sendable {
    associatedtype Work: Sendable
    var kind: DueActionKind { get }
    var policy: ActionPolicy { get }
    /// The actions of this kind the folded order needs now (enqueued with the fold, once by key).
    /// By default, those the lifecycle says are due.
    func due(in view: OrderView) -> [DueAction]
    /// Decides each item: settled now, or a side effect to perform. May add writes that must be
    /// durable with the in-flight marks (a token's hash, a submission marked sent).
    func prepare(_ items: [ActionItem], pass: ActionPass, inFlight: inout ActionCommit) throws -> [Prepared<Work>]
    /// Performs the side effects, results in order. May add writes to commit with the outcomes
    /// (ledger lines).
    func perform(_ jobs: [(item: ActionItem, work: Work)], pass: ActionPass, outcome: inout ActionCommit) throws -> [ActionResult]
    /// Where the run's summary lists the files this kind writes (nil: none).
    var summaryFiles: WritableKeyPath<RunSummary, [String]>? { get }
}

extension ActionPerformer {
    var summaryFiles: WritableKeyPath<RunSummary, [String]>? { nil }
    func due(in view: OrderView) -> [DueAction] { view.dueActions.filter { $0.kind == kind } }
}

/// The orders a fold just committed, by reference: their views and facts as it folded them.
typealias FoldedBatch = [String: (view: OrderView, facts: [Fact])]

/// Counts of one driver pass over one kind.
struct DriverOutcome: Sendable {
    /// Actions this pass claimed: as many as it may claim means more may be waiting.
    var claimed = 0
    var done = 0
    var failed = 0
    var skipped = 0
    var retrying = 0
    var waiting = 0
    /// Outbox files written, and the lines in them.
    var files: [String] = []
    var lines = 0
    /// Keys of the actions that failed or gave up this pass, with why.
    var failures: [(key: String, why: String)] = []
    /// Partners that refused our credentials this pass, with their reason.
    var credentialsRefused: [String: String] = [:]

    func with(_ report: PassReport) -> DriverOutcome {
        var o = self
        o.files = report.files
        o.lines = report.lines
        return o
    }

    /// Actions settled for good this pass: a pass that settles none ends the run's loop.
    var handled: Int { done + failed + skipped }
}

/// Drives every kind of action the same way: claim a batch with a lease, read its orders once,
/// let the performer decide, make the in-flight marks durable, let it perform, record outcomes.
struct ActionDriver {
    let store: any GatewayStore
    let crashPoint: CrashPoint
    let batch: Int

    /// One step of one kind: with `orders`, the actions of the batch a fold just committed, whose
    /// views and facts are at hand; without, whatever is due (retries, polls), read from the store.
    func pass<P: ActionPerformer>(_ performer: P, run: RunContext, number: Int, orders: FoldedBatch? = nil) throws -> DriverOutcome {
        var outcome = DriverOutcome()
        let asOf = run.asOf
        let claimed = try store.claimActions(
            kinds: [performer.kind], orderRefs: orders.map { Array($0.keys) }, runner: run.runID, now: asOf,
            leaseUntil: asOf.addingTimeInterval(performer.policy.lease), limit: batch)
        guard !claimed.isEmpty else { return outcome }
        outcome.claimed = claimed.count
        let items: [ActionItem]
        if let orders {
            items = claimed.map { ActionItem(action: $0, view: orders[$0.orderRef]?.view, facts: orders[$0.orderRef]?.facts ?? []) }
        } else {
            let refs = claimed.map(\.orderRef)
            let views = try store.projections(refs: refs)
            let facts = try store.facts(orderRefs: refs)
            items = claimed.map { ActionItem(action: $0, view: views[$0.orderRef], facts: facts[$0.orderRef] ?? []) }
        }
        let pass = ActionPass(run: run, number: number, store: store, crashPoint: crashPoint, report: PassReport())

        var inFlight = ActionCommit()
        let prepared = try performer.prepare(items, pass: pass, inFlight: &inFlight)
        precondition(prepared.count == items.count, "\(performer.kind): prepare must answer every item")
        var jobs: [(item: ActionItem, work: P.Work)] = []
        var started: [ActionRecord] = []
        for (item, p) in zip(items, prepared) {
            switch p {
            case .settled(let result):
                settle(item.action, result, attempted: false, policy: performer.policy, asOf: asOf, into: &inFlight, &outcome)
            case .perform(let work, let mark):
                var a = item.action
                a.status = .inFlight
                a.attempts += 1
                a.outboxFile = mark.outboxFile ?? a.outboxFile
                a.resultJSON = mark.resultJSON ?? a.resultJSON
                a.updatedAt = asOf
                inFlight.actions.append(a)
                started.append(a)
                jobs.append((ActionItem(action: a, view: item.view, facts: item.facts), work))
            }
        }
        try crashPoint.reach("\(performer.kind.rawValue).prepared")
        do { try store.commitActions(inFlight, runID: run.runID) } catch let taken as CustomerWelcomedElsewhere {
            // Another runner sharing the store welcomed this customer for another order since
            // this pass looked, so this pass's welcome would be a second one, whose token
            // replaces the first. Nothing of the step was written: its actions are released and
            // prepared again, and find a returning customer.
            run.logger.notice(
                "a customer was welcomed by another runner meanwhile: the step is prepared again",
                metadata: ["order.ref": "\(taken.orderRef)", "actions": "\(claimed.count)"])
            var release = ActionCommit()
            for var a in claimed {
                a.leaseOwner = nil
                a.leaseUntil = nil
                release.actions.append(a)
            }
            try store.commitActions(release, runID: run.runID)
            return DriverOutcome(claimed: claimed.count, retrying: claimed.count)
        }
        guard !jobs.isEmpty else { return outcome.with(pass.report) }
        try crashPoint.reach("\(performer.kind.rawValue).inFlight")

        var after = ActionCommit()
        // What a partner answered, cleaned of our secrets before anything stores or shows it.
        let results = try performer.perform(jobs, pass: pass, outcome: &after).map { $0.masked(by: pass.run.secrets) }
        precondition(results.count == jobs.count, "\(performer.kind): perform must answer every job")
        try crashPoint.reach("\(performer.kind.rawValue).sent")
        for (a, result) in zip(started, results) {
            settle(a, result, attempted: true, policy: performer.policy, asOf: asOf, into: &after, &outcome)
        }
        // Facts and statuses together: the outcome is recorded once, or (after a crash) the
        // action is still in flight and its performer finds out what happened.
        try store.commitActions(after, runID: run.runID)
        return outcome.with(pass.report)
    }

    /// The action's new status from its result, on the run's clock.
    func settle(
        _ action: ActionRecord, _ result: ActionResult, attempted: Bool, policy: ActionPolicy, asOf: Date, into commit: inout ActionCommit,
        _ outcome: inout DriverOutcome
    ) {
        var a = action
        a.leaseOwner = nil
        a.leaseUntil = nil
        a.updatedAt = asOf
        switch result {
        case .done(let facts, let result):
            a.status = .done
            a.lastError = nil
            a.nextAttemptAt = nil
            a.resultJSON = result ?? a.resultJSON
            commit.facts += facts
            outcome.done += 1
        case .skipped(let why):
            a.status = .done
            a.nextAttemptAt = nil
            a.resultJSON = "{\"skipped\":\(JSONText.quoted(why))}"
            outcome.skipped += 1
        case .retry(let why, let after):
            if a.attempts >= policy.maxAttempts {
                a.status = .failed
                a.lastError = "gave up after \(a.attempts) attempts: \(why)"
                a.nextAttemptAt = nil
                outcome.failed += 1
                outcome.failures.append((a.key, a.lastError!))
            } else {
                a.status = .pending
                a.lastError = why
                a.nextAttemptAt = asOf.addingTimeInterval(after ?? policy.backoff(max(1, a.attempts)))
                outcome.retrying += 1
            }
        case .waiting(let until, let facts):
            // Asking a partner that is deciding is not a failed try.
            if attempted { a.attempts -= 1 }
            a.status = .pending
            a.lastError = nil
            a.nextAttemptAt = until
            commit.facts += facts
            outcome.waiting += 1
        case .failed(let why):
            a.status = .failed
            a.lastError = why
            a.nextAttemptAt = nil
            outcome.failed += 1
            outcome.failures.append((a.key, why))
        case .credentialsRefused(let partner, let why):
            a.status = .failed
            a.lastError = why
            a.nextAttemptAt = nil
            outcome.failed += 1
            outcome.failures.append((a.key, why))
            outcome.credentialsRefused[partner] = why
        }
        commit.actions.append(a)
    }
}
