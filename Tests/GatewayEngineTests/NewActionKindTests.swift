import Foundation
import GatewayCore
import GatewayStore
import Logging
import Testing

@testable import GatewayEngine

// A kind of action only this test knows, declared as a new kind is: its name and its performer,
// in one file. The gateway's own registry would get one line for it.
extension DueActionKind {
    static let waxVehicle = DueActionKind.register("wax_vehicle")
}

/// Waxes every vehicle of a sale just registered (a line in outbox/wax/).
struct WaxVehicleAction: OutboxPerformer {
    let kind = DueActionKind.waxVehicle
    let outbox: OutboxStream

    func due(in view: OrderView) -> [DueAction] {
        view.state == .saleRegistered ? [DueAction(kind: kind, orderRef: view.ref)] : []
    }

    func line(_ item: ActionItem, pass: ActionPass, inFlight: inout ActionCommit) throws -> Prepared<OutboxLine> {
        guard item.view?.state == .saleRegistered else { return .settled(.skipped("no longer due")) }
        return .perform(OutboxLine(text: #"{"idempotency_key":"\#(item.action.key)","order_ref":"\#(item.orderRef)"}"#))
    }
}

@Suite("A new kind of action is one type the driver runs")
struct NewActionKindTests {
    @Test func theDriverTakesANewKindFromDueToDoneWithNothingElseChanged() throws {
        let box = try Sandbox()
        try box.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml"])
        let g = try box.gateway()
        _ = try g.ingest(asOf: Timestamp.parseISO("2026-10-01T23:00:00Z")!)
        let wax = WaxVehicleAction(outbox: OutboxStream(root: box.config.outbox, folder: "wax", stream: "wax"))
        let performers: [any ActionPerformer] = g.performers + [wax]
        let asOf = Timestamp.parseISO("2026-10-01T23:00:00Z")!
        let folded = try FoldStage(
            store: g.storeForQueries, policies: box.config.policies, logger: Logger(label: "test"),
            due: { view in performers.flatMap { $0.due(in: view) } }, rules: box.config.reconciliation
        ).fold(asOf: asOf)
        #expect(folded.folded == 2)

        let ctx = RunContext(
            runID: "r-wax", command: "act", asOf: asOf, logger: Logger(label: "test"), config: box.config, dryRun: false, runner: "t")
        let driver = ActionDriver(store: g.storeForQueries, crashPoint: CrashPoint(), batch: 100)
        let outcome = try driver.pass(wax, run: ctx, number: 1)
        #expect(outcome.done == 2 && outcome.files.count == 1)
        let waxed = try g.storeForQueries.actions(status: .done).filter { $0.kind == .waxVehicle }.map(\.orderRef).sorted()
        #expect(waxed == ["S-2026-000101", "S-2026-000102"])
        let lines = try String(contentsOfFile: try #require(outcome.files.first), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines.allSatisfy { $0.contains("wax_vehicle:S-2026-00010") })
        // Done is done: a second pass finds nothing to do.
        #expect(try driver.pass(wax, run: ctx, number: 2).handled == 0)
    }
}
