import Crypto
import Foundation
import GatewayTestSupport
import GatewayTransport
import Testing

@testable import GatewayReceiver

/// `caas-gateway receive` as a partner meets it: deliveries signed by the reference Standard
/// Webhooks library (PyPI `standardwebhooks`), each refusal with its status and nothing written,
/// a resend answered without a second file, a rotated secret accepted, and a kill -9 right after
/// a 2xx that loses nothing.
@Suite("The webhook receiver", .serialized)
struct ReceiverTests {
    static let secret = "whsec_" + Data("first-secret-of-32-bytes-exactly!".utf8).base64EncodedString()
    static let next = "whsec_" + Data("the-next-secret-during-rotation!!".utf8).base64EncodedString()

    final class Running {
        let home: String
        let port: Int
        var process: ChildProcess
        var url: String { "\(scheme)://127.0.0.1:\(port)/webhooks/factory" }
        var deliveries: String { home + "/inbox/factory-webhooks" }

        var scheme = "http"
        var cafile: String?

        init(_ name: String = #function, tls ca: TestCA? = nil) throws {
            let cli = try CLI(name)
            home = cli.home
            port = try ChildProcess.freePort()
            try FileManager.default.createDirectory(atPath: home + "/secrets", withIntermediateDirectories: true)
            try ReceiverTests.secret.write(toFile: home + "/secrets/wh1", atomically: true, encoding: .utf8)
            try ReceiverTests.next.write(toFile: home + "/secrets/wh2", atomically: true, encoding: .utf8)
            try """
            webhooks:
              listen: 127.0.0.1:\(port)
              max_body_bytes: 4096
              endpoints:
                - {path: /webhooks/factory, feed: factory-webhooks, secret: [{file: secrets/wh1}, {file: secrets/wh2}]}
            \(ca.map { "  tls: {certificate: \($0.serverCertificate), key: \($0.serverKey)}\n" } ?? "")
            """.write(toFile: home + "/caas-gateway.yaml", atomically: true, encoding: .utf8)
            if let ca {
                scheme = "https"
                cafile = ca.caCertificate
            }
            process = try Self.start(home)
            guard process.waitForPort(port) else { throw StoryError("the receiver did not start: \(Self.log(home))") }
        }

        static func start(_ home: String) throws -> ChildProcess {
            try ChildProcess(
                [CLI.binary, "receive", "--config", home + "/caas-gateway.yaml", "--log-level", "notice"], log: home + "/receiver.log")
        }

        static func log(_ home: String) -> String { (try? String(contentsOfFile: home + "/receiver.log", encoding: .utf8)) ?? "" }

        func files() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: deliveries)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        }

        /// Sends with the reference library; the HTTP status.
        func send(_ body: String, id: String, secret: String = ReceiverTests.secret, extra: [String] = []) throws -> Int {
            let file = home + "/body-\(UInt32.random(in: 0...UInt32.max)).json"
            try body.write(toFile: file, atomically: true, encoding: .utf8)
            let script = Fixtures.repoRoot.appendingPathComponent("Tests/Simulators/webhook_send.py").path
            let (_, text) = try Command.run(
                "/usr/bin/env",
                [ReceiverTests.python, script, "--url", url, "--secret", secret, "--id", id, "--body-file", file]
                    + (cafile.map { ["--cafile", $0] } ?? []) + extra, mergeStandardError: false)
            return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
    }

    /// The interpreter with `standardwebhooks`: install-deps --tests puts it in .build/pyvenv.
    static var python: String {
        let venv = Fixtures.repoRoot.appendingPathComponent(".build/pyvenv/bin/python3").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "python3"
    }

    static let event = """
        {"type": "manufacturing.status", "id": "evt_1", "occurred_at": "2026-10-04T07:00:00Z",
         "data": {"plant": "VLC1", "order_ref": "S-2026-000103", "factory_order": "FO-VLC1-0004703",
                  "code": "PRODUCTION_STARTED", "vin": "VSCCAE108V3047030", "estimated_completion": "2026-11-07"}}
        """

    @Test func validDeliveriesLandOnceAndEveryRefusalWritesNothing() throws {
        let r = try Running()
        defer { r.process.stop() }
        #expect(try r.send(Self.event, id: "msg_1") == 204)
        #expect(r.files().count == 1, "\(r.files())")
        let written = try String(contentsOfFile: r.deliveries + "/" + r.files()[0], encoding: .utf8)
        #expect(written == Self.event, "the raw body, byte for byte")
        #expect(r.files()[0].hasSuffix("_msg_1.json"))
        // The factory retries until it hears 2xx: a resend is answered 204, and writes nothing.
        #expect(try r.send(Self.event, id: "msg_1") == 204)
        #expect(r.files().count == 1)

        let wrong = "whsec_" + Data("somebody-else-entirely-guessing!".utf8).base64EncodedString()
        #expect(try r.send(Self.event, id: "msg_2", secret: wrong) == 401)
        #expect(try r.send(Self.event, id: "msg_3", extra: ["--tamper"]) == 401)
        #expect(try r.send(Self.event, id: "msg_4", extra: ["--timestamp", String(Int(Date().timeIntervalSince1970) - 3600)]) == 401)
        #expect(try r.send(Self.event, id: "msg_5", extra: ["--drop", "webhook-signature"]) == 401)
        #expect(try r.send(Self.event, id: "msg_6", extra: ["--drop", "webhook-id"]) == 400)
        #expect(try r.send(Self.event, id: "msg_7", extra: ["--drop", "webhook-timestamp"]) == 400)
        #expect(try r.send(String(repeating: " ", count: 5000) + Self.event, id: "msg_8") == 413)
        #expect(try r.send(Self.event, id: "msg_9", extra: ["--content-type", "text/plain"]) == 415)
        #expect(try r.send("not json at all", id: "msg_10") == 415)
        #expect(r.files().count == 1, "nothing written for any refusal: \(r.files())")
        // The second of two configured secrets (a rotation in progress) is accepted.
        #expect(try r.send(Self.event.replacingOccurrences(of: "evt_1", with: "evt_2"), id: "msg_11", secret: Self.next) == 204)
        #expect(r.files().count == 2)
        // Counters for node_exporter, and nothing personal or secret in the log.
        let metrics = try String(contentsOfFile: r.home + "/var/metrics/caas_gateway_receiver.prom", encoding: .utf8)
        #expect(metrics.contains("outcome=\"written\"} 2") && metrics.contains("outcome=\"unauthorized\"} 3"), "\(metrics)")
        #expect(metrics.contains("outcome=\"duplicate\"} 1") && metrics.contains("outcome=\"stale\"} 1"))
        let log = Running.log(r.home)
        #expect(!log.contains("VSCCAE108V3047030") && !log.contains("v1,") && !log.contains("whsec_"), "\(log)")
        // A run takes the deliveries in like any other partner file.
        let cli = CLI(home: r.home)
        let ingest = try cli.run(["ingest", "--json", "--as-of", "2026-10-04T23:00:00Z"])
        #expect(ingest.out.contains("\"factory-webhooks\""), "\(ingest.out.prefix(600)) \(ingest.err)")
        #expect(!ingest.out.contains("\"quarantined\""))
    }

    @Test func aKillRightAfterTheAnswerLosesNothingAndSIGTERMStopsCleanly() throws {
        let r = try Running()
        defer { r.process.stop() }
        #expect(try r.send(Self.event, id: "msg_k") == 204)
        r.process.stop()  // SIGKILL, at once after the 2xx
        #expect(r.files().count == 1)
        #expect(try String(contentsOfFile: r.deliveries + "/" + r.files()[0], encoding: .utf8) == Self.event)
        // Started again: the id is remembered, the resend writes nothing.
        r.process = try Running.start(r.home)
        #expect(r.process.waitForPort(r.port))
        #expect(try r.send(Self.event, id: "msg_k") == 204)
        #expect(r.files().count == 1)
        kill(r.process.pid, SIGTERM)
        #expect(r.process.waitForExit(timeout: 20) == 0, "\(Running.log(r.home))")
    }

    /// The factory simulator's own sender pushes a status file's events as they happened; the run
    /// then meets the same events again in the file, and each is one fact.
    @Test func theSimulatorsPushesMoveTheOrderAsTheFileWouldAndTheFileAddsNothing() throws {
        let r = try Running()
        defer { r.process.stop() }
        let factory = try FactorySimulator(webhook: (r.url, Self.secret))
        defer { factory.stop() }
        let world = try StoryWorldControl(factory)
        let file = Fixtures.story("factory/MFGSTATUS_VLC1_20261004200000_00002.xml")
        let pushed = try world.post("/_sim/push", ["status_file": file])
        #expect(pushed["pushed"] as? Int == 1 && pushed["delivered"] as? Int == 1, "\(pushed)")
        #expect(r.files().count == 1)
        // Pushed again (a retry storm): nothing new.
        _ = try world.post("/_sim/push", ["status_file": file])
        #expect(r.files().count == 1)
        let cli = CLI(home: r.home)
        try cli.drop(["intranet/SALES_ES-MAD-01_20261001233000.xml"])
        let first = try cli.run(["ingest", "--json", "--as-of", "2026-10-04T12:00:00Z"])
        #expect(first.out.contains("\"facts_new\" : 1") || first.out.contains("\"factsNew\""), "\(first.out.prefix(1500))")
        try cli.drop(["factory/MFGSTATUS_VLC1_20261004200000_00002.xml"])
        let second = try cli.run(["ingest", "--json", "--as-of", "2026-10-04T23:00:00Z"])
        let parsed = try JSONSerialization.jsonObject(with: Data(second.out.utf8)) as! [String: Any]
        let files = parsed["files"] as! [[String: Any]]
        let status = try #require(files.first { ($0["name"] as? String)?.hasPrefix("MFGSTATUS") == true })
        #expect((status["counts"] as? [String: Any])?["facts_new"] as? Int == 0, "the file's event was already a fact: \(status)")
        #expect((status["counts"] as? [String: Any])?["rejected"] as? Int == 0)
    }

    /// When the delivery cannot be written (here: the feed's folder is a file), the answer is
    /// 503 with Retry-After and nothing is remembered, so the factory's retry lands once it can.
    @Test func aDeliveryThatCannotBeWrittenIs503AndTheRetryLands() throws {
        let r = try Running()
        defer { r.process.stop() }
        try FileManager.default.createDirectory(atPath: r.home + "/inbox", withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: r.deliveries))
        #expect(try r.send(Self.event, id: "msg_full") == 503)
        try FileManager.default.removeItem(atPath: r.deliveries)
        #expect(try r.send(Self.event, id: "msg_full") == 204)
        #expect(r.files().count == 1)
        let metrics = try String(contentsOfFile: r.home + "/var/metrics/caas_gateway_receiver.prom", encoding: .utf8)
        #expect(metrics.contains("outcome=\"unavailable\"} 1"), "\(metrics)")
    }

    /// With webhooks.tls the receiver speaks HTTPS itself, and a client that checks its
    /// certificate against the CA delivers.
    @Test func withTLSItServesHTTPS() throws {
        let ca = try TestCA()
        let r = try Running(tls: ca)
        defer { r.process.stop() }
        #expect(try r.send(Self.event, id: "msg_tls") == 204, "\(Running.log(r.home))")
        #expect(r.files().count == 1)
    }

    @Test func theSignatureIsTheSpecsAndComparedPerEntry() throws {
        let key = try #require(StandardWebhooks.key(Self.secret))
        let body = Data(Self.event.utf8)
        let now = Date()
        let ts = Int64(now.timeIntervalSince1970)
        let good = StandardWebhooks.sign(id: "msg_x", timestamp: ts, body: body, key: key)
        func verify(_ sig: String?, id: String? = "msg_x", ts t: String? = String(ts)) -> StandardWebhooks.Refusal? {
            StandardWebhooks.verify(id: id, timestamp: t, signature: sig, body: body, keys: [key], now: now, tolerance: 300)
        }
        #expect(verify(good) == nil)
        #expect(verify("v1,AAAA " + good) == nil, "any entry of several")
        #expect(verify("v2," + good.dropFirst(3)) == .badSignature)
        #expect(verify(good, id: "msg_y") == .badSignature)
        #expect(verify(good, ts: String(ts - 301)) == .staleTimestamp)
        #expect(verify(nil) == .missingHeader("webhook-signature"))
        #expect(verify(good, ts: "yesterday") == .missingHeader("webhook-timestamp"))
    }
}

/// The simulator's control channel, for tests that are not a whole story world.
struct StoryWorldControl {
    let factory: FactorySimulator
    init(_ factory: FactorySimulator) throws { self.factory = factory }

    func post(_ path: String, _ body: [String: Any]) throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: body)
        let r = try HTTPClient(tls: TLSOptions(caBundle: factory.ca.caCertificate)).send(
            HTTPRequest(method: "POST", url: factory.baseURL + path, body: data))
        return (try JSONSerialization.jsonObject(with: r.body) as? [String: Any]) ?? [:]
    }
}
