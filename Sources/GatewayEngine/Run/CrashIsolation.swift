import Foundation
import GatewayCore
import GatewayStore
import Logging

/// Crash-only isolation: an item whose handling kills the process is set aside by the next run,
/// which then goes on with everything else, instead of dying at the same item run after run.
///
/// A fatal signal (a trap, a bad access, an abort) names the culprit: the item is set aside at
/// once. A death without one (SIGKILL, the OOM killer, a power loss) may have come from outside,
/// so the item is tried once more, and set aside if it dies again. A file set aside is
/// quarantined, and `requeue` brings it back; an order set aside keeps its facts and its last
/// state, is not folded, and is a `fold_failed` exception until `retry fold:<ref>` brings it back.
enum CrashIsolation {
    /// Deaths without a signal an item gets before it is set aside.
    static let deathsWithoutSignal = 2

    /// What the store should know of an item after the death `left` describes.
    static func judge(_ left: WorkMark.Left, known: SetAsideItem?, at: Date) -> SetAsideItem {
        let deaths = (known?.deaths ?? 0) + 1
        return SetAsideItem(
            kind: left.kind, key: left.key, name: left.name, stage: left.stage, signal: left.signal, deaths: deaths,
            runID: left.runID, at: at, isSetAside: left.signal != nil || deaths >= deathsWithoutSignal)
    }

    /// Records the death the previous process left in its mark, if any, and says what became of the item.
    @discardableResult
    static func recordDeath(leftAt path: String, store: any CrashLedger, ctx: RunContext) throws -> SetAsideItem? {
        guard let left = WorkMark.left(at: path) else { return nil }
        let item = judge(left, known: try store.itemDeaths(kind: left.kind, key: left.key), at: ctx.asOf)
        try store.recordItemDeath(item)
        let metadata: Logger.Metadata = [
            "item": "\(left.kind.rawValue) \(left.name)", "stage": "\(left.stage)", "signal": "\(describe(signal: left.signal))",
            "dead_run": "\(left.runID)", "deaths": "\(item.deaths)",
        ]
        if item.isSetAside {
            ctx.logger.error("the previous run died handling this item: it is set aside, the rest goes on", metadata: metadata)
        } else {
            ctx.logger.warning("the previous run died handling this item with no signal: it is tried once more", metadata: metadata)
        }
        return item
    }

    /// "signal 4 (SIGILL)", or what a death without one may have been.
    static func describe(signal: Int?) -> String {
        guard let signal else { return "no signal recorded (SIGKILL, out of memory, or power loss)" }
        let names: [Int32: String] = [
            SIGILL: "SIGILL", SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGSEGV: "SIGSEGV",
        ]
        return "signal \(signal)\(names[Int32(clamping: signal)].map { " (\($0))" } ?? "")"
    }

    /// Why a file set aside is in quarantine, and what to do: its reason file and its exception.
    static func quarantineReason(_ item: SetAsideItem) -> String {
        "the gateway died (\(describe(signal: item.signal))) while it was at stage \(item.stage) of this file in run \(item.runID); "
            + "the file is set aside so that the other files go on. Report it with that run's log (the crash and its backtrace are there); "
            + "once a caas-gateway release handles it, caas-gateway requeue <name> brings it back"
    }
}
