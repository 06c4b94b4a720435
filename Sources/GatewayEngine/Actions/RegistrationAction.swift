import Foundation
import GatewayCore
import GatewayFiles
import GatewayFormats
import GatewayStore
import GatewayTransport

/// Stage 8: a fully paid order is registered with its country's body, as the country's mapping
/// says. One submission id per order (per resubmission), kept across retries.
///
/// What leaves is made durable first: a submission is marked `sent` before its request goes out,
/// so a run that dies, or a request that times out, leaves a submission whose fate is unknown,
/// and the next attempt asks the body for its state before sending it again. Registration times
/// (back-off, polls, the give-up deadline) follow the run's as-of clock, which is the real clock
/// under cron and the story's clock in a replay.
struct RegistrationAction: ActionPerformer {
    let kind = DueActionKind.submitRegistration
    let config: GatewayConfig
    let mappings: [String: RegistrationMapping]
    let sleep: @Sendable (TimeInterval) -> Void
    var summaryFiles: WritableKeyPath<RunSummary, [String]>? { \.registrationFiles }

    var policy: ActionPolicy {
        let r = config.registration
        return ActionPolicy(maxAttempts: r.maxAttempts, backoff: { r.backoff.jitteredDelay(afterAttempt: $0) })
    }

    /// One order's registration this pass: what to send and what is known.
    struct Job: Sendable {
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
        /// 401, 403: our credentials, not this submission.
        case credentialsRefused(String)

        func masked(by mask: SecretMask) -> Resolution {
            switch self {
            case .registered(let plate): return .registered(plate: mask.apply(plate))
            case .accepted: return .accepted
            case .rejected(let field, let reason): return .rejected(field: mask.apply(field), reason: mask.apply(reason))
            case .retry(let why): return .retry(mask.apply(why))
            case .failed(let why): return .failed(mask.apply(why))
            case .credentialsRefused(let why): return .credentialsRefused(mask.apply(why))
            }
        }
    }

    func prepare(_ items: [ActionItem], pass: ActionPass, inFlight: inout ActionCommit) throws -> [Prepared<Job>] {
        let asOf = pass.run.asOf
        return try items.map { item in
            let key = item.action.key
            guard let view = item.view, view.state == .fullyPaid || view.state == .registering, let sale = item.sale else {
                return .settled(.skipped("no longer due"))
            }
            guard let country = view.country, let mapping = mappings[country] else {
                return .settled(
                    .failed(
                        "no registration mapping for country \(view.country ?? "?"): add mappings/registration/\((view.country ?? "xx").lowercased()).yaml"
                    ))
            }
            var record =
                try pass.store.registration(orderRef: item.orderRef)
                ?? RegistrationRecord(
                    orderRef: item.orderRef, country: country, generation: 1,
                    submissionID: Self.submissionID(country: country, ref: item.orderRef, generation: 1), phase: .pending,
                    updatedAt: asOf)
            guard let vin = view.vin else {
                return .settled(.failed("no VIN known for the order yet: the factory's production_started event carries it"))
            }
            let values = Self.canonicalValues(view: view, sale: sale, vin: vin, submissionID: record.submissionID)
            // The country's holder-id rule is checked here, so a request the body must refuse never leaves.
            if let why = mapping.checkHolderID(values[mapping.holderIDField]) {
                return .settled(
                    inFlight.reject(&record, field: mapping.holderIDField, reason: why, asOf: asOf, key: key, decidedHere: .check))
            }
            let body = mapping.render(values)
            guard let endpoint = config.registration.endpoints[country] else {
                let path = try writeFile(body, mapping: mapping, record: record, crashPoint: pass.crashPoint)
                pass.report.wrote(path)
                return .settled(inFlight.manual(&record, asOf: asOf, key: key))
            }
            if let missing = Self.missingCredentials(mapping, endpoint) { return .settled(.failed(missing)) }
            let askFirst = record.phase == .sent || record.phase == .accepted
            if record.phase == .pending { record.phase = .sent }
            record.updatedAt = asOf
            // Marked sent with the in-flight mark: if the answer never comes, the next attempt asks first.
            inFlight.registrations.append(record)
            return .perform(
                Job(
                    record: record, mapping: mapping, endpoint: endpoint, body: body, personal: Self.personalValues(values),
                    askFirst: askFirst))
        }
    }

    func perform(_ jobs: [(item: ActionItem, work: Job)], pass: ActionPass, outcome: inout ActionCommit) throws -> [ActionResult] {
        let asOf = pass.run.asOf
        // What the bodies answered, cleaned of our secrets before it is stored or shown.
        let secrets = pass.run.secrets
        let answers = try exchangeAll(jobs.map(\.work), asOf: asOf).map { resolution, attempts in
            (resolution.masked(by: secrets), attempts.map { a in
                RegistrationAttempt(
                    orderRef: a.orderRef, submissionID: a.submissionID, country: a.country, kind: a.kind, at: a.at, httpStatus: a.httpStatus,
                    durationMillis: a.durationMillis, outcome: a.outcome, detail: secrets.apply(a.detail))
            })
        }
        var results: [ActionResult] = []
        for ((item, job), (resolution, attempts)) in zip(jobs, answers) {
            var record = job.record
            outcome.registrationAttempts += attempts
            let key = item.action.key
            let result: ActionResult
            switch resolution {
            case .registered(let plate): result = outcome.registered(&record, plate: plate, asOf: asOf, key: key)
            case .accepted: result = outcome.accepted(&record, mapping: job.mapping, asOf: asOf, key: key)
            case .rejected(let field, let reason):
                result = outcome.reject(&record, field: field, reason: reason, asOf: asOf, key: key, decidedHere: nil)
            case .retry(let why): result = .retry(why)
            case .failed(let why): result = .failed(why)
            case .credentialsRefused(let why): result = .credentialsRefused(partner: "registration \(record.country)", reason: why)
            }
            record.updatedAt = asOf
            outcome.registrations.append(record)
            pass.run.logger.notice(
                "registration",
                metadata: item.metadata.merging(["country": "\(record.country)", "phase": "\(record.phase.rawValue)"]) { $1 })
            results.append(result)
        }
        return results
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
    func exchangeAll(_ jobs: [Job], asOf: Date) throws -> [(Resolution, [RegistrationAttempt])] {
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
            return exchange(jobs[i], client: c[country]!, limiter: l[country]!, secret: k[country], asOf: asOf)
        }
    }

    /// The conversation with the body for one submission: ask first when unsure, send when the
    /// body does not know it, ask again after a 409.
    func exchange(_ job: Job, client: HTTPClient, limiter: RateLimiter, secret: String?, asOf: Date) -> (Resolution, [RegistrationAttempt])
    {
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
            let started = WallClock.now()
            let result = Result { try client.send(request) }
            let millis = Int(WallClock.seconds(since: started) * 1000)
            func log(_ outcome: String, _ status: Int?, _ detail: String?) {
                attempts.append(
                    RegistrationAttempt(
                        orderRef: job.record.orderRef, submissionID: job.record.submissionID, country: job.record.country,
                        kind: ask ? .status : .submit, at: asOf, httpStatus: status, durationMillis: millis, outcome: outcome,
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
                    resolution = .credentialsRefused(
                        "\(m.authority) refused our credentials (\(r.status)): check registration.countries.\(m.country), then retry --failed"
                    )
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
        case .failed, .credentialsRefused: return "failed"
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
    func writeFile(_ body: Data, mapping: RegistrationMapping, record: RegistrationRecord, crashPoint: CrashPoint) throws -> String {
        let dir = (config.outbox as NSString).appendingPathComponent("registrations/\(record.country.lowercased())")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = (dir as NSString).appendingPathComponent("\(record.submissionID).\(mapping.format.rawValue)")
        try AtomicFile.write(body, to: path, mode: 0o600)
        try crashPoint.reach("registration.fileWritten")
        return path
    }
}

/// What registration answers write: the record's phase, its facts and its ledger lines.
extension ActionCommit {
    func registrationFact(_ kind: FactKind, _ record: RegistrationRecord, _ fields: FactFields, asOf: Date, key: String) -> Fact {
        var f = fields
        f["submission_id"] = .string(record.submissionID)
        return Fact(
            id: FactID.make(source: "gateway", kind: kind, key: [record.orderRef, record.submissionID]), orderRef: record.orderRef,
            kind: kind, occurredAt: asOf, fields: f, provenance: Provenance(action: key))
    }

    mutating func registered(_ record: inout RegistrationRecord, plate: String, asOf: Date, key: String) -> ActionResult {
        record.phase = .registered
        record.plate = plate
        facts.append(registrationFact(.registrationCompleted, record, ["plate": .string(plate)], asOf: asOf, key: key))
        return .done()
    }

    /// Accepted for a later decision: polled again, unless the body has taken too long.
    mutating func accepted(_ record: inout RegistrationRecord, mapping: RegistrationMapping, asOf: Date, key: String) -> ActionResult {
        if record.phase != .accepted {
            facts.append(registrationFact(.registrationSubmitted, record, ["country": .string(record.country)], asOf: asOf, key: key))
        }
        record.phase = .accepted
        let since = record.acceptedAt ?? asOf
        record.acceptedAt = since
        if asOf.timeIntervalSince(since) > mapping.answer.giveUpAfter {
            return .failed(
                "\(mapping.authority) has not decided submission \(record.submissionID) in \(Int(mapping.answer.giveUpAfter / 3600)) h: ask them, then record the plate or resubmit"
            )
        }
        return .waiting(until: asOf.addingTimeInterval(mapping.answer.pollEvery))
    }

    /// Refused by the body, or by the country's check before anything left (`decidedHere`).
    mutating func reject(
        _ record: inout RegistrationRecord, field: String?, reason: String, asOf: Date, key: String, decidedHere: RegistrationAttempt.Kind?
    ) -> ActionResult {
        record.phase = .rejected
        record.field = field
        record.reason = reason
        record.updatedAt = asOf
        var fields: FactFields = ["reason": .string(reason)]
        if let field { fields["field"] = .string(field) }
        facts.append(registrationFact(.registrationRejected, record, fields, asOf: asOf, key: key))
        if let kind = decidedHere {
            // Decided here, without a request: the ledger says so.
            registrationAttempts.append(.note(record, kind, outcome: "rejected", detail: reason, at: asOf))
            registrations.append(record)
        }
        return .failed("registration refused: \(field.map { "\($0): " } ?? "")\(reason)")
    }

    /// File mode: the submission is in the outbox; an operator records the plate.
    mutating func manual(_ record: inout RegistrationRecord, asOf: Date, key: String) -> ActionResult {
        record.phase = .manual
        record.updatedAt = asOf
        facts.append(registrationFact(.registrationSubmitted, record, ["country": .string(record.country)], asOf: asOf, key: key))
        registrationAttempts.append(
            .note(
                record, .file, outcome: "manual",
                detail: "written to outbox/registrations/\(record.country.lowercased())/ for manual upload", at: asOf))
        registrations.append(record)
        return .done(result: "{\"mode\":\"file\"}")
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
    func wait(now: Date = WallClock.now()) -> TimeInterval {
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
