import Foundation
import GatewayCore
import GatewayFiles
import GatewayStore

/// `var/metrics/caas_gateway.prom` for node_exporter's textfile collector, written atomically
/// after every recorded run: when the gateway last ran and last succeeded, what the run handled,
/// actions by status and open exceptions by rule. A stale `caas_gateway_last_success_timestamp`
/// is what an alert should watch.
enum Metrics {
    static func render(_ s: RunSummary, status: String, finishedAt: Date, lastSuccess: Date?, store: any GatewayStore) throws -> String {
        var out: [String] = []
        func metric(_ name: String, _ help: String, _ type: String = "gauge", _ samples: [(labels: String, value: String)]) {
            out.append("# HELP caas_gateway_\(name) \(help)")
            out.append("# TYPE caas_gateway_\(name) \(type)")
            for x in samples { out.append("caas_gateway_\(name)\(x.labels.isEmpty ? "" : "{\(x.labels)}") \(x.value)") }
        }
        func seconds(_ d: Date) -> String { String(format: "%.3f", d.timeIntervalSince1970) }
        metric(
            "last_run_timestamp_seconds", "When the last run finished.", "gauge",
            [("command=\"\(s.command)\",status=\"\(status)\"", seconds(finishedAt))])
        metric(
            "last_success_timestamp_seconds", "When the last run that needed nobody finished.", "gauge",
            lastSuccess.map { [("", seconds($0))] } ?? [])
        metric(
            "run_files", "Inbox files of the last run, by outcome.", "gauge",
            [FileSighting.Outcome.ingested, .duplicate, .quarantined, .unrecognised].map {
                ("outcome=\"\($0.rawValue)\"", String(s.count($0)))
            })
        metric(
            "run_records", "Records of the last run, by outcome.", "gauge",
            [("outcome=\"accepted\"", String(s.recordsAccepted)), ("outcome=\"rejected\"", String(s.recordsRejected))])
        metric(
            "run_actions", "Actions of the last run, by outcome.", "gauge",
            [
                ("outcome=\"done\"", String(s.actionsDone)), ("outcome=\"failed\"", String(s.actionsFailed)),
                ("outcome=\"retrying\"", String(s.actionsRetrying)), ("outcome=\"skipped\"", String(s.actionsSkipped)),
            ])
        let byStatus = try store.actionCounts()
        metric(
            "actions", "Every action the gateway keeps, by status.", "gauge",
            ActionStatus.allCases.map { ("status=\"\($0.rawValue)\"", String(byStatus[$0] ?? 0)) })
        // A run without a report (pull, ingest) shows what the last report left open.
        let exceptions =
            try s.exceptionsByRule ?? store.openExceptions().reduce(into: [String: Int]()) { $0[$1.rule, default: 0] += 1 }
        metric(
            "exceptions", "Open exceptions, by rule.", "gauge",
            exceptions.sorted { $0.key < $1.key }.map { ("rule=\"\($0.key)\"", String($0.value)) })
        return out.joined(separator: "\n") + "\n"
    }

    static func path(varDir: String) -> String { (varDir as NSString).appendingPathComponent("metrics/caas_gateway.prom") }

    /// The last success as the previous file recorded it: a failed run must not forget it.
    static func previousSuccess(varDir: String) -> Date? {
        guard let text = try? String(contentsOfFile: path(varDir: varDir), encoding: .utf8) else { return nil }
        let prefix = "caas_gateway_last_success_timestamp_seconds "
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
            .map { Date(timeIntervalSince1970: $0) }
    }

    static func write(_ s: RunSummary, status: String, store: any GatewayStore, varDir: String) throws {
        // Monitoring alerts on how long ago the last run was, in real time, whatever --as-of said.
        let now = WallClock.now()
        let success = status == "ok" ? now : previousSuccess(varDir: varDir)
        let file = path(varDir: varDir)
        let dir = (file as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // node_exporter reads it as its own user: the file 0644 in a 0755 folder, and var/ may
        // be passed through (search only: nobody else may list it or read the store).
        chmod(dir, 0o755)
        var st = stat()
        if stat(varDir, &st) == 0 { chmod(varDir, (st.st_mode & 0o7777) | 0o111) }
        try AtomicFile.write(try render(s, status: status, finishedAt: now, lastSuccess: success, store: store), to: file, mode: 0o644)
    }
}
