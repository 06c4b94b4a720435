import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine

/// The partner story replayed twice, day by day: once clean, once with one poisoned file dropped
/// beside each day's files (issue 25's classes, in turn: amounts no partner means, amounts wider
/// than any number, times that trap or never happened, a FIFO, a name of 255 bytes, a DOCTYPE).
/// No run may fail, and every order must end as in the clean story.
@Suite("The story with a poisoned file every day", .serialized)
struct PoisonedStoryTests {
    /// A file no partner should send, named so it never collides with the day's real files.
    struct Poison {
        let name: String
        let make: (_ path: String) throws -> Void
    }

    static func text(_ s: String) -> (String) throws -> Void { { try s.write(toFile: $0, atomically: true, encoding: .utf8) } }

    static let psp = "psp_reference,merchant_reference,payment_method,event_code,success,amount_minor,currency,reason,event_date\n"

    static func poisons() throws -> [Poison] {
        let camt = try String(contentsOfFile: Fixtures.story("bank/camt054_20261105.xml"), encoding: .utf8)
        let dms = try String(contentsOfFile: Fixtures.story("dealer-dms/VENDAS_PT-LIS-01_20261002.csv"), encoding: .utf8)
        let trucklog = "shipment_id;order_ref;vin;event;event_time;location;lat;lon;note\n"
        return [
            Poison(name: "settlement_20990101.csv", make: text(psp + "PSPX1,S-2026-000101-FIN,visa,CAPTURE,true,9223372036854775807,EUR,,2026-10-02T12:00:00Z\n")),
            Poison(name: "settlement_20990102.csv", make: text(psp + "PSPX2,S-2026-000102-RES,visa,CAPTURE,true,-200000,EUR,,2026-10-02T12:00:00Z\n")),
            Poison(name: "settlement_20990103.csv", make: text(psp + "PSPX3,S-2026-000201-RES,visa,CAPTURE,true,0,EUR,,0000-01-01T00:00:00Z\n")),
            Poison(
                name: "camt054_20990104.xml",
                make: text(camt.replacingOccurrences(of: #"Ccy="EUR">"#, with: #"Ccy="EUR">9999999999999999999999999"#))),
            Poison(name: "VENDAS_PT-LIS-01_20990105.csv", make: text(dms.replacingOccurrences(of: ";34990,00;", with: ";3.49.90,00;"))),
            Poison(name: "VENDAS_PT-LIS-01_20990106.csv", make: text(dms.replacingOccurrences(of: ";34990,00;", with: ";99999999999999999999999,00;"))),
            Poison(
                name: "TRANSPORT_TRUCKLOG_20990107.csv",
                make: text(trucklog + "SHP-9;S-2026-000301;WC9CAE105V3012010;DELIVERED;2026-11-10T12:00.5+01:00;M;1;2;\n"
                    + "SHP-9;S-2026-000301;WC9CAE105V3012010;DELIVERED;2026-11-10T12:00:00+15:00;M;1;2;\n")),
            Poison(name: "VENDAS_PT-LIS-01_20990108.csv", make: text(dms.replacingOccurrences(of: "02/10/2026 11:00", with: "29/03/2026 01:30"))),
            Poison(name: "settlement_20990109.csv", make: { path in _ = mkfifo(path, 0o644) }),
            Poison(name: String(repeating: "é", count: 125) + "7.bin", make: text("not a partner file")),
            Poison(name: "SALES_ES-MAD-01_20990110000000.xml", make: text("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>")),
        ]
    }

    struct End: Equatable {
        let state: OrderState?
        let received: Int64
        let factoryOrder: String?
        let plate: String?
        let anomalies: Int
    }

    static func replay(poisoned: Bool) throws -> [String: End] {
        let sim = try FactorySimulator()
        defer { sim.stop() }
        var box = try Sandbox(poisoned ? "poisoned" : "clean")
        try box.useFactory(sim)
        let byDay = ReplayTests.filesByDay()
        let poisons = try Self.poisons()
        for (i, day) in Fixtures.storyDays.enumerated() {
            try box.drop(byDay[day.replacingOccurrences(of: "-", with: "")] ?? [])
            if poisoned {
                let p = poisons[i % poisons.count]
                let path = box.inbox + "/" + p.name
                if !FileManager.default.fileExists(atPath: path) { try p.make(path) }
            }
            _ = try box.run(asOf: day + "T23:00:00Z")  // a throw is a failed run: the test fails
        }
        return Dictionary(
            uniqueKeysWithValues: try box.gateway().orders().map {
                ($0.ref, End(state: $0.state, received: $0.receivedMinor, factoryOrder: $0.factoryOrder, plate: $0.plate, anomalies: $0.anomalies.count))
            })
    }

    @Test func everyOrderEndsAsInTheCleanStoryAndNoRunFails() throws {
        let clean = try Self.replay(poisoned: false)
        let poisoned = try Self.replay(poisoned: true)
        #expect(clean.count >= 13)
        #expect(Set(poisoned.keys) == Set(clean.keys))
        for (ref, end) in clean { #expect(poisoned[ref] == end, "\(ref)") }
    }
}
