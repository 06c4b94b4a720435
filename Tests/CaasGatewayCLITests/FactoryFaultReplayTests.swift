import Foundation
import GatewayTestSupport
import Testing

/// The story against a factory that is busy at each order's first call (503 with Retry-After) and
/// drops the line after accepting it: each order is retried on the following days' runs, on
/// the run's clock, until the factory's answer arrives, and the factory makes each order once.
@Suite("A factory that fails and drops connections still gets every order once", .serialized)
struct FactoryFaultReplayTests {
    func states(_ world: StoryWorld) throws -> [String: String] {
        let r = try world.cli.run(["orders", "--json", "--as-of", "2026-11-20T23:59:00Z"])
        let rows = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: rows.map { ($0["ref"] as! String, $0["state"] as? String ?? "-") })
    }

    @Test func everyOrderIsPlacedOnceAndTheStoryEndsTheSame() throws {
        let clean = try StoryWorld("clean")
        try clean.replay(until: "2026-11-21")
        let cleanPlaced = try clean.endState(asOf: "2026-11-20").factoryOrders

        let faulty = try StoryWorld("faulty")
        let f = try faulty.control(
            faulty.factory.baseURL, faulty.factory.ca, "POST", "/_sim/faults",
            body: Data(#"{"fail_first_per_key": 1, "status": 503, "retry_after": 30, "drop_after_accept": true}"#.utf8))
        #expect(f.status == 200)
        try faulty.replay(until: "2026-11-21")

        let requests = try faulty.json(faulty.factory.baseURL, faulty.factory.ca, "/_sim/requests")
        let placed = Set(requests.filter { $0.value["placed"] as? Bool == true }.keys)
        #expect(cleanPlaced.count == 11, "\(cleanPlaced.sorted())")
        #expect(placed == cleanPlaced)
        // Each order took three calls on three days' runs: busy, accepted but the answer lost, and
        // the factory's 200 for the order it had made.
        #expect(requests.values.allSatisfy { $0["requests"] as? Int == 3 }, "\(requests)")
        #expect(try states(faulty) == states(clean))
        // One factory_order_placed fact per order, whatever the number of calls.
        for ref in placed {
            let explain = try faulty.cli.run(["explain", ref, "--json", "--as-of", "2026-11-20T23:59:00Z"])
            #expect(
                explain.out.components(separatedBy: "\"factory_order_placed\"").count - 1 == 1,
                "\(ref): \(explain.out.prefix(3000)) \(explain.err)")
        }
    }
}
