import Foundation
import GatewayCore

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

public struct SequenceGap: Sendable, Equatable, Codable {
    public let feed: String
    public let scope: String
    public let missing: [Int]
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

/// Another runner (or an earlier, interrupted attempt that did commit) holds this content hash.
public struct FileAlreadyClaimed: Error, Sendable {
    public let hash: String
}

/// A numbered partner file whose number another file (other content) already holds.
public struct SequenceNumberTaken: Error, Sendable {
    public let scope: String
    public let number: Int
    public let byFile: String
    public let at: Date?
}
