import Foundation
import GatewayCore
import GatewayFormats
import GatewayStore

/// What an operator does about registrations: record a plate the body gave by other means (file
/// mode, a phone call), and send a registration again after fixing what was refused.
public struct OperatorError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

extension Gateway {
    /// Registrations with their order state, filtered as `caas-gateway registrations` asks.
    public func registrations(country: String?, phase: RegistrationRecord.Phase?) throws -> [RegistrationRecord] {
        try store.registrations().filter { r in
            (country.map { $0.uppercased() == r.country } ?? true) && (phase.map { $0 == r.phase } ?? true)
        }
    }

    public func registrationLedger(orderRef: String?) throws -> [RegistrationAttempt] {
        try store.registrationAttempts(orderRef: orderRef)
    }

    /// Records the plate of a registration the gateway submitted but cannot learn the outcome of by
    /// itself. The plate must have the country's format; the order must be waiting for it.
    public func recordPlate(orderRef: String, plate rawPlate: String, asOf: Date) throws -> OrderView {
        let plate = rawPlate.trimmingCharacters(in: .whitespaces).uppercased()
        guard let view = try store.projection(ref: orderRef), view.isKnown else { throw OperatorError("no order \(orderRef)") }
        guard view.state == .registering || view.state == .fullyPaid, var record = try store.registration(orderRef: orderRef) else {
            throw OperatorError(
                "\(orderRef) is \(view.state?.rawValue ?? "unknown") and has no registration waiting for a plate")
        }
        guard let mapping = registrationMappings[record.country] else {
            throw OperatorError("no registration mapping for \(record.country) to check the plate against")
        }
        if let why = mapping.checkPlate(plate) { throw OperatorError(why) }
        // The action may not exist (an order registered before this gateway ran): updating it is then a no-op.
        var action =
            try store.actions(orderRef: orderRef).first { $0.kind == .submitRegistration }
            ?? ActionRecord(
                key: DueAction(kind: .submitRegistration, orderRef: orderRef).idempotencyKey, orderRef: orderRef,
                kind: .submitRegistration, status: .pending, createdAt: asOf, updatedAt: asOf)
        var commit = ActionCommit()
        _ = commit.registered(&record, plate: plate, asOf: asOf, key: action.key)
        action.status = .done
        action.lastError = nil
        action.nextAttemptAt = nil
        action.updatedAt = asOf
        record.updatedAt = asOf
        commit.registrationAttempts.append(
            .note(record, .operatorEntry, outcome: "registered", detail: "plate \(plate) recorded by an operator", at: asOf))
        commit.registrations.append(record)
        commit.actions.append(action)
        try store.commitActions(commit, runID: "operator")
        let ctx = RunContext(
            runID: "operator", command: "registrations record", asOf: asOf, logger: logger, config: config, dryRun: false, runner: runner)
        var summary = RunSummary(runID: ctx.runID, command: ctx.command, asOf: asOf)
        try fold(ctx, &summary)
        return try store.projection(ref: orderRef) ?? view
    }

    /// Sends the order's registration again on the next run. After a refusal (the data has been
    /// fixed) it goes under a new submission id; otherwise (gave up after failures, no decision)
    /// the same id is asked about first, so a submission that did arrive is never made twice.
    public func resubmit(orderRef: String, asOf: Date) throws -> RegistrationRecord {
        guard var record = try store.registration(orderRef: orderRef) else {
            throw OperatorError("\(orderRef) has no registration yet: it is submitted by itself once the order is fully paid")
        }
        guard record.phase != .registered else { throw OperatorError("\(orderRef) is already registered (\(record.plate ?? "?"))") }
        guard var action = try store.actions(orderRef: orderRef).first(where: { $0.kind == .submitRegistration }),
            action.status == .failed || record.phase == .manual
        else {
            throw OperatorError("\(orderRef)'s registration is still being handled (\(record.phase.rawValue)): nothing to resubmit")
        }
        let previous = record.submissionID
        if record.phase == .rejected || record.phase == .manual {
            record.generation += 1
            record.submissionID = RegistrationAction.submissionID(country: record.country, ref: orderRef, generation: record.generation)
            record.phase = .pending
            record.field = nil
            record.reason = nil
            record.acceptedAt = nil
        }
        record.updatedAt = asOf
        action.status = .pending
        // A fresh attempt budget for what the operator fixed.
        action.attempts = 0
        action.lastError = nil
        action.nextAttemptAt = nil
        action.updatedAt = asOf
        let note =
            previous == record.submissionID
            ? "resubmission asked by an operator: the body is asked about \(previous) first"
            : "resubmission asked by an operator: \(previous) replaced by \(record.submissionID)"
        var commit = ActionCommit()
        commit.registrations = [record]
        commit.registrationAttempts = [.note(record, .operatorEntry, outcome: "resubmit", detail: note, at: asOf)]
        commit.actions = [action]
        try store.commitActions(commit, runID: "operator")
        return record
    }
}
