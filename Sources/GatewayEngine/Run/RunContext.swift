import Foundation
import GatewayStore
import Logging

/// What travels with every stage of one run: its id, its clock, its logger and its configuration.
///
/// `asOf` is the only "now" of the engine: due times, back-off, leases, polls, deadlines and every
/// time written to the store or a report follow it, so a replay with `--as-of` behaves like the
/// days it replays. Under cron it is the real time at the start of the run.
public struct RunContext: Sendable {
    public let runID: String
    public let command: String
    public let asOf: Date
    /// Carries `run` (the run id) in its metadata, so every line of the run can be found.
    public let logger: Logger
    public let config: GatewayConfig
    /// Send nothing: no pull, no push, no partner call, no outbox file.
    public let dryRun: Bool
    /// Which runner (host) this is: its dead runs are the ones it may take over.
    public let runner: String
    /// The configuration's secrets, resolved once: what a partner answers is cleaned of them
    /// before it is stored, logged or reported.
    public let secrets: SecretMask
    /// The run's working-on mark: the stages name each file and order there while they handle it.
    var mark: WorkMark?
    /// Files and orders set aside, read once when the run starts (after it judged what a dead
    /// run left): the ingest and every fold pass of the run leave them alone.
    var setAside: [SetAsideItem] = []

    public init(runID: String, command: String, asOf: Date, logger: Logger, config: GatewayConfig, dryRun: Bool, runner: String) {
        self.runID = runID
        self.command = command
        self.asOf = asOf
        var log = logger
        log[metadataKey: "run"] = "\(runID)"
        self.logger = log
        self.config = config
        self.dryRun = dryRun
        self.runner = runner
        self.secrets = SecretMask(config: config)
    }

    /// This host's name: runs started here are this runner's. gethostname(2), not
    /// ProcessInfo.hostName, which may ask DNS for a canonical name and hang where there is none.
    public static let hostRunner: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}

/// The system clock, for what is not business time: time-outs, durations, a run's start and end
/// as monitoring sees them, and the age of files on disk or on a partner's server. This file is
/// the only place in the engine that reads it (`WallClockTests` checks the sources).
public enum WallClock {
    public static func now() -> Date { Date() }

    /// Seconds since `start`, for durations in logs and ledgers.
    public static func seconds(since start: Date) -> TimeInterval { now().timeIntervalSince(start) }
}
