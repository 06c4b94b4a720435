import CCurl
import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayTransport

@Suite("HTTPS client against the factory simulator", .serialized)
final class HTTPClientTests {
    let factory: FactorySimulator

    init() throws {
        factory = try FactorySimulator()
    }

    deinit { factory.stop() }

    func order(_ ref: String, platform: String = "BASE-FAMILY", key: String? = nil, token: String? = nil) -> HTTPRequest {
        let body =
            #"{"customer_id":"C-1","customer_order_ref":"\#(ref)","dealer_code":"ES-MAD-01","base_platform":"\#(platform)","options":["HEATED-SEATS"],"delivery_location":{"type":"DEALERSHIP","dealer_code":"ES-MAD-01"},"order_date":"2026-10-02T12:00:00Z"}"#
        return HTTPRequest(
            method: "POST", url: factory.baseURL + "/v1/orders",
            headers: [
                ("Authorization", "Bearer \(token ?? factory.token)"), ("Idempotency-Key", key ?? ref),
                ("Content-Type", "application/json"),
            ],
            body: Data(body.utf8), timeout: 5, connectTimeout: 2)
    }

    func json(_ r: HTTPResponse) throws -> [String: Any] { try JSONSerialization.jsonObject(with: r.body) as! [String: Any] }

    var client: HTTPClient { HTTPClient(tls: TLSOptions(caBundle: factory.ca.caCertificate)) }

    /// Every request has a fresh connection, but one client's connections resume its TLS session:
    /// a pass of many calls to one partner does not pay a full handshake for each.
    @Test func oneClientsConnectionsResumeItsTLSSession() throws {
        let tls = { (c: HTTPClient) throws -> [String: Int] in
            try JSONSerialization.jsonObject(with: c.send(HTTPRequest(method: "GET", url: self.factory.baseURL + "/_sim/tls")).body)
                as! [String: Int]
        }
        let before = try tls(HTTPClient(tls: TLSOptions(caBundle: factory.ca.caCertificate)))
        let shared = client
        for _ in 0..<4 { #expect(try shared.send(HTTPRequest(method: "GET", url: factory.baseURL + "/_sim/requests")).status == 200) }
        let after = try tls(shared)
        #expect(after["connections"]! - before["connections"]! == 5)
        #expect(after["resumed"]! - before["resumed"]! >= 4, "\(before) \(after)")
    }

    @Test func theOrderAPIAnswersAsTheContractSays() throws {
        let first = try client.send(order("S-2026-000101"))
        #expect(first.status == 201)
        #expect(try json(first)["order_id"] as? String == "FO-VLC1-0004701")
        #expect(try json(first)["estimated_delivery"] as? String == "2026-11-05")
        let again = try client.send(order("S-2026-000101"))
        let againID = try json(again)["order_id"] as? String
        #expect(again.status == 200 && againID == "FO-VLC1-0004701")
        #expect(try client.send(order("S-2026-000101", platform: "BASE-SPORT")).status == 409)
        let bad = try client.send(order("S-2026-000102", platform: "BASE-ROCKET"))
        let badField = try json(bad)["field"] as? String
        #expect(bad.status == 422 && badField == "base_platform")
        #expect(try client.send(order("S-2026-000102", token: "wrong")).status == 401)
        let fresh = try client.send(order("S-2026-000777"))
        let freshID = try json(fresh)["order_id"] as? String
        #expect(fresh.status == 201 && freshID?.hasPrefix("FO-VLC1-") == true)
    }

    @Test func serviceUnavailableCarriesRetryAfter() throws {
        _ = try client.send(
            HTTPRequest(
                method: "POST", url: factory.baseURL + "/_sim/faults", body: Data(#"{"fail_every":1,"status":503,"retry_after":7}"#.utf8)))
        let r = try client.send(order("S-2026-000103"))
        #expect(r.status == 503 && r.retryAfter == 7)
        let counts = try client.send(HTTPRequest(method: "GET", url: factory.baseURL + "/_sim/requests"))
        let seen = try json(counts)["S-2026-000103"] as? [String: Any]
        #expect(seen?["requests"] as? Int == 1 && seen?["placed"] as? Bool == false)
    }

    @Test func tlsIsVerifiedWithoutAnySwitchToTurnItOff() throws {
        do {
            _ = try HTTPClient().send(order("S-2026-000101"))  // system CAs do not know the test CA
            Issue.record("an unverified server was accepted")
        } catch let e as TransportError {
            #expect(!e.isTransient)
            #expect(e.message.contains("TLS refused"))
        }
        // Right CA, wrong name: the certificate is for 127.0.0.1 and localhost only.
        var r = order("S-2026-000101")
        r.url = r.url.replacingOccurrences(of: "127.0.0.1", with: "127.0.0.2")
        #expect(throws: TransportError.self) { _ = try self.client.send(r) }
    }

    @Test func aSlowAnswerTimesOutAndADroppedConnectionIsTransient() throws {
        _ = try client.send(HTTPRequest(method: "POST", url: factory.baseURL + "/_sim/faults", body: Data(#"{"delay":3}"#.utf8)))
        var slow = order("S-2026-000104")
        slow.timeout = 1
        do {
            _ = try client.send(slow)
            Issue.record("no time-out")
        } catch let e as TransportError {
            #expect(e.isTransient)
        }
        _ = try client.send(
            HTTPRequest(method: "POST", url: factory.baseURL + "/_sim/faults", body: Data(#"{"drop_after_accept":true}"#.utf8)))
        do {
            _ = try client.send(order("S-2026-000105"))
            Issue.record("an answer came")
        } catch let e as TransportError {
            #expect(e.isTransient)
        }
        // The factory did place it: asking again with the same key gets the order, not a second one.
        _ = try client.send(HTTPRequest(method: "POST", url: factory.baseURL + "/_sim/faults", body: Data("{}".utf8)))
        let replay = try client.send(order("S-2026-000105"))
        #expect(replay.status == 200)
        let counts = try json(try client.send(HTTPRequest(method: "GET", url: factory.baseURL + "/_sim/requests")))
        #expect((counts["S-2026-000105"] as? [String: Any])?["requests"] as? Int == 2)  // no silent resend by libcurl
    }

    @Test func aClosedPortIsTransient() throws {
        factory.stop()
        do {
            _ = try client.send(order("S-2026-000101"))
            Issue.record("connected")
        } catch let e as TransportError {
            #expect(e.isTransient)
        }
    }
}

@Suite("How libcurl failures are classified")
struct HTTPFailureClassTests {
    @Test func aPeersTLSAlertIsARefusalNotANetworkBlip() {
        let alert = HTTPClient.classify(
            CURLE_RECV_ERROR, url: "https://x", detail: "OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate required")
        #expect(alert.kind == .hostKey && !alert.isTransient)
        let reset = HTTPClient.classify(CURLE_RECV_ERROR, url: "https://x", detail: "Connection reset by peer")
        #expect(reset.kind == .connection && reset.isTransient)
    }
}
