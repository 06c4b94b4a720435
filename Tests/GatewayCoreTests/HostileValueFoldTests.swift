import Foundation
import Testing

@testable import GatewayCore

/// Values no partner can mean reach the fold only from a store written before ingest refused
/// them (issue 25: Int64.max minor units trapped `applyPayment` on every later run). The fold
/// sets such a fact aside and never traps; times are read without a trap whatever their text.
@Suite("Hostile values in the fold and the clock")
struct HostileValueFoldTests {
    @Test(arguments: [Int64.max, Int64.min, 0, -1, Money.plausibleMinor.upperBound + 1])
    func aStoredImplausibleAmountIsSetAsideAndTheOrderStillMoves(amount: Int64) {
        var story = OrderStory()
        story.toAwaitingReservation()
        story.pay(amount, day: 1, purpose: "reservation")
        story.pay(amount, day: 1.5, purpose: "reservation", event: "refunded")
        story.pay(300_000, day: 2, purpose: "reservation")
        let view = story.fold()
        #expect(view.state == .reserved, "the good payment still counts")
        #expect(view.receivedMinor == 300_000)
        let set = view.anomalies.filter { $0.code == .implausibleValue }
        #expect(set.count == 2)
        #expect(set.allSatisfy { $0.message.contains("not counted") })
    }

    @Test func sumsSaturateInsteadOfTrapping() {
        #expect(Money.sum(Int64.max, 1) == Int64.max)
        #expect(Money.sum(Int64.min, -1) == Int64.min)
        #expect(Money.difference(Int64.min, 1) == Int64.min)
        #expect(Money.difference(0, Int64.min) == Int64.max)
        #expect(Money.sum(2, 3) == 5 && Money.difference(2, 3) == -1)
        #expect(Money.format(Int64.min, "EUR") == "-92233720368547758.08 EUR")
    }

    @Test(arguments: [
        "2026-10-01T10:05:00.1234Z",  // more than three decimals trapped (a reversed range)
        "2026-10-01T10:05:00.123456789+02:00",
        "2026-10-01T10:05.5Z", "2026-10-01T10:05:0", "9999-99-99T99:99:99Z", "2026-10-01T10:05:00+", "2026-10-01T10:05:00+2",
        "2026-10-01T10:05:00+99:99", "2026-10-01T10:05:00+14:01", "2026-10-01T10:05:00-15:00", "2026-10-01T10:05:00+0160",
        "", "T", "2026-10-01T", String(repeating: "9", count: 40),
    ])
    func anyTimeTextIsReadOrRefusedWithoutATrap(text: String) {
        let d = Timestamp.parseISO(text)
        if let d { #expect(Timestamp.isPlausible(d)) }
    }

    @Test func fractionsPastMillisecondsAreDroppedAndOffsetsStopAtFourteenHours() {
        #expect(Timestamp.parseISO("2026-10-01T10:05:00.1234Z").map(Timestamp.iso) == "2026-10-01T10:05:00.123Z")
        #expect(Timestamp.parseISO("2026-10-01T10:05:00.5Z").map(Timestamp.iso) == "2026-10-01T10:05:00.500Z")
        #expect(Timestamp.parseISO("2026-10-01T10:05:00+14:00").map(Timestamp.iso) == "2026-09-30T20:05:00Z")
        #expect(Timestamp.parseISO("2026-10-01T10:05:00-1400").map(Timestamp.iso) == "2026-10-02T00:05:00Z")
        #expect(Timestamp.parseISO("2026-10-01T10:05:00+14:30") == nil)
        #expect(Timestamp.parseISO("2026-10-01T10:05:00+15") == nil)
        #expect(Timestamp.parseISO("2026-10-01T10:05:00+01:60") == nil)
    }

    @Test func yearsOutsideNineteenHundredToTwentyOneNinetyNineAreNotPlausible() throws {
        for (text, plausible) in [
            ("0000-01-01", false), ("1899-12-31T23:59:59Z", false), ("1900-01-01", true), ("2199-12-31T23:59:59Z", true),
            ("2200-01-01", false), ("9999-12-31", false),
        ] {
            let d = try #require(Timestamp.parseISO(text), "\(text) is a date")
            #expect(Timestamp.isPlausible(d) == plausible, "\(text)")
        }
    }
}
