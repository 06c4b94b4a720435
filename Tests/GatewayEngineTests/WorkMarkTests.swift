import Foundation
import GatewayTestSupport
import Logging
import Testing

@testable import GatewayCore
@testable import GatewayEngine
@testable import GatewayStore

/// The run's working-on mark and how the next run judges what it left (issue 25, crash-only
/// isolation). The deaths themselves are real processes in CaasGatewayCLITests.CrashIsolationTests.
@Suite("The working-on mark")
struct WorkMarkTests {
    let logger = Logger(label: "test")

    @Test func namesTheItemWhileItIsHandledAndNothingOnceDone() throws {
        let path = Fixtures.tempDir() + "/working-on"
        let mark = try WorkMark(path: path, runID: "r1", logger: logger)
        // A hostile file name: tabs, a line end and percent signs stay one field.
        let name = "psp/a\tb\nc%25d.csv"
        mark.set(.file, key: "ab12", name: name, stage: "read")
        #expect(WorkMark.left(at: path) == WorkMark.Left(kind: .file, key: "ab12", name: name, stage: "read", runID: "r1", signal: nil))
        mark.set(.order, key: "S-1", name: "S-1", stage: "fold")
        #expect(WorkMark.left(at: path)?.key == "S-1", "replaced, not appended")
        mark.clear()
        #expect(WorkMark.left(at: path) == nil)
        let thrown = Result { try mark.around(.order, key: "S-2", name: "S-2", stage: "fold") { throw StoreError("x") } }
        #expect(throws: StoreError.self) { try thrown.get() }
        #expect(WorkMark.left(at: path) == nil, "an error is not a death: the mark is emptied on the way out")
    }

    @Test func aRecordLongerThanTheSlotIsWrittenWholeAndTheNextShortOneCutsItOff() throws {
        let path = Fixtures.tempDir() + "/working-on"
        let mark = try WorkMark(path: path, runID: "r1", logger: logger)
        let long = "S-" + String(repeating: "7", count: 5_000)
        mark.set(.order, key: long, name: long, stage: "fold")
        #expect(WorkMark.left(at: path)?.key == long)
        mark.set(.order, key: "S-1", name: "S-1", stage: "fold")
        #expect(WorkMark.left(at: path)?.key == "S-1")
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == 4096, "one slot, nothing of the long record after it")
    }

    @Test func aNewRunStartsFromAnEmptyMark() throws {
        let path = Fixtures.tempDir() + "/working-on"
        // What a process that died of a signal left: its record and the signal after the slot.
        let record = "caas-working-on\torder\tS-1\tS-1\tfold\tr0\n"
        let dead = record + String(repeating: " ", count: 4096 - record.utf8.count - 1) + "\nsignal 4\n"
        try Data(dead.utf8).write(to: URL(fileURLWithPath: path))
        #expect(WorkMark.left(at: path)?.signal == 4)
        let mark = try WorkMark(path: path, runID: "r1", logger: logger)
        #expect(WorkMark.left(at: path) == nil)
        mark.set(.order, key: "S-2", name: "S-2", stage: "fold")
        #expect(WorkMark.left(at: path)?.signal == nil, "the dead run's signal does not sign this run's item")
    }

    @Test func readsTheSignalAndIgnoresWhatIsNotAMark() throws {
        let dir = Fixtures.tempDir()
        func left(_ text: String) throws -> WorkMark.Left? {
            try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/m"))
            return WorkMark.left(at: dir + "/m")
        }
        #expect(try left("caas-working-on\torder\tS-1\tS-1\treview\tr9\nsignal 11\n")?.signal == 11)
        #expect(try left("caas-working-on\torder\tS-1\tS-1\treview\tr9\nsignal 999\n")?.signal == nil, "not a signal number")
        #expect(try left("caas-working-on\torder\tS-1\tS-1\tre") == nil, "cut short")
        #expect(try left("caas-working-on\tinvoice\tI-1\tI-1\tread\tr9\n") == nil, "a kind this version does not know")
        #expect(try left("\u{0}\u{0}\u{0}signal 4\n") == nil)
        #expect(try left("") == nil)
        #expect(WorkMark.left(at: dir + "/absent") == nil)
    }

    @Test func aSignalSetsAsideAtOnceADeathWithoutOneOnTheSecond() {
        let at = Date(timeIntervalSince1970: 1_790_000_000)
        let trapped = WorkMark.Left(kind: .order, key: "S-1", name: "S-1", stage: "fold", runID: "r1", signal: 4)
        let killed = WorkMark.Left(kind: .order, key: "S-1", name: "S-1", stage: "fold", runID: "r1", signal: nil)
        #expect(CrashIsolation.judge(trapped, known: nil, at: at).isSetAside)
        let first = CrashIsolation.judge(killed, known: nil, at: at)
        #expect(!first.isSetAside && first.deaths == 1)
        let second = CrashIsolation.judge(killed, known: first, at: at)
        #expect(second.isSetAside && second.deaths == 2)
        #expect(CrashIsolation.describe(signal: 4) == "signal 4 (SIGILL)")
        #expect(CrashIsolation.describe(signal: nil).contains("SIGKILL"))
    }
}
