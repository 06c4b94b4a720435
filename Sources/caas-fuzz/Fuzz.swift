import Foundation
import GatewayFuzzTargets

// Two ways to drive the same targets (GatewayFuzzTargets):
// - built with `swift build --sanitize=fuzzer -Xswiftc -DFUZZING` (scripts/fuzz), libFuzzer's
//   own main runs the target named by CAAS_FUZZ_TARGET, coverage-guided;
// - built normally, `caas-fuzz TARGET SEEDS... [--runs N] [--seed S]` mutates the seed files with
//   a seeded generator (SeededMutator) and runs the target in this process: the same input for
//   the same seed, and the one being tried is in `.caas-fuzz-current` if it traps.

/// The targets, built once (the shipped mappings are read from CAAS_FUZZ_MAPPINGS or ./mappings/feeds).
let targets: FuzzTargets = {
    let dir = ProcessInfo.processInfo.environment["CAAS_FUZZ_MAPPINGS"] ?? "mappings/feeds"
    do { return try FuzzTargets(mappingsDir: dir) } catch {
        FileHandle.standardError.write(Data("caas-fuzz: cannot load the mappings in \(dir): \(error)\n".utf8))
        exit(64)
    }
}()

#if FUZZING
let target = ProcessInfo.processInfo.environment["CAAS_FUZZ_TARGET"] ?? ""

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = data.map { Data(bytes: $0, count: size) } ?? Data()
    guard targets.run(target, input) else {
        FileHandle.standardError.write(Data("caas-fuzz: CAAS_FUZZ_TARGET must be one of \(targets.names.joined(separator: " "))\n".utf8))
        exit(64)
    }
    return 0
}
#else
@main
struct SeededFuzz {
    static func main() {
        var args = Array(CommandLine.arguments.dropFirst())
        func option(_ name: String, _ fallback: UInt64) -> UInt64 {
            guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = UInt64(args[i + 1]) else { return fallback }
            args.removeSubrange(i...(i + 1))
            return v
        }
        let runs = option("--runs", 2_000)
        var mutator = SeededMutator(seed: option("--seed", 1))
        guard let target = args.first, targets.names.contains(target) else {
            print("usage: caas-fuzz TARGET SEED_FILE_OR_DIR... [--runs N] [--seed S]\ntargets: \(targets.names.joined(separator: " "))")
            exit(64)
        }
        let seeds = args.dropFirst().flatMap(files).compactMap { FileManager.default.contents(atPath: $0) }
        let pool = seeds.isEmpty ? [Data()] : seeds
        let current = ".caas-fuzz-current"
        for _ in 0..<runs {
            let input = mutator.next(from: pool)
            FileManager.default.createFile(atPath: current, contents: input)
            targets.run(target, input)
        }
        try? FileManager.default.removeItem(atPath: current)
        print("caas-fuzz \(target): \(runs) inputs from \(pool.count) seeds, no crash")
    }

    static func files(_ path: String) -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return [] }
        guard isDir.boolValue else { return [path] }
        let names = (try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { path + "/" + $0 }.filter {
            var d: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && !d.boolValue
        }
    }
}
#endif
