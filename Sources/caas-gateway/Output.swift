import ArgumentParser
import Foundation
import GatewayEngine

/// Terminal output: informative on a terminal, silent under cron unless something needs a person.
enum Output {
    static var isTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    static func line(_ s: String) {
        print(s)
    }

    /// One self-overwriting line per large transfer, on a terminal only.
    static let progress: @Sendable (String, Int64, Int64) -> Void = { name, done, total in
        let pct = total > 0 ? done * 100 / total : 0
        let line = "\r  \(name): \(done >> 20) of \(total >> 20) MiB (\(pct)%)"
        FileHandle.standardError.write(Data((done >= total ? line + "\n" : line).utf8))
    }

    static func error(_ s: String) {
        FileHandle.standardError.write(Data(("caas-gateway: " + s + "\n").utf8))
    }

    /// Runs what an operator asked for. A refusal (`OperatorError`: no such order, a plate in the
    /// wrong format) is said on standard error and exits 1; anything else propagates.
    static func operatorCommand(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let e as OperatorError {
            error(e.description)
            throw ExitCode(ExitCodes.failure)
        }
    }

    static func json<T: Encodable>(_ value: T) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        e.keyEncodingStrategy = .convertToSnakeCase
        print(String(decoding: try e.encode(value), as: UTF8.self))
    }
}
