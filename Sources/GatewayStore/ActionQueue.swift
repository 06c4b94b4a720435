import Foundation
import GatewayCore

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

public enum ActionStatus: String, Sendable, Codable, CaseIterable {
    /// Waiting to run (again, once `nextAttemptAt` has passed).
    case pending
    /// Leased by a runner; side effects may have started. Recovery decides what happened.
    case inFlight = "in_flight"
    case done
    /// Given up: needs a person.
    case failed
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
