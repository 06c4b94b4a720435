import Foundation
import Testing

@testable import GatewayEngine

/// Partner calls block a thread each: the configured concurrency must be reached, not capped at
/// the machine's core count (2 here).
@Suite("Partner calls run at their configured concurrency")
struct BoundedConcurrencyTests {
    /// Counts calls inside at once; each call waits until `target` are inside (or a safety limit).
    final class Gate: @unchecked Sendable {
        let condition = NSCondition()
        var inside = 0
        var most = 0

        func pass(target: Int) {
            condition.lock()
            inside += 1
            most = max(most, inside)
            condition.broadcast()
            let limit = Date(timeIntervalSinceNow: 20)
            while most < target && condition.wait(until: limit) {}
            inside -= 1
            condition.unlock()
        }
    }

    @Test(arguments: [4, 8, 16])
    func asManyCallsAreInFlightAsConfigured(limit: Int) {
        let gate = Gate()
        let results = BoundedConcurrency.map(count: limit * 3, limit: limit) { i in
            gate.pass(target: limit)
            return i * 2
        }
        #expect(gate.most == limit)
        #expect(results == (0..<(limit * 3)).map { $0 * 2 })
    }

    @Test func neverMoreThanTheLimit() {
        let gate = Gate()
        _ = BoundedConcurrency.map(count: 40, limit: 3) { _ in gate.pass(target: 3) }
        #expect(gate.most == 3)
    }
}
