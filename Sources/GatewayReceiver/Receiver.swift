import Crypto
import Foundation
import GatewayCore
import GatewayFiles
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL

/// `caas-gateway receive`: an HTTP server that verifies each push (Standard Webhooks 1.0) and
/// writes it into `inbox/<feed>/` before answering 2xx. It never touches the store and never
/// takes the run lock: the next run ingests what it wrote like any other partner file.
public struct Receiver: Sendable {
    /// All the receiver needs, and nothing of the run: it depends on the webhook inbox and the
    /// files it writes, not on the engine (the command line builds this from the configuration).
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        public var maxBodyBytes: Int
        /// How far a delivery's timestamp may be from the receiver's clock.
        public var tolerance: TimeInterval
        /// PEM files; plain HTTP without.
        public var tls: (certificate: String, key: String)?
        /// Each endpoint's path, feed and secrets (`whsec_…`, several while a secret rotates).
        public var endpoints: [(path: String, feed: String, secrets: [String])]
        public var inbox: String
        /// Where the ids already written are remembered.
        public var webhooksDir: String
        public var metricsPath: String

        public init(
            host: String, port: Int, maxBodyBytes: Int, tolerance: TimeInterval, tls: (certificate: String, key: String)?,
            endpoints: [(path: String, feed: String, secrets: [String])], inbox: String, webhooksDir: String, metricsPath: String
        ) {
            self.host = host
            self.port = port
            self.maxBodyBytes = maxBodyBytes
            self.tolerance = tolerance
            self.tls = tls
            self.endpoints = endpoints
            self.inbox = inbox
            self.webhooksDir = webhooksDir
            self.metricsPath = metricsPath
        }
    }

    public let settings: Settings
    let inbox: WebhookInbox
    /// Each endpoint's feed and secret keys (raw bytes: several while a secret rotates).
    let endpoints: [String: (feed: String, keys: [Data])]
    let counters: Counters
    let logger: Logger
    /// The receiver's time, for the timestamp window and the files' names (the wall clock).
    let clock: @Sendable () -> Date

    /// Checks every endpoint's secret now, so a bad one stops the start, not a delivery.
    public init(_ settings: Settings, logger: Logger, clock: @escaping @Sendable () -> Date) throws {
        self.settings = settings
        var endpoints: [String: (String, [Data])] = [:]
        for e in settings.endpoints {
            let keys = try e.secrets.map { value -> Data in
                guard let key = StandardWebhooks.key(value) else {
                    throw ReceiverError("the secret of \(e.path) is not a whsec_<base64> key")
                }
                return key.withUnsafeBytes { Data($0) }
            }
            endpoints[e.path] = (e.feed, keys)
        }
        self.endpoints = endpoints
        inbox = WebhookInbox(inbox: settings.inbox, webhooksDir: settings.webhooksDir)
        counters = Counters()
        self.logger = logger
        self.clock = clock
    }

    var metricsPath: String { settings.metricsPath }

    /// What a delivery became, as the answer's status says it.
    enum Verdict: String, CaseIterable {
        case written, duplicate, unauthorized, stale, malformed, tooLarge = "too_large", notJSON = "not_json", unavailable
        case unknownPath = "unknown_path"
    }

    /// The HTTP server. `onRunning` hears the port it listens on (a test asks for port 0).
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let router = Router()
        router.get("/healthz") { _, _ -> String in "ok\n" }
        for path in endpoints.keys {
            router.post(RouterPath(path)) { request, context -> Response in
                await self.handle(request, context: context, path: path)
            }
        }
        var server = HTTPServerBuilder.http1()
        if let tls = settings.tls {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificate).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tls.key, format: .pem)
            server = try .tls(.http1(), tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
        }
        return Application(
            router: router, server: server,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "caas-gateway"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? settings.port) }, logger: logger)
    }

    func handle(_ request: Request, context: some RequestContext, path: String) async -> Response {
        let (verdict, response) = await decide(request, path: path)
        counters.count(verdict)
        writeMetrics()
        return response
    }

    func decide(_ request: Request, path: String) async -> (Verdict, Response) {
        var headers = HTTPFields()
        guard let endpoint = endpoints[path] else { return (.unknownPath, Response(status: .notFound)) }
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/json") || type.contains("+json") else {
            return (.notJSON, Response(status: .unsupportedMediaType))
        }
        let body: Data
        do {
            var buffer = try await request.body.collect(upTo: settings.maxBodyBytes)
            body = buffer.readData(length: buffer.readableBytes) ?? Data()
        } catch {
            return (.tooLarge, Response(status: .contentTooLarge))
        }
        let id = request.headers[HTTPField.Name("webhook-id")!]
        if let refusal = StandardWebhooks.verify(
            id: id, timestamp: request.headers[HTTPField.Name("webhook-timestamp")!],
            signature: request.headers[HTTPField.Name("webhook-signature")!], body: body,
            keys: endpoint.keys.map { SymmetricKey(data: $0) }, now: clock(),
            tolerance: settings.tolerance)
        {
            // Never the body nor the signature in the log: only which check failed.
            logger.notice("webhook refused", metadata: ["path": "\(path)", "why": "\(refusal)"])
            switch refusal {
            case .missingHeader(let h) where h != "webhook-signature": return (.malformed, Response(status: .badRequest))
            case .staleTimestamp: return (.stale, Response(status: .unauthorized))
            default: return (.unauthorized, Response(status: .unauthorized))
            }
        }
        // Signed, but is it the JSON the mapping reads? Checked before anything is written.
        guard (try? JSONSerialization.jsonObject(with: body)) != nil else {
            return (.notJSON, Response(status: .unsupportedMediaType))
        }
        do {
            switch try inbox.accept(feed: endpoint.feed, id: id!, body: body, receivedAt: clock()) {
            case .written: return (.written, Response(status: .noContent))
            case .alreadyWritten: return (.duplicate, Response(status: .noContent))
            }
        } catch {
            logger.error("cannot write a delivery", metadata: ["path": "\(path)", "error": "\(error)"])
            headers[.retryAfter] = "30"
            return (.unavailable, Response(status: .serviceUnavailable, headers: headers))
        }
    }

    /// Received and refused deliveries by outcome, for node_exporter beside the run's metrics.
    final class Counters: @unchecked Sendable {
        private let lock = NSLock()
        private var counts: [Verdict: Int] = [:]
        func count(_ v: Verdict) {
            lock.lock()
            counts[v, default: 0] += 1
            lock.unlock()
        }
        func snapshot() -> [Verdict: Int] {
            lock.lock()
            defer { lock.unlock() }
            return counts
        }
    }

    func writeMetrics() {
        let c = counters.snapshot()
        var text = "# HELP caas_gateway_webhook_deliveries_total Webhook deliveries since the receiver started, by outcome.\n"
        text += "# TYPE caas_gateway_webhook_deliveries_total counter\n"
        for v in Verdict.allCases { text += "caas_gateway_webhook_deliveries_total{outcome=\"\(v.rawValue)\"} \(c[v] ?? 0)\n" }
        // Not fsynced: counters are for watching, and the next delivery rewrites them.
        try? AtomicFile.write(Data(text.utf8), to: metricsPath, mode: 0o644, durable: false)
    }
}

public struct ReceiverError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
