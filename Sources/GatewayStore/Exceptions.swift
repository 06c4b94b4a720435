import Foundation
import GatewayCore

/// An exception the reconciliation has seen open, remembered between runs so a report can say
/// what is new since the previous run and what was resolved.
public struct TrackedException: Sendable, Equatable {
    /// `<rule>:<subject>`: the same problem has the same key on every run.
    public let key: String
    public let rule: String
    public let owner: String
    public let subject: String
    public let firstSeenAt: Date
    public let firstSeenRun: String
    public var resolvedAt: Date?
    public var resolvedRun: String?

    public init(
        key: String, rule: String, owner: String, subject: String, firstSeenAt: Date, firstSeenRun: String, resolvedAt: Date? = nil,
        resolvedRun: String? = nil
    ) {
        self.key = key
        self.rule = rule
        self.owner = owner
        self.subject = subject
        self.firstSeenAt = firstSeenAt
        self.firstSeenRun = firstSeenRun
        self.resolvedAt = resolvedAt
        self.resolvedRun = resolvedRun
    }
}

/// A partner file that needs a person: quarantined whole, or ingested with rejected records.
/// Nothing in later data says it was dealt with (except the same name ingested later, for a
/// quarantined file), so it stays open until an operator dismisses it.
public struct ProblemFile: Sendable, Equatable {
    public let name: String
    public let feed: String
    public let hash: String
    /// The as-of time of the run that took the file in.
    public let arrivedAt: Date
    /// Why the file was quarantined; nil for an ingested file with rejected records.
    public let quarantineReason: String?
    public let rejected: Int
    public let firstRejection: Rejection?

    public init(
        name: String, feed: String, hash: String, arrivedAt: Date, quarantineReason: String?, rejected: Int, firstRejection: Rejection?
    ) {
        self.name = name
        self.feed = feed
        self.hash = hash
        self.arrivedAt = arrivedAt
        self.quarantineReason = quarantineReason
        self.rejected = rejected
        self.firstRejection = firstRejection
    }
}

/// An exception opened, resolved or dismissed, by which run and when (as-of time).
public struct ExceptionEvent: Sendable, Equatable {
    public let key: String
    public let rule: String
    public let owner: String
    public let subject: String
    /// `opened`, `resolved` or `dismissed`.
    public let event: String
    public let at: Date
    public let runID: String

    public init(key: String, rule: String, owner: String, subject: String, event: String, at: Date, runID: String) {
        self.key = key
        self.rule = rule
        self.owner = owner
        self.subject = subject
        self.event = event
        self.at = at
        self.runID = runID
    }
}
