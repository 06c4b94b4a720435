import Foundation
import GatewayStore
import Logging

/// Runs `body` for each SFTP endpoint in turn. A failure is logged, recorded as a failed transfer
/// for the report, and returned; the next endpoint goes on regardless. Only a crash point unwinds.
func eachEndpoint<Endpoint>(
    _ endpoints: [Endpoint], name: (Endpoint) -> String, direction: String, store: any GatewayStore, logger: Logger, runID: String,
    now: Date, _ body: (Endpoint) throws -> Void
) throws -> [String: String] {
    var failed: [String: String] = [:]
    for endpoint in endpoints {
        do {
            try body(endpoint)
        } catch let crash as CrashPoint.Triggered {
            throw crash
        } catch {
            let label = name(endpoint)
            failed[label] = "\(error)"
            logger.notice("endpoint failed", metadata: ["direction": "\(direction)", "endpoint": "\(label)", "error": "\(error)"])
            try? store.logTransfer(
                TransferRecord(
                    runID: runID, direction: direction, endpoint: label, name: nil, outcome: .failed, detail: "\(error)", at: now))
        }
    }
    return failed
}
