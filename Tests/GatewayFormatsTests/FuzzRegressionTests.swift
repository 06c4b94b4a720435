import Foundation
import GatewayFuzzTargets
import GatewayTestSupport
import Testing

/// Every input a fuzzer ever crashed a reader with (`Tests/Fuzz/regressions/<target>/`, written
/// there by scripts/fuzz and committed with the fix), and the seeds, through the same targets:
/// each must come back without a trap. Seeded mutations of the story's files run through every
/// target here too (a fixed number, the same inputs every time), so a reader that traps on a near
/// miss of a real file fails the suite without libFuzzer.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let root = Fixtures.repoRoot.appendingPathComponent("Tests/Fuzz").path

    static func cases(_ folder: String) -> [(target: String, file: String)] {
        let dir = root + "/" + folder
        let targets = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return targets.sorted().flatMap { t in
            ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/" + t)) ?? []).sorted().map {
                (t.hasPrefix("feed-") ? "feed:" + t.dropFirst(5) : t, dir + "/" + t + "/" + $0)
            }
        }
    }

    @Test func everyRegressionCaseAndSeedComesBackWithoutATrap() throws {
        let targets = try FuzzTargets(mappingsDir: Fixtures.mappingsDir)
        let all = Self.cases("regressions") + Self.cases("seeds")
        #expect(all.count >= 6)
        for c in all {
            let input = try Data(contentsOf: URL(fileURLWithPath: c.file))
            #expect(targets.run(c.target, input), "\(c.file) names no target")
        }
    }

    @Test func everyTargetTakesTheStoryFilesAndNothingAtAll() throws {
        let targets = try FuzzTargets(mappingsDir: Fixtures.mappingsDir)
        #expect(targets.names.count == 5 + targets.mappings.count)
        let story = Fixtures.repoRoot.appendingPathComponent("samples/partner-story").path
        let files = (try FileManager.default.subpathsOfDirectory(atPath: story)).sorted().prefix(40)
        for name in targets.names {
            #expect(targets.run(name, Data()))
            for f in files {
                guard let data = FileManager.default.contents(atPath: story + "/" + f) else { continue }
                targets.run(name, data)
            }
        }
    }

    static func seedPool() throws -> [Data] {
        let dirs = ["samples/partner-story", "Tests/Fixtures/camt", "Tests/Fixtures/csv-edge", "Tests/Fuzz"]
        return try dirs.flatMap { rel -> [Data] in
            let dir = Fixtures.repoRoot.appendingPathComponent(rel).path
            return try FileManager.default.subpathsOfDirectory(atPath: dir).sorted().compactMap { f in
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: dir + "/" + f, isDirectory: &isDir), !isDir.boolValue else { return nil }
                return FileManager.default.contents(atPath: dir + "/" + f)
            }
        }
    }

    @Test(arguments: ["csv", "xml", "timestamp", "decimal", "fold", "feed:"])
    func seededMutationsOfTheStoryComeBackWithoutATrap(_ target: String) throws {
        let targets = try FuzzTargets(mappingsDir: Fixtures.mappingsDir)
        let pool = try Self.seedPool()
        #expect(pool.count > 50)
        let names = target == "feed:" ? targets.names.filter { $0.hasPrefix("feed:") } : [target]
        #expect(!names.isEmpty)
        var mutator = SeededMutator(seed: 2026)
        for name in names {
            for _ in 0..<(target == "feed:" ? 150 : 600) { #expect(targets.run(name, mutator.next(from: pool))) }
        }
    }
}
