import CCrashMark
import Foundation
import GatewayFiles
import GatewayStore
import Logging

/// The run's "working on" mark (`var/working-on`): before the run handles a file or folds an
/// order it writes which one and at what stage, and empties the mark when it is done. A process
/// that dies leaves the mark naming the item, and, if the death was a fatal signal (a trap, a bad
/// access), the signal too: the C handler appends it. The next run reads it first
/// (`CrashIsolation`).
///
/// No fsync: what was written survives the process, which is all that is needed (after a power
/// loss the item is not to blame). One 4 KiB pwrite per mark, under a microsecond; a truncate
/// would cost ten times that, and a fold sets the mark four times per order.
final class WorkMark: @unchecked Sendable {
    /// What a dead process left in the mark.
    struct Left: Equatable, Sendable {
        let kind: SetAsideItem.Kind
        let key: String
        let name: String
        let stage: String
        let runID: String
        let signal: Int?
    }

    /// The first field of every mark: how a test's trap shim recognises a mark being written.
    static let tag = "caas-working-on"

    let path: String
    let runID: String
    private let slot: Int32
    private let logger: Logger
    private var failed = false

    /// Opens the mark for run `runID`; what the previous process left must have been read (`left(at:)`).
    init(path: String, runID: String, logger: Logger) throws {
        self.path = path
        self.runID = runID
        self.logger = logger
        slot = caas_mark_open(path)
        guard slot >= 0 else { throw AtomicFile.posixError("cannot open the run's working-on mark \(path)") }
    }

    deinit { caas_mark_close(slot) }

    /// The run is handling `key` of `kind` (its `name` for people) at `stage`.
    func set(_ kind: SetAsideItem.Kind, key: String, name: String, stage: String) {
        var record = Self.tag
        for field in [kind.rawValue, key, name, stage, runID] {
            record += "\t"
            record += Self.escaped(field)
        }
        record += "\n"
        let length = record.utf8.count
        if record.withCString({ caas_mark_set(slot, $0, length) }) != 0 { warnOnce() }
    }

    /// Nothing is being handled.
    func clear() {
        if caas_mark_clear(slot) != 0 { warnOnce() }
    }

    /// Runs `body` with the mark naming the item, and empties it however `body` ends: a thrown
    /// error is not a death, only a dead process leaves a mark.
    func around<T>(_ kind: SetAsideItem.Kind, key: String, name: String, stage: String, _ body: () throws -> T) rethrows -> T {
        set(kind, key: key, name: name, stage: stage)
        defer { clear() }
        return try body()
    }

    private func warnOnce() {
        guard !failed else { return }
        failed = true
        logger.warning(
            "cannot write the working-on mark: if this run dies, the next one cannot tell which item killed it",
            metadata: ["path": "\(path)", "error": "\(String(cString: strerror(errno)))"])
    }

    /// What the mark at `path` holds, if a process died with it naming an item. A mark that does
    /// not read as one (cut short by the disk, written by another version) names nothing.
    static func left(at path: String) -> Left? {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return nil }
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
        guard let first = lines.first else { return nil }
        let fields = first.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).map {
            unescaped(String(decoding: $0, as: UTF8.self))
        }
        guard fields.count == 6, fields[0] == tag, let kind = SetAsideItem.Kind(rawValue: fields[1]), !fields[2].isEmpty else { return nil }
        // The signal stands on a line of its own after the record's slot (padded with spaces).
        var signal: Int?
        for line in lines.dropFirst() {
            let text = String(decoding: line, as: UTF8.self)
            if text.hasPrefix("signal "), let n = Int(text.dropFirst(7)), (1...64).contains(n) { signal = n }
        }
        return Left(kind: kind, key: fields[2], name: fields[3], stage: fields[4], runID: fields[5], signal: signal)
    }

    /// Tabs, line ends and percent signs in a field (a hostile file name) are percent-encoded.
    static func escaped(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x25 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else { return s }
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "%": out += "%25"
            case "\t": out += "%09"
            case "\n": out += "%0A"
            case "\r": out += "%0D"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    static func unescaped(_ s: String) -> String {
        guard s.contains("%") else { return s }
        return s.replacingOccurrences(of: "%09", with: "\t").replacingOccurrences(of: "%0A", with: "\n")
            .replacingOccurrences(of: "%0D", with: "\r").replacingOccurrences(of: "%25", with: "%")
    }
}
