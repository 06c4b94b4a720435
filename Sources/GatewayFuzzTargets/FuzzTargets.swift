import Foundation
import GatewayCore
import GatewayFormats

/// One entry point per reader of partner input, each taking arbitrary bytes: libFuzzer drives
/// them (`scripts/fuzz`, `caas-fuzz` built with `--sanitize=fuzzer`), and the regression test
/// replays every input a fuzzer ever crashed them with (`Tests/Fuzz/regressions/<target>/`).
/// A target returns normally for any input: a rejection, a quarantine reason or nil is an
/// answer; a trap is the bug.
public struct FuzzTargets: Sendable {
    public let mappings: [FeedMapping]
    /// Where inputs that readers take by path are written (a tmpfs when there is one).
    let scratch: String

    /// `mappingsDir`: the shipped `mappings/feeds`.
    public init(mappingsDir: String) throws {
        mappings = try MappingLoader.loadDirectory(mappingsDir).mappings.sorted { $0.feed < $1.feed }
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        scratch = base + "/caas-fuzz-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    /// Every target's name: `csv`, `xml`, `timestamp`, `decimal`, `fold`, and `feed:<feed>` per mapping.
    public var names: [String] { ["csv", "xml", "timestamp", "decimal", "fold"] + mappings.map { "feed:" + $0.feed } }

    /// Runs `target` on `input`; false if there is no such target.
    @discardableResult
    public func run(_ target: String, _ input: Data) -> Bool {
        switch target {
        case "csv": csv(input)
        case "xml": for m in mappings where m.format.isXML { feed(m, input) }
        case "timestamp": timestamp(input)
        case "decimal": decimal(input)
        case "fold": fold(input)
        default:
            guard target.hasPrefix("feed:"), let m = mappings.first(where: { "feed:" + $0.feed == target }) else { return false }
            feed(m, input)
        }
        return true
    }

    func write(_ input: Data) -> String {
        let path = scratch + "/input"
        FileManager.default.createFile(atPath: path, contents: input)
        return path
    }

    /// The CSV reader in the dialects the feeds use, every field read as text.
    func csv(_ input: Data) {
        let path = write(input)
        for (delimiter, header) in [(UInt8(ascii: ","), true), (UInt8(ascii: ";"), true), (UInt8(ascii: ";"), false)] {
            var dialect = CSVDialect(delimiter: delimiter, header: header)
            dialect.maxFieldBytes = 4096
            _ = try? CSVReader(path: path, dialect: dialect).read { record in
                for i in 0..<record.count { _ = record.string(i) }
            }
        }
    }

    /// A whole file through one feed's mapping, as the ingest reads it.
    func feed(_ mapping: FeedMapping, _ input: Data) {
        let path = write(input)
        _ = try? FeedReader.read(path: path, mapping: mapping, fileHash: "fuzz", fileName: "fuzz") { _ in }
    }

    func timestamp(_ input: Data) {
        let text = String(decoding: input, as: UTF8.self)
        if let d = Timestamp.parseISO(text) { _ = Timestamp.iso(d) }
        for (layout, zone) in [("dd/MM/yyyy HH:mm", "Europe/Lisbon"), ("iso8601", "Europe/Madrid"), ("yyyy-MM-dd HH:mm:ss", "UTC")] {
            if let f = try? DateTimeFormat(format: layout, zone: zone), let d = f.parse(text) { _ = Timestamp.iso(d) }
        }
    }

    func decimal(_ input: Data) {
        let text = String(decoding: input.dropFirst(), as: UTF8.self)
        let minorUnits = Int(input.first ?? 2) % 20  // 18 and 19 go past the bound on purpose
        for (sep, thousands) in [(UInt8(ascii: "."), nil), (UInt8(ascii: ","), UInt8(ascii: ".")), (UInt8(ascii: "."), UInt8(ascii: ","))] {
            if let minor = DecimalReader.minorUnits(text, separator: sep, thousands: thousands, minorUnits: minorUnits) {
                _ = Money.format(minor, "EUR")
            }
        }
    }

    /// Facts made from the bytes (kind, day, amount, event, currency), folded in every prefix.
    func fold(_ input: Data) {
        var bytes = Array(input)
        func take(_ n: Int) -> [UInt8] {
            let out = Array(bytes.prefix(n))
            bytes.removeFirst(min(n, bytes.count))
            return out + [UInt8](repeating: 0, count: n - out.count)
        }
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        let ref = "S-FUZZ-1"
        var facts: [Fact] = []
        while !bytes.isEmpty, facts.count < 64 {
            let head = take(4)
            let kind = FactKind.allCases[Int(head[0]) % FactKind.allCases.count]
            let amount = take(8).reduce(Int64(0)) { ($0 << 8) | Int64($1) }
            let at = start.addingTimeInterval(Double(Int16(bitPattern: UInt16(head[1]) << 8 | UInt16(head[2]))) * 3600)
            let pick = Int(head[3])
            var fields: FactFields = [:]
            for spec in kind.schema.fields where spec.name != "order_ref" && spec.name != "occurred_at" {
                switch spec.type {
                case .int: fields[spec.name] = .int(pick % 3 == 0 ? amount : Int64(pick) * 10_000)
                case .time: fields[spec.name] = .time(at.addingTimeInterval(Double(pick) * 86_400))
                case .list: fields[spec.name] = .list(pick % 2 == 0 ? [] : ["HEATED-SEATS"])
                case .string:
                    let allowed = spec.allowed ?? (spec.name == "currency" ? ["EUR", "CHF"] : ["v\(pick % 4)"])
                    fields[spec.name] = .string(allowed[pick % allowed.count])
                }
            }
            facts.append(
                Fact(
                    id: FactID.make(source: "fuzz", kind: kind, key: [ref, String(facts.count)]), orderRef: ref, kind: kind, occurredAt: at,
                    fields: fields, provenance: Provenance(fileName: "fuzz")))
        }
        for n in stride(from: 0, through: facts.count, by: max(1, facts.count / 4)) {
            let view = Lifecycle.fold(ref: ref, facts: Array(facts.prefix(n)), policies: Policies(), asOf: start.addingTimeInterval(90 * 86_400))
            _ = view.amountDueMinor
        }
    }
}

/// Inputs made from seed files by byte-level edits of the kinds that find parser bugs (flips,
/// interesting bytes and digits, long runs of digits, cuts and splices), from a seeded generator:
/// the same seed gives the same inputs. What `caas-fuzz` uses without libFuzzer, and what the
/// test suite runs on every target.
public struct SeededMutator: Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// SplitMix64.
    mutating func random() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(random() % UInt64(n)) }

    /// One input: a seed from `pool`, edited one to eight times.
    public mutating func next(from pool: [Data]) -> Data {
        var b = pool.isEmpty ? [] : Array(pool[below(pool.count)].prefix(1 << 20))
        let interesting: [UInt8] = Array("0123456789+-.,:;\"'<>&TZ \n\r\t".utf8) + [0, 0x7F, 0x80, 0xC3, 0xFF]
        for _ in 0...below(8) {
            let at = below(b.count)
            switch below(6) {
            case 0 where !b.isEmpty: b[at] ^= UInt8(truncatingIfNeeded: 1 << below(8))
            case 1 where !b.isEmpty: b[at] = interesting[below(interesting.count)]
            case 2: b.insert(contentsOf: [UInt8](repeating: UInt8(ascii: "9"), count: below(40)), at: at)
            case 3 where !b.isEmpty: b.removeSubrange(at..<min(b.count, at + below(64)))
            case 4 where !b.isEmpty:
                let len = min(b.count - at, below(256))
                b.insert(contentsOf: b[at..<(at + len)], at: below(b.count))
            default: b.insert(interesting[below(interesting.count)], at: at)
            }
        }
        return Data(b)
    }
}
