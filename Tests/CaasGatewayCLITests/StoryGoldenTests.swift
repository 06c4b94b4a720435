import Foundation
import GatewayTestSupport
import Testing

/// The partner story's end state, as the built binary leaves it after the 51 days, against a
/// golden copy committed under Tests/Fixtures/story-golden (issue 26): `orders --json`,
/// `registrations --json`, `exceptions --json` and every file under `outbox/`. A change to the
/// store or the run's shape must leave every byte of it as it was.
///
/// What differs from one replay to another by design is normalised first (`Golden.normalise`):
/// run ids, activation tokens (256 random bits each), the generation time of reports and the
/// temporary home's path. A deliberate change of behaviour records a new copy with
/// `CAAS_RECORD_GOLDEN=1 swift test --filter StoryGoldenTests` and commits it with the change that
/// explains it.
@Suite("The partner story ends as its golden copy")
struct StoryGoldenTests {
    static let goldenDir = Fixtures.repoRoot.appendingPathComponent("Tests/Fixtures/story-golden").path
    static let asOf = "2026-11-20T23:59:00Z"

    @Test func theStoryEndsByteForByteAsItsGoldenCopy() throws {
        let world = try StoryWorld("golden")
        try world.replay(until: "2026-11-21")
        var got: [String: String] = [:]
        for (name, args) in [
            ("orders.json", ["orders", "--json"]), ("registrations.json", ["registrations", "--json"]),
            ("exceptions.json", ["exceptions", "--json"]),
        ] {
            let r = try world.cli.run(args + ["--as-of", Self.asOf])
            #expect(r.code == 0, "\(args): \(r.err)")
            got["commands/" + name] = r.out
        }
        let outbox = world.home + "/outbox"
        let files = ((FileManager.default.enumerator(atPath: outbox)?.allObjects as? [String]) ?? []).filter {
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: outbox + "/" + $0, isDirectory: &isDir) && !isDir.boolValue
        }
        for rel in files {
            let data = try Data(contentsOf: URL(fileURLWithPath: outbox + "/" + rel))
            got["outbox/" + rel] = String(decoding: data, as: UTF8.self)
        }
        got = Golden.normalise(got, home: world.home)

        if ProcessInfo.processInfo.environment["CAAS_RECORD_GOLDEN"] == "1" {
            try? FileManager.default.removeItem(atPath: Self.goldenDir)
            for (rel, text) in got { try Fixtures.write(text, Self.goldenDir + "/" + rel) }
            return
        }
        let golden = try Golden.read(Self.goldenDir)
        #expect(!golden.isEmpty, "no golden copy under \(Self.goldenDir): record one (CAAS_RECORD_GOLDEN=1)")
        #expect(Set(got.keys) == Set(golden.keys), "files only now: \(Set(got.keys).subtracting(golden.keys).sorted()); only in the golden copy: \(Set(golden.keys).subtracting(got.keys).sorted())")
        for (rel, text) in got.sorted(by: { $0.key < $1.key }) {
            guard let want = golden[rel] else { continue }
            #expect(text == want, "\(rel) differs from its golden copy: \(Golden.firstDifference(text, want))")
        }
    }
}

enum Golden {
    static let runID = try! NSRegularExpression(pattern: #"r\d{8}T\d{9}-[0-9a-f]{1,4}"#)

    /// Replaces what is meant to differ between two replays of the same story, in the files'
    /// names and contents. Each run id becomes `run-N`, N its rank among every run id seen (they
    /// sort by start time), so which run wrote what still counts.
    static func normalise(_ files: [String: String], home: String) -> [String: String] {
        var ids: Set<String> = []
        for (path, text) in files {
            for t in [path, text] {
                let ns = t as NSString
                for m in runID.matches(in: t, range: NSRange(location: 0, length: ns.length)) { ids.insert(ns.substring(with: m.range)) }
            }
        }
        let rank = Dictionary(uniqueKeysWithValues: ids.sorted().enumerated().map { ($1, "run-\($0 + 1)") })
        func renamed(_ t: String) -> String {
            let ns = t as NSString
            var out = ""
            var last = 0
            for m in runID.matches(in: t, range: NSRange(location: 0, length: ns.length)) {
                out += ns.substring(with: NSRange(location: last, length: m.range.location - last))
                out += rank[ns.substring(with: m.range)] ?? "run-?"
                last = m.range.location + m.range.length
            }
            return out + ns.substring(from: last)
        }
        var out: [String: String] = [:]
        for (path, text) in files { out[renamed(path)] = normalise(renamed(text), home: home) }
        return out
    }

    /// This machine's name: the runner's name, by default.
    static let host: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    static func normalise(_ text: String, home: String) -> String {
        var s = text.replacingOccurrences(of: home, with: "<home>")
        // The runner's name (by default the host's) where the report writes it, and only there:
        // a host named "run" must not rename a command.
        let h = NSRegularExpression.escapedPattern(for: host)
        s = s.replacingOccurrences(
            of: #"("(runner|written_by)"\s*:\s*)""# + h + #"""#, with: "$1\"<host>\"", options: .regularExpression)
        s = s.replacingOccurrences(
            of: #"(<td class=name>run-[0-9?]+</td><td>)"# + h + "</td>", with: "$1<host></td>", options: .regularExpression)
        s = s.replacingOccurrences(of: "written by runner \(host).", with: "written by runner <host>.")
        // The HTML report's runs table: the started and finished columns are real time.
        if let start = s.range(of: "<h2>Runs</h2>"), let end = s.range(of: "</table>", range: start.upperBound..<s.endIndex) {
            let table = String(s[start.lowerBound..<end.upperBound]).replacingOccurrences(
                of: #"(<td>\d{4}-\d\d-\d\dT[0-9:.]+Z</td>)<td>[^<]*</td><td>[^<]*</td></tr>"#, with: "$1<td><time></td><td><time></td></tr>",
                options: .regularExpression)
            s.replaceSubrange(start.lowerBound..<end.upperBound, with: table)
        }
        let rules: [(String, String)] = [
            // Activation tokens in welcome links and notifications (base64url or hex, long).
            (#"(token=|"token"\s*:\s*")[A-Za-z0-9_\-]{20,}"#, "$1<token>"),
            // When a report was generated and when runs started and ended: real time, not the as-of time.
            (#"("(generated_at|started_at|finished_at)"\s*:\s*")[^"]*""#, "$1<time>\""),
        ]
        for (pattern, template) in rules {
            s = s.replacingOccurrences(of: pattern, with: template, options: .regularExpression)
        }
        return s
    }

    static func read(_ dir: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for rel in (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String]) ?? [] {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir + "/" + rel, isDirectory: &isDir), !isDir.boolValue else { continue }
            out[rel] = try String(contentsOfFile: dir + "/" + rel, encoding: .utf8)
        }
        return out
    }

    /// Where the two first differ: the line, and the text around the first differing character.
    static func firstDifference(_ a: String, _ b: String) -> String {
        let x = Array(a.utf8), y = Array(b.utf8)
        var i = 0
        while i < x.count, i < y.count, x[i] == y[i] { i += 1 }
        guard i < x.count || i < y.count else { return "none" }
        let line = x[..<min(i, x.count)].filter { $0 == 0x0A }.count + 1
        func around(_ bytes: [UInt8]) -> String {
            let lo = max(0, i - 60), hi = min(bytes.count, i + 100)
            return lo < hi ? String(decoding: bytes[lo..<hi], as: UTF8.self) : "<end>"
        }
        return "line \(line): now …\(around(x))… | golden …\(around(y))…"
    }
}
