import ArgumentParser
import Foundation
import GatewayCore
import GatewayEngine
import Logging

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Configuration file. Default: ./caas-gateway.yaml if present, else the embedded defaults.", valueName: "path"))
    var config: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Fix the clock, for replays: an ISO 8601 time, or a date meaning the end of that day (UTC). Default: now.", valueName: "time"))
    var asOf: String?

    @Option(name: .long, help: ArgumentHelp("Log level on standard error: trace, debug, info, notice, warning, error.", valueName: "level"))
    var logLevel: String = "warning"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Log line format on standard error: text (for a person) or json (one object a line, for a collector).", valueName: "format"))
    var logFormat: String = "text"

    func validate() throws {
        if let asOf, Self.parseAsOf(asOf) == nil {
            throw ValidationError("--as-of must be an ISO 8601 time (2026-10-02T23:00:00Z) or a date (2026-10-02)")
        }
        if LogFormat(rawValue: logFormat) == nil { throw ValidationError("--log-format must be text or json") }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error")
        }
    }

    static func parseAsOf(_ text: String) -> Date? {
        if text.count == 10, let d = Timestamp.parseISO(text) { return d.addingTimeInterval(86_399.999) }
        return Timestamp.parseISO(text)
    }

    /// The run's business time: --as-of, or, under cron, the real time at the start.
    var asOfDate: Date { asOf.flatMap(Self.parseAsOf) ?? WallClock.now() }

    func makeLogger() -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        LoggingBootstrap.once(level: level, format: LogFormat(rawValue: logFormat) ?? .text)
        var logger = Logger(label: "caas-gateway")
        logger.logLevel = level
        return logger
    }

    func loadConfig() throws -> GatewayConfig {
        do {
            return try GatewayConfig.load(path: config)
        } catch {
            Output.error("\(error)")
            throw ExitCode(ExitCodes.failure)
        }
    }

    /// Opens the gateway, turning the two expected refusals into their exit codes. Queries ask
    /// for `.read`: no run lock, so they answer while a run is working.
    func openGateway(_ access: Gateway.Access = .write) throws -> Gateway {
        let cfg = try loadConfig()
        do {
            return try Gateway(config: cfg, logger: makeLogger(), access: access, progress: Output.isTerminal ? Output.progress : nil)
        } catch let held as RunLock.Held {
            Output.error("\(held)")
            throw ExitCode(ExitCodes.alreadyRunning)
        } catch {
            Output.error("cannot start: \(error)")
            throw ExitCode(ExitCodes.failure)
        }
    }
}

enum ExitCodes {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let needsAttention: Int32 = 2
    static let alreadyRunning: Int32 = 3
    static let endpointFailed: Int32 = 4
}
