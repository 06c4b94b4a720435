import Foundation
import GatewayCore
import GatewayFormats
import GatewayStore
import GatewayTransport
import Logging

/// Stage 8: a fully paid order is registered with its country's body, as the country's mapping
/// says. One submission id per order (per resubmission), kept across retries.
///
/// What leaves is made durable first: a submission is marked `sent` before its request goes out,
/// so a run that dies, or a request that times out, leaves a submission whose fate is unknown,
/// and the next attempt asks the body for its state before sending it again. Registration times
/// (back-off, polls, the give-up deadline) follow the run's as-of clock, which is the real clock
/// under cron and the story's clock in a replay.
struct RegistrationAction {
    let store: any GatewayStore
    let config: GatewayConfig
    let mappings: [String: RegistrationMapping]
    let logger: Logger
    let crashPoint: CrashPoint
    let sleep: @Sendable (TimeInterval) -> Void

    struct Outcome {
        var done = 0
        var failed = 0
        var retrying = 0
        var skipped = 0
        /// Orders waiting for the body's decision (asynchronous) after this pass.
        var waiting = 0
        var files: [String] = []
    }

    /// One order's registration this pass: what to send and what is known.
    struct Job {
        var action: ActionRecord
        var record: RegistrationRecord
        let mapping: RegistrationMapping
        let endpoint: RegistrationConfig.Endpoint
        let body: Data
        /// Values that must never reach the ledger (the holder's data).
        let personal: [String]
        /// The submission may have reached the body: ask before sending.
        let askFirst: Bool
    }

    /// What the body's answers came to.
    enum Resolution {
        case registered(plate: String)
        case accepted
        case rejected(field: String?, reason: String)
        /// No decision; try again later. `unsure`: the submission may have gone through.
        case retry(String)
        /// Sending again cannot help: a person must look (credentials, a plate that is no plate).
        case failed(String)
    }

    func run(runID: String, batch: Int, asOf: Date, dryRun: Bool) throws -> Outcome {
        var outcome = Outcome()
        let claimed = try store.claimActions(
            kinds: [.submitRegistration], runner: runID, now: asOf, leaseUntil: asOf.addingTimeInterval(900), limit: batch)
        guard !claimed.isEmpty else { return outcome }
        var jobs: [Job] = []
        var settled = Settled()
        for var action in claimed {
            action.attempts += 1
            action.updatedAt = Date()
            action.leaseOwner = nil
            action.leaseUntil = nil
            guard let view = try store.projection(ref: action.orderRef), view.state == .fullyPaid || view.state == .registering,
                let sale = try store.facts(orderRef: action.orderRef).first(where: { $0.kind == .saleRegistered })
            else {
                settled.finish(&action, .done, result: "{\"skipped\":\"no longer due\"}")
                outcome.skipped += 1
                continue
            }
            guard let country = view.country, let mapping = mappings[country] else {
                settled.finish(
                    &action, .failed,
                    error:
                        "no registration mapping for country \(view.country ?? "?"): add mappings/registration/\((view.country ?? "xx").lowercased()).yaml"
                )
                outcome.failed += 1
                continue
            }
            var record =
                try store.registration(orderRef: action.orderRef)
                ?? RegistrationRecord(
                    orderRef: action.orderRef, country: country, generation: 1,
                    submissionID: Self.submissionID(country: country, ref: action.orderRef, generation: 1), phase: .pending,
                    updatedAt: Date())
            guard let vin = view.vin else {
                settled.finish(&action, .failed, error: "no VIN known for the order yet: the factory's production_started event carries it")
                outcome.failed += 1
                continue
            }
            let values = Self.canonicalValues(view: view, sale: sale, vin: vin, submissionID: record.submissionID)
            // The country's holder-id rule is checked here, so a request the body must refuse never leaves.
            if let why = mapping.checkHolderID(values[mapping.holderIDField]) {
                settled.reject(&action, &record, field: mapping.holderIDField, reason: why, asOf: asOf, kind: .check)
                outcome.failed += 1
                continue
            }
            let body = mapping.render(values)
            guard let endpoint = config.registration.endpoints[country] else {
                if dryRun {
                    logger.info("would write a registration file", metadata: ["order.ref": "\(action.orderRef)", "country": "\(country)"])
                    continue
                }
                outcome.files.append(try writeFile(body, mapping: mapping, record: record))
                settled.manual(&action, &record, asOf: asOf)
                outcome.done += 1
                continue
            }
            if let missing = Self.missingCredentials(mapping, endpoint) {
                settled.finish(&action, .failed, error: missing)
                outcome.failed += 1
                continue
            }
            if dryRun {
                logger.info(
                    "would submit a registration",
                    metadata: ["order.ref": "\(action.orderRef)", "country": "\(country)", "submission": "\(record.submissionID)"])
                continue
            }
            let askFirst = record.phase == .sent || record.phase == .accepted
            if record.phase == .pending { record.phase = .sent }
            record.updatedAt = Date()
            action.status = .inFlight
            jobs.append(
                Job(
                    action: action, record: record, mapping: mapping, endpoint: endpoint, body: body,
                    personal: Self.personalValues(values), askFirst: askFirst))
        }
        if dryRun { return outcome }
        if !settled.records.isEmpty || !settled.actions.isEmpty {
            try store.recordRegistrationOutcomes(
                records: settled.records, attempts: settled.attempts, facts: settled.facts, actions: settled.actions, runID: runID)
        }
        guard !jobs.isEmpty else { return outcome }
        try store.saveRegistrations(jobs.map(\.record), actions: jobs.map(\.action))
        try crashPoint.reach("registration.inFlight")

        let results = try perform(jobs)
        try crashPoint.reach("registration.sent")

        var after = Settled()
        for (i, var job) in jobs.enumerated() {
            let (resolution, attempts) = results[i]
            after.attempts += attempts
            let failures =
                try store.registrationAttempts(orderRef: job.record.orderRef).filter {
                    $0.submissionID == job.record.submissionID && $0.outcome == "retry"
                }.count + attempts.filter { $0.outcome == "retry" }.count
            switch resolution {
            case .registered(let plate):
                after.registered(&job.action, &job.record, plate: plate, asOf: asOf)
                outcome.done += 1
            case .accepted:
                if after.accepted(&job.action, &job.record, mapping: job.mapping, asOf: asOf) {
                    outcome.waiting += 1
                } else {
                    outcome.failed += 1
                }
            case .rejected(let field, let reason):
                after.reject(&job.action, &job.record, field: field, reason: reason, asOf: asOf, kind: nil)
                outcome.failed += 1
            case .retry(let why):
                if failures >= config.registration.maxAttempts {
                    after.finish(&job.action, .failed, error: "gave up after \(failures) attempts: \(why)")
                    outcome.failed += 1
                } else {
                    // `failures` counts this attempt, so it is at least 1.
                    job.action.status = .pending
                    job.action.lastError = why
                    job.action.nextAttemptAt = asOf.addingTimeInterval(config.registration.backoff.jitteredDelay(afterAttempt: failures))
                    outcome.retrying += 1
                }
            case .failed(let why):
                after.finish(&job.action, .failed, error: why)
                outcome.failed += 1
            }
            job.record.updatedAt = Date()
            after.records.append(job.record)
            after.actions.append(job.action)
            logger.notice(
                "registration",
                metadata: [
                    "order.ref": "\(job.record.orderRef)", "country": "\(job.record.country)", "phase": "\(job.record.phase.rawValue)",
                    "status": "\(job.action.status.rawValue)",
                ])
        }
        try store.recordRegistrationOutcomes(
            records: after.records, attempts: after.attempts, facts: after.facts, actions: after.actions, runID: runID)
        return outcome
    }

    /// A call the body would refuse for want of credentials is not made.
    static func missingCredentials(_ m: RegistrationMapping, _ ep: RegistrationConfig.Endpoint) -> String? {
        let key = "registration.countries.\(m.country)"
        switch m.auth {
        case .clientCertificate where ep.clientCertificate == nil:
            return "\(m.authority) authenticates callers by TLS client certificate: set \(key).client_certificate and client_key"
        case .bearer where ep.secret == nil, .apiKey where ep.secret == nil:
            return "\(m.authority) needs a token: set \(key).token to {env: …} or {file: …}"
        default: return nil
        }
    }

    // MARK: Requests

    /// Runs the jobs on a few threads at a time; each country's requests keep to its rate.
    func perform(_ jobs: [Job]) throws -> [(Resolution, [RegistrationAttempt])] {
        var clients: [String: HTTPClient] = [:]
        var limiters: [String: RateLimiter] = [:]
        var secrets: [String: String] = [:]
        for job in jobs where clients[job.record.country] == nil {
            let ep = job.endpoint
            clients[job.record.country] = HTTPClient(
                tls: TLSOptions(caBundle: ep.caBundle, clientCertificate: ep.clientCertificate, clientKey: ep.clientKey))
            limiters[job.record.country] = RateLimiter(perMinute: ep.requestsPerMinute, sleep: sleep)
            if let s = ep.secret { secrets[job.record.country] = try s.resolve() }
        }
        let (c, l, k) = (clients, limiters, secrets)
        return BoundedConcurrency.map(count: jobs.count, limit: config.registration.concurrency) { i in
            let country = jobs[i].record.country
            return exchange(jobs[i], client: c[country]!, limiter: l[country]!, secret: k[country])
        }
    }

    /// The conversation with the body for one submission: ask first when unsure, send when the
    /// body does not know it, ask again after a 409.
    func exchange(_ job: Job, client: HTTPClient, limiter: RateLimiter, secret: String?) -> (Resolution, [RegistrationAttempt]) {
        let m = job.mapping
        var attempts: [RegistrationAttempt] = []
        var ask = job.askFirst
        var sentAlready = false
        for _ in 0..<3 {
            let endpoint = ask ? m.status : m.submit
            var request = HTTPRequest(
                method: endpoint.method,
                url: job.endpoint.baseURL + endpoint.path(submissionID: job.record.submissionID),
                headers: [("Accept", m.format == .json ? "application/json" : "application/xml")],
                body: ask ? nil : job.body, timeout: job.endpoint.timeout, connectTimeout: min(10, job.endpoint.timeout))
            if !ask { request.headers.append(("Content-Type", m.format == .json ? "application/json" : "application/xml")) }
            request.headers.append(("Idempotency-Key", job.record.submissionID))
            switch m.auth {
            case .bearer: request.headers.append(("Authorization", "Bearer \(secret ?? "")"))
            case .apiKey(let header): request.headers.append((header, secret ?? ""))
            case .clientCertificate: break
            }
            limiter.wait()
            let started = Date()
            let result = Result { try client.send(request) }
            let millis = Int(Date().timeIntervalSince(started) * 1000)
            func log(_ outcome: String, _ status: Int?, _ detail: String?) {
                attempts.append(
                    RegistrationAttempt(
                        orderRef: job.record.orderRef, submissionID: job.record.submissionID, country: job.record.country,
                        kind: ask ? .status : .submit, at: started, httpStatus: status, durationMillis: millis, outcome: outcome,
                        detail: detail.map { Self.mask($0, job.personal) }))
            }
            let resolution: Resolution?
            switch result {
            case .failure(let e as TransportError) where e.isTransient:
                resolution = .retry("no answer from \(m.authority): \(e.message)")
                log("retry", nil, e.message)
            case .failure(let e):
                resolution = .failed("cannot reach \(m.authority): \(e) (check registration.countries.\(m.country))")
                log("failed", nil, "\(e)")
            case .success(let r):
                let answer = String(decoding: r.body.prefix(2000), as: UTF8.self)
                let values = m.read(r.body) ?? [:]
                switch r.status {
                case 404 where ask && !sentAlready:
                    // The body does not know the submission: it never arrived. Send it now.
                    log("unknown", r.status, answer)
                    ask = false
                    resolution = nil
                case 409 where !ask:
                    log("known", r.status, answer)
                    ask = true
                    sentAlready = true
                    resolution = nil
                case 400, 422:
                    let field = m.answer.errorField.flatMap { values[$0] }
                    let reason = Self.mask(m.answer.errorReason.flatMap { values[$0] } ?? "refused without a reason", job.personal)
                    log("rejected", r.status, answer)
                    resolution = .rejected(field: field, reason: reason)
                case 401, 403:
                    log("failed", r.status, answer)
                    resolution = .failed(
                        "\(m.authority) refused our credentials (\(r.status)): check registration.countries.\(m.country)")
                case 500...599:
                    log("retry", r.status, answer)
                    resolution = .retry("\(m.authority) answered \(r.status)")
                case 200...299:
                    let res = Self.interpret(values, status: r.status, mapping: m, personal: job.personal)
                    log(Self.label(res), r.status, answer)
                    resolution = res
                default:
                    log("failed", r.status, answer)
                    resolution = .failed("\(m.authority) answered \(r.status), which the registration contract does not foresee")
                }
            }
            if let resolution { return (resolution, attempts) }
        }
        return (.retry("\(m.authority) neither knows the submission nor accepts it"), attempts)
    }

    /// A 2xx answer to a submission or a state query.
    static func interpret(_ values: [String: String], status: Int, mapping m: RegistrationMapping, personal: [String]) -> Resolution {
        let state = m.answer.state.flatMap { values[$0] }
        let plate = values[m.answer.plate].flatMap { $0.isEmpty ? nil : $0 }
        if let state, m.answer.rejected.contains(state) {
            return .rejected(field: nil, reason: mask(m.answer.reason.flatMap { values[$0] } ?? "refused (\(state))", personal))
        }
        if let state, m.answer.pending.contains(state) { return .accepted }
        if let plate, state == nil || m.answer.registered.contains(state!) {
            if let why = m.checkPlate(plate) { return .failed("\(m.authority) answered a plate that is not a plate: \(why)") }
            return .registered(plate: plate)
        }
        if status == 202 { return .accepted }
        return .failed("\(m.authority) answered \(status) without a plate or a known state (\(state ?? "no state"))")
    }

    static func label(_ r: Resolution) -> String {
        switch r {
        case .registered: return "registered"
        case .accepted: return "accepted"
        case .rejected: return "rejected"
        case .retry: return "retry"
        case .failed: return "failed"
        }
    }

    // MARK: Values

    /// `ES-S-2026-000101-1`: country, the order reference with anything but letters, digits and
    /// dashes made a dash (references can hold slashes; ids travel in URLs), and the generation.
    static func submissionID(country: String, ref: String, generation: Int) -> String {
        let safe = String(
            ref.uppercased().unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII ? Character($0) : "-" })
        return "\(country)-\(safe)-\(generation)"
    }

    static func canonicalValues(view: OrderView, sale: Fact, vin: String, submissionID: String) -> [String: String] {
        let given = sale.string("customer.given_name") ?? "", family = sale.string("customer.family_name") ?? ""
        return [
            "submission_id": submissionID, "order_ref": view.ref, "dealer_code": view.dealerCode ?? "", "country": view.country ?? "",
            "vehicle.vin": vin, "vehicle.model": view.plan ?? "",
            "holder.given_name": given, "holder.family_name": family, "holder.full_name": "\(given) \(family)",
            "holder.national_id": sale.string("customer.national_id") ?? "",
            "holder.national_id_type": sale.string("customer.national_id_type") ?? "",
            "holder.street": sale.string("customer.street") ?? "", "holder.postal_code": sale.string("customer.postal_code") ?? "",
            "holder.city": sale.string("customer.city") ?? "", "holder.country": sale.string("customer.country") ?? "",
        ]
    }

    /// The holder's data, longest first so a full name is masked before its parts.
    static func personalValues(_ values: [String: String]) -> [String] {
        values.filter { $0.key.hasPrefix("holder.") && $0.key != "holder.country" && $0.key != "holder.national_id_type" }
            .map(\.value).filter { $0.count >= 3 }.sorted { $0.count > $1.count }
    }

    static func mask(_ text: String, _ personal: [String]) -> String {
        personal.reduce(text) { $0.replacingOccurrences(of: $1, with: "***", options: .caseInsensitive) }
    }

    // MARK: File mode

    /// `outbox/registrations/<cc>/<submission id>.json|xml`, written atomically, readable by the
    /// owner only (it holds the holder's data). The same bytes on a rerun.
    func writeFile(_ body: Data, mapping: RegistrationMapping, record: RegistrationRecord) throws -> String {
        let dir = (config.outbox as NSString).appendingPathComponent("registrations/\(record.country.lowercased())")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = (dir as NSString).appendingPathComponent("\(record.submissionID).\(mapping.format.rawValue)")
        try AtomicFile.write(body, to: path, mode: 0o600)
        try crashPoint.reach("registration.fileWritten")
        return path
    }
}

/// What a pass decided, gathered for one store transaction.
struct Settled {
    var records: [RegistrationRecord] = []
    var attempts: [RegistrationAttempt] = []
    var facts: [Fact] = []
    var actions: [ActionRecord] = []

    mutating func finish(_ action: inout ActionRecord, _ status: ActionStatus, result: String? = nil, error: String? = nil) {
        action.status = status
        action.resultJSON = result ?? action.resultJSON
        action.lastError = error
        action.nextAttemptAt = nil
        actions.append(action)
    }

    func fact(_ kind: FactKind, _ record: RegistrationRecord, _ fields: FactFields, asOf: Date, key: String) -> Fact {
        var f = fields
        f["submission_id"] = .string(record.submissionID)
        return Fact(
            id: FactID.make(source: "gateway", kind: kind, key: [record.orderRef, record.submissionID]), orderRef: record.orderRef,
            kind: kind, occurredAt: asOf, fields: f, provenance: Provenance(action: key))
    }

    mutating func registered(_ action: inout ActionRecord, _ record: inout RegistrationRecord, plate: String, asOf: Date) {
        record.phase = .registered
        record.plate = plate
        facts.append(fact(.registrationCompleted, record, ["plate": .string(plate)], asOf: asOf, key: action.key))
        action.status = .done
        action.lastError = nil
        action.nextAttemptAt = nil
    }

    /// Accepted for a later decision: polled again; false when the body has taken too long.
    mutating func accepted(_ action: inout ActionRecord, _ record: inout RegistrationRecord, mapping: RegistrationMapping, asOf: Date)
        -> Bool
    {
        if record.phase != .accepted {
            facts.append(fact(.registrationSubmitted, record, ["country": .string(record.country)], asOf: asOf, key: action.key))
        }
        record.phase = .accepted
        let since = record.acceptedAt ?? asOf
        record.acceptedAt = since
        if asOf.timeIntervalSince(since) > mapping.answer.giveUpAfter {
            action.status = .failed
            action.lastError =
                "\(mapping.authority) has not decided submission \(record.submissionID) in \(Int(mapping.answer.giveUpAfter / 3600)) h: ask them, then record the plate or resubmit"
            return false
        }
        action.status = .pending
        action.lastError = nil
        action.nextAttemptAt = asOf.addingTimeInterval(mapping.answer.pollEvery)
        return true
    }

    mutating func reject(
        _ action: inout ActionRecord, _ record: inout RegistrationRecord, field: String?, reason: String, asOf: Date,
        kind: RegistrationAttempt.Kind?
    ) {
        record.phase = .rejected
        record.field = field
        record.reason = reason
        record.updatedAt = Date()
        var fields: FactFields = ["reason": .string(reason)]
        if let field { fields["field"] = .string(field) }
        facts.append(fact(.registrationRejected, record, fields, asOf: asOf, key: action.key))
        if let kind {
            // Decided here, without a request: the ledger says so.
            attempts.append(
                .note(record, kind, outcome: "rejected", detail: reason))
            records.append(record)
            finish(&action, .failed, error: "registration refused: \(field.map { "\($0): " } ?? "")\(reason)")
        } else {
            action.status = .failed
            action.nextAttemptAt = nil
            action.lastError = "registration refused: \(field.map { "\($0): " } ?? "")\(reason)"
        }
    }

    /// File mode: the submission is in the outbox; an operator records the plate.
    mutating func manual(_ action: inout ActionRecord, _ record: inout RegistrationRecord, asOf: Date) {
        record.phase = .manual
        record.updatedAt = Date()
        facts.append(fact(.registrationSubmitted, record, ["country": .string(record.country)], asOf: asOf, key: action.key))
        attempts.append(
            .note(
                record, .file, outcome: "manual",
                detail: "written to outbox/registrations/\(record.country.lowercased())/ for manual upload"))
        records.append(record)
        finish(&action, .done, result: "{\"mode\":\"file\"}")
    }
}

/// At most N requests a minute to one body: each request takes the next free slot.
final class RateLimiter: @unchecked Sendable {
    private let interval: TimeInterval
    private let sleep: @Sendable (TimeInterval) -> Void
    private let lock = NSLock()
    private var nextSlot = Date.distantPast

    init(perMinute: Int?, sleep: @escaping @Sendable (TimeInterval) -> Void) {
        interval = perMinute.map { 60 / Double($0) } ?? 0
        self.sleep = sleep
    }

    /// Waits for this request's slot. Returns how long it waited (for tests).
    @discardableResult
    func wait(now: Date = Date()) -> TimeInterval {
        guard interval > 0 else { return 0 }
        lock.lock()
        let slot = max(now, nextSlot)
        nextSlot = slot.addingTimeInterval(interval)
        lock.unlock()
        let delay = slot.timeIntervalSince(now)
        if delay > 0 { sleep(delay) }
        return delay
    }
}
