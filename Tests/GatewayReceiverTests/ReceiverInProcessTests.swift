import Crypto
import Foundation
import GatewayReceiver
import GatewayTestSupport
import GatewayTransport
import Logging
import Testing

/// The webhook receiver in the test's own process (issue 26: it depends on the webhook inbox and
/// its files, not on the run), served on a free loopback port and asked over HTTP: signature,
/// timestamp window, duplicate ids, the size limit, and the file durable in the inbox before the
/// 2xx. `CaasGatewayCLITests.ReceiverTests` keeps one test through the binary.
@Suite("The webhook receiver, in process", .serialized)
struct ReceiverInProcessTests {
    static let secret = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
    /// The receiver's clock: fixed, so the timestamp window is tested without waiting.
    static let now = Date(timeIntervalSince1970: 1_791_000_000)

    final class Port: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Int?
        func set(_ p: Int) {
            lock.lock()
            value = p
            lock.unlock()
        }
        var port: Int? {
            lock.lock()
            defer { lock.unlock() }
            return value
        }
    }

    /// Runs the server's tasks on a thread of its own. The tests around it (processes waited for,
    /// servers polled) can hold every thread of Swift's cooperative pool for minutes; a server on
    /// that pool would not answer until they let go.
    final class OwnThread: TaskExecutor, @unchecked Sendable {
        private let queue = DispatchQueue(label: "receiver-in-process")
        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }
    static let executor = OwnThread()

    /// A running receiver with one endpoint, `/hooks/factory` into `inbox/factory-webhooks/`.
    struct Served {
        let home: String
        let url: String
        let task: Task<Void, any Error>
        var inbox: String { home + "/inbox/factory-webhooks" }

        /// On a thread of its own: the client blocks, and the server answers on Swift's cooperative
        /// threads, which a blocked test must not hold.
        func post(_ body: String, id: String = "msg_1", timestamp: Int64? = nil, signature: String? = nil, type: String = "application/json")
            async throws -> HTTPResponse
        {
            let ts = timestamp ?? Int64(ReceiverInProcessTests.now.timeIntervalSince1970)
            let key = StandardWebhooks.key(ReceiverInProcessTests.secret)!
            let sig = signature ?? StandardWebhooks.sign(id: id, timestamp: ts, body: Data(body.utf8), key: key)
            let request = HTTPRequest(
                method: "POST", url: url + "/hooks/factory",
                headers: [("content-type", type), ("webhook-id", id), ("webhook-timestamp", "\(ts)"), ("webhook-signature", sig)],
                body: Data(body.utf8))
            return try await withCheckedThrowingContinuation { done in
                Thread { done.resume(with: Result { try HTTPClient().send(request) }) }.start()
            }
        }

        func files() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: inbox)) ?? []).filter { !$0.hasPrefix(".") }.sorted() }
    }

    func serve(maxBodyBytes: Int = 4096) async throws -> Served {
        let home = Fixtures.tempDir("receiver")
        let settings = Receiver.Settings(
            host: "127.0.0.1", port: 0, maxBodyBytes: maxBodyBytes, tolerance: 300, tls: nil,
            endpoints: [(path: "/hooks/factory", feed: "factory-webhooks", secrets: [Self.secret])], inbox: home + "/inbox",
            webhooksDir: home + "/var/webhooks", metricsPath: home + "/var/metrics/receiver.prom")
        let receiver = try Receiver(settings, logger: Logger(label: "test"), clock: { Self.now })
        let port = Port()
        let app = try receiver.application(onRunning: { port.set($0) })
        let task = Task(executorPreference: Self.executor) { try await app.run() }
        // Waits for the server's own word that it listens, for 30 s at most (on a thread of its own
        // too, for the same reason).
        await withCheckedContinuation { (ready: CheckedContinuation<Void, Never>) in
            Thread {
                for _ in 0..<6_000 where port.port == nil { usleep(5_000) }
                ready.resume()
            }.start()
        }
        guard let p = port.port else {
            task.cancel()
            throw ReceiverError("the receiver did not start within 30 s")
        }
        return Served(home: home, url: "http://127.0.0.1:\(p)", task: task)
    }

    @Test func aSignedDeliveryIsInTheInboxWholeBeforeTheAnswer() async throws {
        let s = try await serve()
        defer { s.task.cancel() }
        let body = #"{"order":"S-2026-000101","status":"order_confirmed"}"#
        let r = try await s.post(body)
        #expect(r.status == 204)
        // When the answer arrives, the file is there, whole, and the id is remembered.
        let files = s.files()
        #expect(files.count == 1 && files[0].hasPrefix("wh_") && files[0].hasSuffix("_msg_1.json"), "\(files)")
        #expect(try String(contentsOfFile: s.inbox + "/" + files[0], encoding: .utf8) == body)
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.home + "/var/webhooks/factory-webhooks").count == 1)
    }

    @Test func aResentIdIsAnsweredWithoutASecondFile() async throws {
        let s = try await serve()
        defer { s.task.cancel() }
        #expect(try await s.post(#"{"a":1}"#).status == 204)
        #expect(try await s.post(#"{"a":1}"#).status == 204)
        #expect(s.files().count == 1)
    }

    @Test func refusalsWriteNothing() async throws {
        let s = try await serve(maxBodyBytes: 64)
        defer { s.task.cancel() }
        let key = StandardWebhooks.key(Self.secret)!
        let ts = Int64(Self.now.timeIntervalSince1970)
        // Signed by another key.
        let other = SymmetricKey(data: Data(repeating: 7, count: 32))
        #expect(try await s.post(#"{"a":1}"#, signature: StandardWebhooks.sign(id: "msg_1", timestamp: ts, body: Data(#"{"a":1}"#.utf8), key: other)).status == 401)
        // Signed, but for another body.
        #expect(try await s.post(#"{"a":2}"#, signature: StandardWebhooks.sign(id: "msg_1", timestamp: ts, body: Data(#"{"a":1}"#.utf8), key: key)).status == 401)
        // Outside the five-minute window, either way, even correctly signed.
        #expect(try await s.post(#"{"a":1}"#, timestamp: ts - 301).status == 401)
        #expect(try await s.post(#"{"a":1}"#, timestamp: ts + 301).status == 401)
        #expect(try await s.post(#"{"a":1}"#, timestamp: ts - 299).status == 204, "inside the window")
        // Larger than max_body_bytes.
        #expect(try await s.post("{\"pad\":\"" + String(repeating: "x", count: 100) + "\"}", id: "msg_2").status == 413)
        // Not JSON.
        #expect(try await s.post("order=1", id: "msg_3", type: "text/plain").status == 415)
        #expect(try await s.post("not json", id: "msg_4").status == 415)
        #expect(s.files().count == 1, "only the delivery inside the window: \(s.files())")
    }
}
