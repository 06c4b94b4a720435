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

    func validate() throws {
        if let asOf, Self.parseAsOf(asOf) == nil {
            throw ValidationError("--as-of must be an ISO 8601 time (2026-10-02T23:00:00Z) or a date (2026-10-02)")
        }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error")
        }
    }

    static func parseAsOf(_ text: String) -> Date? {
        if text.count == 10, let d = Timestamp.parseISO(text) { return d.addingTimeInterval(86_399.999) }
        return Timestamp.parseISO(text)
    }

    var asOfDate: Date { asOf.flatMap(Self.parseAsOf) ?? Date() }

    func makeLogger() -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        LoggingBootstrap.once(level: level)
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

    /// Opens the gateway, turning the two expected refusals into their exit codes.
    func openGateway() throws -> Gateway {
        let cfg = try loadConfig()
        do {
            return try Gateway(config: cfg, logger: makeLogger(), progress: Output.isTerminal ? Output.progress : nil)
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

enum LoggingBootstrap {
    nonisolated(unsafe) static var done = false

    static func once(level: Logger.Level) {
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
    }
}
