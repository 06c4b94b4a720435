import Foundation
import GatewayTestSupport
import Testing

/// The story replayed with the process killed at every durable boundary of chosen days: after
/// every `fsync` or `fdatasync` the run makes (each SQLite commit, each atomic file), one trial
/// kills it there and runs the day again. Each trial must end exactly as the uninterrupted day:
/// the same orders, every line for a partner written once, every factory order and registration
/// made once by the simulators' own records.
///
/// CI takes the days below; `scripts/crash-replay` takes every day of the story
/// (`CAAS_CRASH_DAYS=all`, or a comma-separated list of days).
@Suite("A crash at any durable boundary loses nothing and doubles nothing", .serialized)
struct CrashReplayTests {
    /// 2 Oct: sales paid, credentials issued, factory orders placed. 5 Nov: registrations in
    /// five countries. 16 Nov: a vehicle released to dealership stock, with its notice.
    static let ciDays = ["2026-10-02", "2026-11-05", "2026-11-16"]

    static var chosenDays: [String] {
        switch ProcessInfo.processInfo.environment["CAAS_CRASH_DAYS"] {
        case nil, "": return ciDays
        case "all": return StoryWorld.days
        case let list?: return list.split(separator: ",").map { String($0) }
        }
    }

    @Test func everyBoundaryOfTheChosenDaysConverges() throws {
        let shim = try CrashShim.library.get()
        let world = try StoryWorld()
        let chosen = Set(Self.chosenDays)
        var tally: [String] = []
        for day in StoryWorld.days {
            try world.drop(day: day)
            guard chosen.contains(day) else {
                let r = try world.run(day: day)
                try #require(r.code == 0 || r.code == 2, "\(day): \(r.err)")
                continue
            }
            let before = try world.save()
            let countFile = world.home + ".fsyncs"
            let uninterrupted = try world.run(day: day, environment: ["LD_PRELOAD": shim, "CAAS_FSYNC_COUNT_FILE": countFile])
            try #require(uninterrupted.code == 0 || uninterrupted.code == 2, "\(day): \(uninterrupted.err)")
            let boundaries =
                Int(try String(contentsOfFile: countFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            try #require(boundaries > 0, "the shim saw no fsync: is LD_PRELOAD honoured?")
            let reference = try world.endState(asOf: day)
            #expect(reference.outboxKeys.values.allSatisfy { $0 == 1 }, "\(day) uninterrupted: \(reference)")
            let after = try world.save()
            var killed = 0
            for k in 1...boundaries {
                try world.restore(before)
                let cut = try world.run(day: day, environment: ["LD_PRELOAD": shim, "CAAS_KILL_AT_FSYNC": "\(k)"])
                if cut.signal == SIGKILL { killed += 1 }
                let rerun = try world.run(day: day)
                #expect(rerun.code == 0 || rerun.code == 2, "\(day), killed at boundary \(k): the rerun failed: \(rerun.err)")
                let end = try world.endState(asOf: day)
                #expect(end == reference, "\(day), killed at boundary \(k) of \(boundaries): \(end) instead of \(reference)")
                #expect(end.submissionsPerOrder.values.allSatisfy { $0 == 1 }, "\(day), boundary \(k): an order submitted twice")
            }
            try world.restore(after)
            #expect(killed >= boundaries - 1, "\(day): only \(killed) of \(boundaries) trials were killed")
            tally.append("\(day): \(boundaries) boundaries, \(killed) killed")
        }
        print("crash replay: " + tally.joined(separator: "; "))
    }
}
