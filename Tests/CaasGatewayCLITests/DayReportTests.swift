import Foundation
import GatewayTestSupport
import Testing

/// The morning report covers the whole day, however often cron ran: with two runs a day, every
/// exception the story opens or resolves on a day is in that day's report, not only those of the
/// last run. A run that died shows as interrupted in the next report.
@Suite("The day's report accumulates the day's runs", .serialized)
struct DayReportTests {
    func report(_ world: StoryWorld, _ day: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: world.home + "/outbox/reports/\(day)/report.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    func keys(_ report: [String: Any], _ field: String) -> Set<String> {
        Set((report[field] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String })
    }

    @Test func twoRunsADayReportEveryOpeningAndResolutionOfTheDay() throws {
        // Two runs a day: the day's files at noon, a quiet run in the evening. Each run's report
        // says what that run found new and resolved since the run before; the evening's report
        // must hold both runs' findings as the day's.
        let world = try StoryWorld()
        var missing: [String] = []
        var onlyAtNoon = 0
        for day in StoryWorld.days {
            try world.drop(day: day)
            try world.cli.run(["run", "--as-of", day + "T12:00:00Z"])
            let noon = try report(world, day)
            try world.run(day: day)
            let evening = try report(world, day)
            let newToday = keys(evening, "new_today"), resolvedToday = keys(evening, "resolved_today")
            for r in [noon, evening] {
                let open = r["exceptions"] as? [[String: Any]] ?? []
                let new = Set(open.filter { $0["is_new"] as? Bool == true }.compactMap { $0["key"] as? String })
                for k in new.subtracting(newToday) { missing.append("\(day) new \(k)") }
                for k in keys(r, "resolved_exceptions").subtracting(resolvedToday) { missing.append("\(day) resolved \(k)") }
            }
            // What the evening alone would have said leaves out what happened at noon.
            onlyAtNoon += keys(noon, "resolved_exceptions").subtracting(keys(evening, "resolved_exceptions")).count
        }
        #expect(missing.isEmpty, "\(missing)")
        #expect(onlyAtNoon > 0, "the story resolves exceptions in the noon runs, which the evening's own list does not show")
        // Customer absent on 13 Nov, collected on 15 Nov: the failed delivery is resolved that day.
        #expect(keys(try report(world, "2026-11-15"), "resolved_today").contains { $0.contains("S-2026-000102") })
    }

    @Test func aRunThatDiedShowsAsInterruptedInTheNextReport() throws {
        let shim = try CrashShim.library.get()
        let world = try StoryWorld()
        try world.drop(day: "2026-10-01")
        let saved = try world.save()
        let countFile = world.home + ".fsyncs"
        try world.run(day: "2026-10-01", environment: ["LD_PRELOAD": shim, "CAAS_FSYNC_COUNT_FILE": countFile])
        let boundaries = Int(try String(contentsOfFile: countFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        try world.restore(saved)
        // Half-way through the run: it has begun, and has more to do.
        let cut = try world.run(day: "2026-10-01", environment: ["LD_PRELOAD": shim, "CAAS_KILL_AT_FSYNC": "\(boundaries / 2)"])
        #expect(cut.signal == SIGKILL)
        try world.run(day: "2026-10-01")
        let runs = try report(world, "2026-10-01")["runs"] as? [[String: Any]] ?? []
        #expect(runs.count == 2)
        #expect(runs.first?["status"] as? String == "interrupted", "\(runs)")
        // Nothing half-written is left in the outbox.
        let outbox = world.home + "/outbox"
        let leftovers = ((FileManager.default.enumerator(atPath: outbox)?.allObjects as? [String]) ?? []).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }
}
