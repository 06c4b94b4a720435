import Foundation
import GatewayCore
import GatewayFormats

/// A file read the way the ingest would read it, touching nothing: no store, no archive, no
/// quarantine. What an integration engineer runs while writing a mapping.
public struct MappingTrial: Sendable {
    /// Which mapping reads the file, and why; nil with the reason when none does.
    public let feed: String?
    public let recognition: String
    /// Each record: its fact, its rejection (field and reason) or why it was skipped.
    public var records: [Record] = []
    public var summary = Counts()
    /// Why the whole file would be quarantined, if it would.
    public var fileProblem: String?

    public struct Counts: Sendable {
        public var records = 0, accepted = 0, rejected = 0, skipped = 0
    }

    init(feed: String?, recognition: String) {
        self.feed = feed
        self.recognition = recognition
    }

    public enum Record: Sendable {
        case fact(Fact)
        case rejected([Rejection])
        case skipped(String)
    }

    /// Reads `path` with the mapping its name (and folder, and content) selects, or with the
    /// mapping of `feed` when given. At most `limit` records are kept for showing; all are counted.
    public static func run(path: String, mappings: [FeedMapping], feed: String?, limit: Int = 1_000) throws -> MappingTrial {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw OperatorError("cannot read \(path)")
        }
        let mapping: FeedMapping
        var trial: MappingTrial
        if let feed {
            guard let m = mappings.first(where: { $0.feed == feed }) else {
                throw OperatorError("no mapping has feed '\(feed)'; feeds: \(mappings.map(\.feed).sorted().joined(separator: ", "))")
            }
            mapping = m
            trial = MappingTrial(
                feed: feed,
                recognition: m.recognises(fileName: (path as NSString).lastPathComponent)
                    ? "feed \(feed) (asked for; its name pattern matches too)"
                    : "feed \(feed) (asked for; its name pattern \(m.namePattern.text) does not match this name, so the run would not pick it)"
            )
        } else {
            let file = InboxFile(
                path: path, relativePath: (path as NSString).lastPathComponent, size: (attrs[.size] as? NSNumber)?.int64Value ?? 0,
                modified: WallClock.now())
            switch Recogniser(mappings: mappings).recognise(file) {
            case .unrecognised(let why): return MappingTrial(feed: nil, recognition: why)
            case .feed(let m):
                mapping = m
                trial = MappingTrial(feed: m.feed, recognition: "feed \(m.feed): its name pattern \(m.namePattern.text) matches")
            }
        }
        let hash = try InboxScanner.sha256(path: path)
        do {
            let s = try FeedReader.read(path: path, mapping: mapping, fileHash: hash, fileName: (path as NSString).lastPathComponent) {
                outcome in
                guard trial.records.count < limit else { return }
                switch outcome {
                case .fact(let f): trial.records.append(.fact(f))
                case .rejected(let r): trial.records.append(.rejected(r))
                case .skipped(let why): trial.records.append(.skipped(why))
                }
            }
            trial.summary = Counts(records: s.records, accepted: s.accepted, rejected: s.rejected, skipped: s.skipped)
        } catch let problem as FileProblem {
            trial.fileProblem = problem.description
        }
        return trial
    }
}
