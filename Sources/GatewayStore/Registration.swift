import Foundation
import GatewayCore

/// Where an order's registration with its country's body stands, as the gateway knows it. The
/// order's lifecycle state still comes from facts only; this is the bookkeeping that lets a
/// retry know what was sent and what to ask.
public struct RegistrationRecord: Sendable, Equatable {
    public enum Phase: String, Sendable, Codable, CaseIterable {
        /// Nothing sent under this submission id yet, or the body said it does not know it.
        case pending
        /// A submission left and no answer said what became of it (time-out, 5xx, a crash):
        /// the next attempt asks the body for the submission's state before sending again.
        case sent
        /// The body accepted the submission and decides later (asynchronous APIs): polled.
        case accepted
        /// Written to the outbox for manual upload; an operator records the plate.
        case manual
        case registered
        case rejected
    }

    public let orderRef: String
    public let country: String
    /// Raised by `resubmit`: a new generation is a new submission id.
    public var generation: Int
    public var submissionID: String
    public var phase: Phase
    public var plate: String?
    /// The field at fault and the reason, for a rejection.
    public var field: String?
    public var reason: String?
    /// When the body accepted an asynchronous submission (polling gives up some time after).
    public var acceptedAt: Date?
    public var updatedAt: Date

    public init(
        orderRef: String, country: String, generation: Int, submissionID: String, phase: Phase, plate: String? = nil,
        field: String? = nil, reason: String? = nil, acceptedAt: Date? = nil, updatedAt: Date
    ) {
        self.orderRef = orderRef
        self.country = country
        self.generation = generation
        self.submissionID = submissionID
        self.phase = phase
        self.plate = plate
        self.field = field
        self.reason = reason
        self.acceptedAt = acceptedAt
        self.updatedAt = updatedAt
    }
}

/// One line of the registration ledger: a request to a body (or a file written, a check that
/// kept a request from leaving, a plate an operator recorded), with the answer, personal data
/// masked.
public struct RegistrationAttempt: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// POST of the submission.
        case submit
        /// GET of the submission's state (a poll, or a question after a 409 or a time-out).
        case status
        /// Written to outbox/registrations for manual upload.
        case file
        /// Refused by the gateway before sending (a holder id that fails its country's check).
        case check
        /// A plate recorded by an operator, or a resubmission they asked for.
        case operatorEntry = "operator"
    }

    public let orderRef: String
    public let submissionID: String
    public let country: String
    public let kind: Kind
    public let at: Date
    /// HTTP status; nil when no answer came (time-out) or nothing was sent.
    public let httpStatus: Int?
    public let durationMillis: Int
    /// What the gateway made of it: `registered`, `accepted`, `rejected`, `retry`, `unknown`, ...
    public let outcome: String
    public let detail: String?

    public init(
        orderRef: String, submissionID: String, country: String, kind: Kind, at: Date, httpStatus: Int?, durationMillis: Int,
        outcome: String, detail: String?
    ) {
        self.orderRef = orderRef
        self.submissionID = submissionID
        self.country = country
        self.kind = kind
        self.at = at
        self.httpStatus = httpStatus
        self.durationMillis = durationMillis
        self.outcome = outcome
        self.detail = detail
    }

    /// A ledger line for what was decided without a request: a check, a file, an operator's entry.
    public static func note(_ r: RegistrationRecord, _ kind: Kind, outcome: String, detail: String, at: Date) -> RegistrationAttempt {
        RegistrationAttempt(
            orderRef: r.orderRef, submissionID: r.submissionID, country: r.country, kind: kind, at: at, httpStatus: nil,
            durationMillis: 0, outcome: outcome, detail: detail)
    }
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
