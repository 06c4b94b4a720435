import Foundation
import GatewayCore
import GatewayFiles
import GatewayFormats
import GatewayStore
import GatewayTransport
import Logging

/// What one command did, for the terminal, for `--json`, and for the runs table.
public struct RunSummary: Encodable, Sendable {
    public let runID: String
    public let command: String
    public let asOf: Date
    public var files: [FileOutcome] = []
    public var deferredFiles = 0
    public var recordsAccepted = 0
    public var recordsRejected = 0
    public var factsNew = 0
    public var ordersFolded = 0
    /// Net moves of this run, by the state orders ended in (an order folded twice counts once).
    public var stateChanges: [String: Int] {
        var out: [String: Int] = [:]
        for (_, move) in moves where move.from != move.to { out[move.to?.rawValue ?? "unknown", default: 0] += 1 }
        return out
    }
    /// Per order: state before the run's first fold of it, and after its last. One entry per order
    /// the run folded, so it stays out of the summary's JSON (a backlog would put 100,000 there).
    @NotEncoded var moves: [String: Move] = [:]

    struct Move: Codable, Sendable {
        let from: OrderState?
        var to: OrderState?
    }
    public var actionsDone = 0
    /// Actions that failed or gave up in this run (an action fails once: later runs leave it
    /// alone until an operator retries it, so cron hears of each failure once).
    public var actionsFailed = 0
    /// The first failures of the run, by idempotency key, with why.
    public var failedActions: [FailedAction] = []
    public struct FailedAction: Encodable, Sendable {
        public let key, why: String
    }
    /// Partners that refused our credentials in this run, with what to check.
    public var credentialsRefused: [String: String] = [:]
    /// Exceptions open now that were not open at the end of the previous run (rejected records
    /// and quarantined files among them).
    public var newExceptions = 0
    /// The new exceptions by rule, for the cron line.
    public var newExceptionsByRule: [String: Int] = [:]
    public var actionsSkipped = 0
    /// One notifications file per pass that issued any (actions are taken in batches).
    public var notificationsFiles: [String] = []
    public var notifications = 0
    /// Actions that failed this time and will be tried again on a later run.
    public var actionsRetrying = 0
    /// Vehicles released to dealership stock, one file per pass that released any.
    public var stockFiles: [String] = []
    /// Link authorizations for the IoT platform, one file per pass that wrote any.
    public var linkAuthorizationFiles: [String] = []
    /// Registration submissions written for manual upload (countries without an endpoint).
    public var registrationFiles: [String] = []
    /// Registrations accepted by an asynchronous body and waiting for its decision.
    public var registrationsWaiting = 0
    public var reportPath: String?
    /// A dry run: the actions a real run would take now, by idempotency key (kind:order[:detail]).
    public var wouldDo: [String]?
    /// Open exceptions by rule, when this run wrote a report.
    public var exceptionsByRule: [String: Int]?
    public var pulled = 0
    /// Remote files seen but not ready yet (growing, no done marker, too young).
    public var pullWaiting = 0
    public var pushed = 0
    /// Remote names refused (unsafe) and pushes refused by an exists-policy.
    public var transfersRefused = 0
    /// Sources and destinations that could not be reached or failed, with why.
    public var failedEndpoints: [String: String] = [:]

    public func count(_ o: FileSighting.Outcome) -> Int { files.filter { $0.outcome == o }.count }

    /// Adds one driver pass's counts and the files it wrote.
    mutating func tally(_ o: DriverOutcome, files: WritableKeyPath<RunSummary, [String]>?) {
        actionsDone += o.done
        actionsFailed += o.failed
        actionsSkipped += o.skipped
        actionsRetrying += o.retrying
        registrationsWaiting += o.waiting
        for f in o.failures where failedActions.count < Self.failuresKept { failedActions.append(FailedAction(key: f.key, why: f.why)) }
        credentialsRefused.merge(o.credentialsRefused) { first, _ in first }
        if let files {
            self[keyPath: files] += o.files
            // Notification files hold one notification a line.
            if files == \RunSummary.notificationsFiles { notifications += o.lines }
        }
    }

    static let failuresKept = 20

    /// How the run ends, as the runs table and the metrics record it.
    public var status: String { endpointsFailed ? "endpoint_failed" : needsAttention ? "attention" : "ok" }

    /// The run worked, but a person must look: a file quarantined, a record rejected, a transfer
    /// refused, an action that failed or gave up, a partner refusing our credentials, or an
    /// exception that was not open after the previous run. Each is news once: the next run
    /// with nothing new is quiet again.
    public var needsAttention: Bool {
        count(.quarantined) + count(.unrecognised) > 0 || recordsRejected > 0 || transfersRefused > 0 || actionsFailed > 0
            || !credentialsRefused.isEmpty || newExceptions > 0
    }

    /// What needs a person, as one line's clauses (the cron line).
    public var attentionClauses: [String] {
        var out: [String] = []
        for (partner, why) in credentialsRefused.sorted(by: { $0.key < $1.key }) { out.append("\(partner): \(why)") }
        let quarantined = count(.quarantined) + count(.unrecognised)
        if quarantined > 0 { out.append("\(quarantined) file(s) quarantined") }
        if recordsRejected > 0 { out.append("\(recordsRejected) record(s) rejected") }
        if transfersRefused > 0 { out.append("\(transfersRefused) transfer(s) refused") }
        if actionsFailed > 0 { out.append("\(actionsFailed) action(s) failed" + (failedActions.first.map { " (first: \($0.key))" } ?? "")) }
        if newExceptions > 0 {
            let rules = newExceptionsByRule.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            out.append("\(newExceptions) new exception(s) (\(rules))")
        }
        return out
    }

    /// A source or destination failed; the rest of the run went on.
    public var endpointsFailed: Bool { !failedEndpoints.isEmpty }

    /// The end-of-run log line's counts.
    func logMetadata(status: String, durationMillis: Int) -> Logger.Metadata {
        [
            "status": "\(status)", "duration_ms": "\(durationMillis)", "files": "\(files.count)",
            "files_quarantined": "\(count(.quarantined) + count(.unrecognised))", "records_accepted": "\(recordsAccepted)",
            "records_rejected": "\(recordsRejected)", "facts_new": "\(factsNew)", "orders_folded": "\(ordersFolded)",
            "actions_done": "\(actionsDone)", "actions_failed": "\(actionsFailed)", "actions_retrying": "\(actionsRetrying)",
            "pulled": "\(pulled)", "pushed": "\(pushed)",
        ]
    }

    /// Nothing came in and nothing moved.
    public var changedNothing: Bool {
        files.isEmpty && factsNew == 0 && stateChanges.isEmpty && actionsDone == 0 && actionsFailed == 0 && pulled == 0 && pushed == 0
    }
}

/// A value a run keeps in memory and leaves out of its JSON summary.
@propertyWrapper
struct NotEncoded<Value: Sendable>: Encodable, Sendable {
    var wrappedValue: Value
    func encode(to encoder: any Encoder) throws {}
}

extension KeyedEncodingContainer {
    /// Chosen over the generic `encode` by synthesized code: no key at all.
    mutating func encode<Value>(_ value: NotEncoded<Value>, forKey key: Key) throws {}
}

/// The run, stage by stage: pull → ingest → fold → decide → act → fold → report → push. Each stage
/// can also run alone. Holds the run lock for its whole life; create one per command.
///
/// Logging: what the run handles and reports in its summary (a quarantined file, a failed source)
/// is logged at notice; warning and error are for what nobody planned for.
public final class Gateway {
    public let config: GatewayConfig
    public let mappings: [FeedMapping]
    /// Registration mappings by country.
    public let registrationMappings: [String: RegistrationMapping]
    let store: any GatewayStore
    /// Single runner or shared store: how work is shared, decided once.
    let topology: Topology
    let logger: Logger
    /// Held by every command that writes; `nil` for the read-only ones, which never wait for a run.
    let lock: RunLock?
    /// This runner's name, on its runs and leases.
    let runner: String
    let actionPerformers: [any ActionPerformer]
    let crashPoint: CrashPoint
    let progress: TransferProgress?
    /// How many actions of a kind one pass takes.
    let actionBatch: Int
    /// Pause between reconnection attempts (tests make it instant).
    let sleep: @Sendable (TimeInterval) -> Void

    /// What a command does with the gateway's files.
    public enum Access: Sendable {
        /// Runs and operator commands: the run lock, then the store for writing.
        case write
        /// Queries (orders, explain, exceptions, registrations): no lock, the store read-only, so
        /// they answer while a run is working and never make it wait.
        case read
    }

    /// Opens the store and loads the mappings. Throws `RunLock.Held` when another run is active
    /// and `ConfigError` for a broken mapping.
    public init(
        config: GatewayConfig, logger: Logger, access: Access = .write, crashPoint: CrashPoint = CrashPoint(),
        progress: TransferProgress? = nil, actionBatch: Int = 1_000,
        sleep: @escaping @Sendable (TimeInterval) -> Void = { Thread.sleep(forTimeInterval: $0) }
    ) throws {
        self.actionBatch = actionBatch
        self.config = config
        self.logger = logger
        self.crashPoint = crashPoint
        self.progress = progress
        self.sleep = sleep
        runner = config.runner
        if access == .write {
            for dir in [config.varDir, config.inbox, config.outbox] {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            }
            lock = try RunLock(path: config.lockFile)
        } else {
            lock = nil
        }
        let loaded = try MappingLoader.loadDirectory(config.feedMappingsDir)
        if let first = loaded.errors.first { throw first }
        mappings = loaded.mappings
        let registration = RegistrationMappingLoader.loadDirectory(config.registrationMappingsDir)
        if let first = registration.errors.first { throw first }
        registrationMappings = registration.mappings
        actionPerformers = ActionRegistry.performers(config: config, registrationMappings: registration.mappings, sleep: sleep)
        topology = try Topology.open(config, access: access)
        store = topology.store
    }

    public var storeForQueries: any GatewayStore { store }

    /// `r20261121T001530123-9f2c`: sorts by start time to the millisecond, unique by its suffix.
    static func newRunID(now: Date) -> String {
        let iso = Timestamp.iso(Timestamp.date(millis: Timestamp.millis(now) / 1000 * 1000))
        let stamp = iso.filter { $0.isNumber || $0 == "T" }.prefix(15)
        let millis = Timestamp.millis(now) % 1000
        let suffix = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        return "r\(stamp)\(millis < 10 ? "00" : millis < 100 ? "0" : "")\(millis)-\(suffix)"
    }

    /// Runs `stages` as one recorded run, under one run context.
    func recorded(_ command: String, asOf: Date, dryRun: Bool = false, _ stages: (RunContext, inout RunSummary) throws -> Void) throws
        -> RunSummary
    {
        let started = WallClock.now()
        var ctx = RunContext(
            runID: Self.newRunID(now: started), command: command, asOf: asOf, logger: logger, config: config, dryRun: dryRun,
            runner: runner)
        var summary = RunSummary(runID: ctx.runID, command: command, asOf: asOf)
        ctx.logger.info(
            "run started",
            metadata: [
                "command": "\(command)", "as_of": "\(Timestamp.iso(asOf))", "runner": "\(runner)", "version": "\(GatewayVersion.number)",
                "dry_run": "\(dryRun)",
            ])
        try store.beginRun(RunRecord(id: ctx.runID, command: command, asOf: asOf, startedAt: started, runner: runner))
        try recoverDeadRuns(ctx)
        do {
            // What the previous process was handling when it died is judged before the mark is
            // written again; that item is then set aside, or tried once more.
            try CrashIsolation.recordDeath(leftAt: config.workMarkFile, store: store, ctx: ctx)
            ctx.mark = try WorkMark(path: config.workMarkFile, runID: ctx.runID, logger: ctx.logger)
            ctx.setAside = try store.setAsideItems()
            try stages(ctx, &summary)
        } catch let crash as CrashPoint.Triggered {
            // A simulated death: no bookkeeping, as a real one would have none.
            throw crash.underlying
        } catch {
            try? store.finishRun(
                id: ctx.runID, status: "failed", summaryJSON: "{\"error\":\(JSONText.quoted("\(error)"))}", finishedAt: WallClock.now())
            try? Metrics.write(summary, status: "failed", store: store, varDir: config.varDir)
            ctx.logger.error("run failed", metadata: ["error": "\(error)", "duration_ms": "\(Self.millis(since: started))"])
            throw error
        }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let json = String(decoding: (try? encoder.encode(summary)) ?? Data(), as: UTF8.self)
        let status = summary.status
        try store.finishRun(id: ctx.runID, status: status, summaryJSON: json, finishedAt: WallClock.now())
        // Monitoring must not fail the run it describes.
        do { try Metrics.write(summary, status: status, store: store, varDir: config.varDir) } catch {
            ctx.logger.warning("cannot write the metrics file", metadata: ["error": "\(error)"])
        }
        ctx.logger.info("run finished", metadata: summary.logMetadata(status: status, durationMillis: Self.millis(since: started)))
        return summary
    }

    static func millis(since start: Date) -> Int { Int((WallClock.now().timeIntervalSince(start) * 1000).rounded()) }

    /// Runs of this runner still marked running died (this one holds the runner's lock): they are
    /// marked interrupted, their leases freed, and the temporary files they left in the outbox
    /// removed. Only then, and not on every run, is the outbox walked.
    func recoverDeadRuns(_ ctx: RunContext) throws {
        let dead = try store.interruptDeadRuns(runner: ctx.runner, except: ctx.runID, at: ctx.asOf)
        guard !dead.isEmpty else { return }
        let removed = AtomicFile.removeTemporaryFiles(under: config.outbox)
        ctx.logger.notice(
            "found runs that died; their work is taken over",
            metadata: ["runs": "\(dead.joined(separator: ","))", "temporary_files_removed": "\(removed)"])
    }

    // MARK: Commands

    public func run(asOf: Date, dryRun: Bool = false) throws -> RunSummary {
        try recorded("run", asOf: asOf, dryRun: dryRun) { ctx, s in
            // A dry run touches no partner's server: pulling moves or deletes remote files.
            if !dryRun { try pullStage(ctx, &s) }
            try ingestStage(ctx, &s)
            try foldDecideAct(ctx, &s)
            try reportStage(ctx, &s)
            // Last, so the report just written is delivered too. Its own deliveries appear in the
            // next run's report (rewriting it now would make every run push it again).
            if !dryRun { try pushStage(ctx, &s) }
        }
    }

    public func pull(asOf: Date) throws -> RunSummary {
        try recorded("pull", asOf: asOf) { ctx, s in try pullStage(ctx, &s) }
    }

    public func push(asOf: Date) throws -> RunSummary {
        try recorded("push", asOf: asOf) { ctx, s in try pushStage(ctx, &s) }
    }

    public func ingest(asOf: Date) throws -> RunSummary {
        try recorded("ingest", asOf: asOf) { ctx, s in try ingestStage(ctx, &s) }
    }

    public func act(asOf: Date, dryRun: Bool = false) throws -> RunSummary {
        try recorded("act", asOf: asOf, dryRun: dryRun) { ctx, s in try foldDecideAct(ctx, &s) }
    }

    public func reconcile(asOf: Date) throws -> RunSummary {
        try recorded("reconcile", asOf: asOf) { ctx, s in
            try fold(ctx, &s)
            try reportStage(ctx, &s)
        }
    }

    // MARK: Stages

    var puller: Puller {
        var p = Puller(config: config, store: store, mappings: mappings, logger: logger, progress: progress, crashPoint: crashPoint)
        p.sleep = sleep
        return p
    }

    func pullStage(_ ctx: RunContext, _ s: inout RunSummary) throws {
        guard !config.sources.isEmpty else { return }
        // Readiness compares remote times with the real clock, whatever --as-of says.
        let o = try puller.pullAll(runID: ctx.runID, now: WallClock.now(), secrets: ctx.secrets)
        s.pulled += o.pulled
        s.pullWaiting += o.waiting
        s.transfersRefused += o.refused
        for (k, v) in o.failedSources { s.failedEndpoints["source \(k)"] = v }
    }

    func pushStage(_ ctx: RunContext, _ s: inout RunSummary) throws {
        guard !config.destinations.isEmpty else { return }
        let p = puller
        let o = try Pusher(config: config, store: store, logger: ctx.logger, progress: progress) { server, label in
            try p.connect(server, label: label)
        }.pushAll(runID: ctx.runID, now: ctx.asOf, secrets: ctx.secrets)
        s.pushed += o.pushed
        s.transfersRefused += o.refused
        for (k, v) in o.failedDestinations { s.failedEndpoints["destination \(k)"] = v }
    }

    func ingestStage(_ ctx: RunContext, _ s: inout RunSummary) throws {
        var ingestor = Ingestor(
            config: config, store: store, recogniser: Recogniser(mappings: mappings), logger: ctx.logger, crashPoint: crashPoint)
        ingestor.mark = ctx.mark
        let aside = ctx.setAside.filter { $0.kind == .file }
        ingestor.setAside = Dictionary(aside.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        // A file's age on disk is wall time: it says whether its writer may still be writing it.
        let result = try ingestor.ingestAll(runID: ctx.runID, asOf: ctx.asOf, wallClock: WallClock.now())
        s.files = result.outcomes
        s.deferredFiles = result.deferred
        for f in result.outcomes {
            s.recordsAccepted += f.counts?.accepted ?? 0
            s.recordsRejected += f.counts?.rejected ?? 0
            s.factsNew += f.counts?.factsNew ?? 0
        }
    }

    /// Folds what changed and, in the same transaction per batch, enqueues what became due.
    /// Expedientes are written in a dry run too: the facts they show were taken in for real (a dry
    /// run ingests), and a projection saved without its expediente would never write it later.
    func fold(_ ctx: RunContext, _ s: inout RunSummary, committed: ((FoldedBatch) throws -> Void)? = nil) throws {
        var stage = FoldStage(
            store: store, policies: config.policies, logger: ctx.logger, expedientes: ExpedienteWriter(dir: config.expedientesDir),
            due: { [performers] view in performers.flatMap { $0.due(in: view) } }, rules: config.reconciliation)
        stage.batchSize = topology.foldBatch
        stage.mark = ctx.mark
        stage.setAside = Set(ctx.setAside.filter { $0.kind == .order }.map(\.key))
        let result = try stage.fold(asOf: ctx.asOf, committed: committed)
        s.ordersFolded += result.folded
        for c in result.changes {
            s.moves[c.ref, default: RunSummary.Move(from: c.from, to: c.to)].to = c.to
        }
    }

    /// Every kind of action this gateway performs (built at start, which also registers their
    /// kinds before any action row is read).
    var performers: [any ActionPerformer] { actionPerformers }

    /// Acting changes state (credentials issued, factory order placed), which may make new
    /// actions due, and actions are taken in batches: passes go on until one settles nothing.
    /// A dry run folds (the facts are real) and lists what is due, claiming nothing.
    func foldDecideAct(_ ctx: RunContext, _ s: inout RunSummary) throws {
        let performers = self.performers
        if ctx.dryRun {
            try fold(ctx, &s)
            let kinds = Set(performers.map(\.kind))
            s.wouldDo = try store.actions(status: .pending)
                .filter { kinds.contains($0.kind) && ($0.nextAttemptAt ?? .distantPast) <= ctx.asOf }
                .map(\.key).sorted()
            return
        }
        let claim = topology.claim(actionBatch)
        let driver = ActionDriver(store: store, crashPoint: crashPoint, batch: claim)
        // Each step has its own number: outbox files are named after it.
        var step = 0
        for _ in 1...Self.maxPasses {
            var settled = 0
            var outcomes: [(DriverOutcome, WritableKeyPath<RunSummary, [String]>?)] = []
            func act(_ orders: FoldedBatch?) throws {
                for performer in performers {
                    // A full claim may have left more behind (topology.claimsPerPass).
                    for _ in 0..<topology.claimsPerPass {
                        step += 1
                        let o = try driver.pass(performer, run: ctx, number: step, orders: orders)
                        outcomes.append((o, performer.summaryFiles))
                        settled += o.handled
                        if o.claimed < claim || o.handled + o.retrying + o.waiting == 0 { break }
                    }
                }
            }
            // What each batch of changed orders made due, while its views and facts are at hand;
            // then what is due without a change (retries, polls, the rest of a large batch). The
            // outcomes are tallied once the fold, which writes the summary too, has returned.
            try fold(ctx, &s) { batch in try act(batch) }
            try act(nil)
            for (o, files) in outcomes { s.tally(o, files: files) }
            if settled == 0 { break }
        }
        try fold(ctx, &s)
    }

    /// Why the fold and act alternate: an action's outcome is a fact (credentials issued, a
    /// factory order placed) that folds into a state where the next action is due, and a run
    /// should carry an order as far as the partners let it. The longest chain in the lifecycle is
    /// a handful of actions (credentials, welcome, factory order, registration, notices), so a run
    /// ends in a few passes, when one settles nothing; 100 only bounds a performer that would
    /// settle something on every pass, which is a bug, not a backlog.
    static let maxPasses = 100

    /// A dry run writes the report of what is, but does not remember its exceptions: the next
    /// real run still says what is new.
    func reportStage(_ ctx: RunContext, _ s: inout RunSummary) throws {
        // Cluster-wide: the exceptions it opens and resolves, and the feeds' silence, are the
        // company's, not this runner's, so runners sharing a store write it one at a time.
        try store.exclusively("report") { try writeReport(ctx, &s) }
    }

    private func writeReport(_ ctx: RunContext, _ s: inout RunSummary) throws {
        let day = Timestamp.day(ctx.asOf)
        // Reviews stored with other thresholds are out of date: the report looks at every order once.
        if try store.reviewAll(ifRulesChangedTo: config.reconciliation.orderRulesFingerprint) {
            ctx.logger.notice("the reconciliation thresholds changed: every order is reviewed again")
        }
        var report = try DailyReport.build(
            store: store, day: day, asOf: ctx.asOf, runID: ctx.runID, rules: config.reconciliation, feeds: mappings, track: !ctx.dryRun,
            inboxProblems: InboxScanner.scan(config.inbox).problems)
        s.exceptionsByRule = report.exceptions.reduce(into: [:]) { $0[$1.rule, default: 0] += 1 }
        // A dry run remembers nothing, so what it finds is still news for the next real run.
        if !ctx.dryRun {
            let new = report.exceptions.filter(\.isNew)
            s.newExceptions = new.count
            s.newExceptionsByRule = new.reduce(into: [:]) { $0[$1.rule, default: 0] += 1 }
        }
        // The run writing the report is still "running" in the store: show what it ends as.
        if let i = report.runs.firstIndex(where: { $0.id == ctx.runID }) { report.runs[i].status = s.status }
        s.reportPath = try ReportWriter.write(
            report, to: (config.reportsDir as NSString).appendingPathComponent(day), store: store, output: config.report)
    }

    // MARK: Queries

    public func orders() throws -> [OrderView] {
        try store.projections().filter(\.isKnown)
    }

    /// The order's facts in time order, where each came from, and the state after each.
    public func explain(ref: String, asOf: Date) throws -> (view: OrderView, facts: [String: Fact], actions: [ActionRecord])? {
        let facts = try store.facts(orderRef: ref)
        guard !facts.isEmpty else { return nil }
        let view = Lifecycle.fold(ref: ref, facts: facts, policies: config.policies, asOf: asOf)
        let actions = try store.actions(orderRef: ref)
        return (view, Dictionary(facts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }), actions)
    }
}

// MARK: Moving up

extension Gateway {
    /// Copies the SQLite store at `path` (read only) into this gateway's PostgreSQL store, which
    /// must be empty, and counts every table on both sides. This workspace's run lock is held, so
    /// no run of it writes the SQLite store meanwhile.
    public func copyStore(fromSQLite path: String, progress: (String, Int) -> Void = { _, _ in }) throws -> [StoreCopy.TableCount] {
        guard let target = topology.shared else {
            throw StoreConfigError(
                "the configuration's store is not PostgreSQL: add store: {postgres: {url: …, password: {env: …}}} to it first, then copy")
        }
        return try StoreCopy.copy(from: try SQLiteStore(readOnlyAt: path), to: target, progress: progress)
    }
}
