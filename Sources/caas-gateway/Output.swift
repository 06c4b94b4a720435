import Foundation

/// Terminal output: informative on a terminal, silent under cron unless something needs a person.
enum Output {
    static var isTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    static func line(_ s: String) {
        print(s)
    }

    static func error(_ s: String) {
        FileHandle.standardError.write(Data(("caas-gateway: " + s + "\n").utf8))
    }

    static func json<T: Encodable>(_ value: T) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        e.keyEncodingStrategy = .convertToSnakeCase
        print(String(decoding: try e.encode(value), as: UTF8.self))
    }
}
