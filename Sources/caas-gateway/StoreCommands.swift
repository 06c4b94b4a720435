import ArgumentParser
import Foundation
import GatewayEngine
import GatewayStore

struct Store: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work on the store itself: move a workspace's history to a shared PostgreSQL store.",
        subcommands: [StoreCopyCommand.self])
}

struct StoreCopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a SQLite store into the empty PostgreSQL store the configuration names, and check every table's count.",
        discussion: """
            For a gateway that outgrows one machine: set store: {postgres: {url: …, password: {env: …}}} in \
            the configuration, run this once, then run as before (and start more runners). Facts, the file \
            ledger, actions, customers, registrations, exceptions and runs are copied in one transaction: a \
            copy that fails leaves the PostgreSQL store empty, to be run again. The SQLite file is only read \
            and stays where it is. Exits 1 if a table's count differs.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Where to copy to: postgres (the configuration's store.postgres).", valueName: "store")) var to: String
    @Option(help: ArgumentHelp("The SQLite store to copy. Default: the workspace's (var/gateway.sqlite).", valueName: "path"))
    var from: String?

    func validate() throws {
        guard to == "postgres" else { throw ValidationError("--to must be postgres") }
    }

    func run() throws {
        let cfg = try global.loadConfig()
        let source = from.map { ($0 as NSString).standardizingPath } ?? cfg.storePath
        guard FileManager.default.fileExists(atPath: source) else {
            Output.error("no SQLite store at \(source): name it with --from")
            throw ExitCode(ExitCodes.failure)
        }
        let gateway = try global.openGateway()
        var counts: [StoreCopy.TableCount] = []
        try Output.operatorCommand {
            counts = try gateway.copyStore(fromSQLite: source) { table, rows in
                if Output.isTerminal { Output.line("copied \(table): \(rows)") }
            }
        }
        let wrong = counts.filter { $0.source != $0.target }
        for c in counts where c.source > 0 || c.target > 0 {
            Output.line("\(c.table): \(c.source) in SQLite, \(c.target) in PostgreSQL\(c.source == c.target ? "" : "  << DIFFERENT")")
        }
        guard wrong.isEmpty else {
            Output.error(
                "the copy's counts differ in \(wrong.map(\.table).joined(separator: ", ")): do not run on it; drop the database and copy again"
            )
            throw ExitCode(ExitCodes.failure)
        }
        Output.line("copied \(counts.reduce(0) { $0 + $1.target }) rows from \(source); the gateway carries on from PostgreSQL")
    }
}
