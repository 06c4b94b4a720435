import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayEngine

/// The run's as-of time is the only "now" of the engine: a replay must behave like the days it
/// replays, so no code of any target may read the system clock except through `WallClock`,
/// whose uses are for time-outs, durations and file ages (and the as-of time of a run started
/// without --as-of).
@Suite("One clock")
struct WallClockTests {
    static let readers = ["Date()", "Date.now", "Date(timeIntervalSinceNow", "CFAbsoluteTimeGetCurrent", "gettimeofday(", "time(nil)"]

    @Test func noEngineCodeReadsTheSystemClockButWallClock() throws {
        var offenders: [String] = []
        // Every target of the package, so that a new one is covered the day it is added.
        let sources = Fixtures.repoRoot.appendingPathComponent("Sources").path
        let targets = try FileManager.default.contentsOfDirectory(atPath: sources).filter { !$0.hasPrefix(".") }
        #expect(targets.contains("GatewayReceiver") && targets.contains("caas-gateway"), "\(targets)")
        var scanned = 0
        for target in targets {
            let dir = sources + "/" + target
            // C targets (module maps, shims) have no Swift to read.
            let files = try #require(FileManager.default.enumerator(atPath: dir)).compactMap { $0 as? String }.filter {
                $0.hasSuffix(".swift")
            }
            if !files.isEmpty { scanned += 1 }
            for file in files where file != "Run/RunContext.swift" {
                let lines = try String(contentsOfFile: dir + "/" + file, encoding: .utf8).split(
                    separator: "\n", omittingEmptySubsequences: false)
                for (n, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                    if let reader = Self.readers.first(where: { line.contains($0) }) {
                        offenders.append("\(target)/\(file):\(n + 1): \(reader)")
                    }
                }
            }
        }
        #expect(scanned >= 9, "Swift targets scanned: \(scanned)")
        #expect(offenders.isEmpty, "read the run's asOf, or WallClock for a duration: \(offenders)")
    }

    /// The check above is only as good as its list: it must find a reader where there is one.
    @Test func theCheckFindsAClockReader() {
        #expect(Self.readers.contains { "let now = Date()".contains($0) })
        #expect(!Self.readers.contains { "let d = Date(timeIntervalSince1970: 0)".contains($0) })
    }
}
