import Foundation
import GatewayStore
import Logging

/// Runs `body` for each SFTP endpoint in turn. A failure is logged, recorded as a failed transfer
/// for the report, and returned; the next endpoint goes on regardless. Only a crash point unwinds.
func eachEndpoint<Endpoint>(
    _ endpoints: [Endpoint], name: (Endpoint) -> String, direction: String, store: any TransferLedger, logger: Logger, runID: String,
    now: Date, secrets: SecretMask, _ body: (Endpoint) throws -> Void
) throws -> [String: String] {
    var failed: [String: String] = [:]
    for endpoint in endpoints {
        do {
            try body(endpoint)
        } catch let crash as CrashPoint.Triggered {
            throw crash
        } catch {
            let label = name(endpoint)
            // The server's words, without any secret of ours they may repeat.
            let detail = secrets.apply("\(error)")
            failed[label] = detail
            logger.notice("endpoint failed", metadata: ["direction": "\(direction)", "endpoint": "\(label)", "error": "\(detail)"])
            try? store.logTransfer(
                TransferRecord(runID: runID, direction: direction, endpoint: label, name: nil, outcome: .failed, detail: detail, at: now))
        }
    }
    return failed
}
