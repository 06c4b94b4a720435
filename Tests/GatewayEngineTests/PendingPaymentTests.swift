import Foundation
import GatewayCore
import GatewayTestSupport
import Testing

@testable import GatewayEngine

/// A PENDING report from the card provider is never money; left undecided too long it is the
/// finance exception "ask the provider", and the provider's final word settles it.
@Suite("Pending card payments")
struct PendingPaymentTests {
    static let header = "psp_reference,merchant_reference,payment_method,event_code,success,amount_minor,currency,reason,event_date\n"

    func settlement(_ box: Sandbox, _ day: String, _ rows: [String]) throws {
        try FileManager.default.createDirectory(atPath: box.inbox, withIntermediateDirectories: true)
        try (Self.header + rows.joined(separator: "\n") + "\n").write(
            toFile: box.inbox + "/settlement_\(day.replacingOccurrences(of: "-", with: "")).csv", atomically: true, encoding: .utf8)
    }

    @Test func pendingIsNotMoneyThenAnExceptionThenSettledByTheCapture() throws {
        let box = try Sandbox()
        try box.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml"])
        _ = try box.run(asOf: "2026-10-01T23:00:00Z")
        try settlement(box, "2026-10-02", ["PSP900000000001,S-2026-000101-RES,ideal,PENDING,true,300000,EUR,,2026-10-02T12:00:00Z"])
        let s = try box.run(asOf: "2026-10-02T23:00:00Z")
        #expect(s.recordsRejected == 0, "PENDING is a record the mapping knows")
        let view = try #require(try box.gateway().storeForQueries.projection(ref: "S-2026-000101"))
        #expect(view.receivedMinor == 0 && view.state == .awaitingReservation, "\(String(describing: view.state))")
        #expect(view.pendingPayments?["PSP900000000001"] != nil)
        // 48 hours later: finance is asked to chase the provider.
        let later = try box.gateway().exceptions(asOf: Timestamp.parseISO("2026-10-04T13:00:00Z")!)
        let pending = try #require(later.first { $0.rule == "payment_pending" })
        #expect(pending.owner == .finance && pending.order == "S-2026-000101" && pending.todo.contains("ask the provider"), "\(pending)")
        #expect(try box.gateway().exceptions(asOf: Timestamp.parseISO("2026-10-04T11:00:00Z")!).allSatisfy { $0.rule != "payment_pending" })
        // The provider's capture settles it: money, and the exception gone.
        try settlement(box, "2026-10-05", ["PSP900000000001,S-2026-000101-RES,ideal,CAPTURE,true,300000,EUR,,2026-10-05T09:00:00Z"])
        _ = try box.run(asOf: "2026-10-05T23:00:00Z")
        let paid = try #require(try box.gateway().storeForQueries.projection(ref: "S-2026-000101"))
        #expect(paid.receivedMinor == 300_000 && paid.state != .awaitingReservation && paid.pendingPayments == nil)
        #expect(try box.gateway().exceptions(asOf: Timestamp.parseISO("2026-10-05T23:00:00Z")!).allSatisfy { $0.rule != "payment_pending" })
    }
}
