import ArgumentParser
import Foundation
import GatewayEngine
import GatewayReceiver
import Hummingbird
import NIOSSL

struct Receive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the partners' signed webhooks: each verified push becomes a file in inbox/<feed>/ (long-running).",
        discussion: """
            Configured under webhooks: in the configuration (listen, max_body_bytes, \
            tolerance_seconds, endpoints with path, feed and secret). A push is verified as Standard \
            Webhooks 1.0 says (webhook-id, webhook-timestamp within the tolerance, an HMAC-SHA256 \
            webhook-signature by one of the endpoint's secrets), written durably, and only then \
            answered 204; a resend of an id already written is answered 204 without a second file. \
            Refusals: 400 (headers missing), 401 (signature, stale timestamp), 404, 413 (too large), \
            415 (not JSON), 503 with Retry-After (cannot write). GET /healthz answers ok. SIGTERM \
            finishes the requests in flight, then exits. It never takes the run lock.
            """)

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let cfg = try global.loadConfig()
        let receiver: Receiver
        do {
            receiver = try Receiver(try Self.settings(cfg), logger: global.makeLogger(), clock: { WallClock.now() })
        } catch {
            Output.error("cannot start the receiver: \(error)")
            throw ExitCode(ExitCodes.failure)
        }
        do {
            let app = try receiver.application()
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch let e as NIOSSLError {
            Output.error("cannot start the receiver: \(e) (check webhooks.tls)")
            throw ExitCode(ExitCodes.failure)
        }
    }

    /// The receiver's settings from the configuration, every secret resolved now.
    static func settings(_ cfg: GatewayConfig) throws -> Receiver.Settings {
        guard let w = cfg.webhooks else { throw ReceiverError("no webhooks: section in the configuration") }
        return Receiver.Settings(
            host: w.host, port: w.port, maxBodyBytes: w.maxBodyBytes, tolerance: w.tolerance, tls: w.tls,
            endpoints: try w.endpoints.map { (path: $0.path, feed: $0.feed, secrets: try $0.secrets.map { try $0.resolve() }) },
            inbox: cfg.inbox, webhooksDir: cfg.webhooksDir,
            metricsPath: (cfg.varDir as NSString).appendingPathComponent("metrics/caas_gateway_receiver.prom"))
    }
}
