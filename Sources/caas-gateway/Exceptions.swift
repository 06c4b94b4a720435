import ArgumentParser
import Foundation
import GatewayCore
import GatewayEngine

struct Exceptions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What needs a person now, by owner, as the report's reconciliation rules find it.",
        subcommands: [List.self, Dismiss.self],
        defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List open exceptions, oldest first within each owner.")

        @OptionGroup var global: GlobalOptions
        @Option(
            help: ArgumentHelp(
                "Only this owner: \(ExceptionOwner.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "owner"))
        var owner: String?
        @Flag(help: "Print as JSON (the report's exceptions schema).") var json = false

        func validate() throws {
            if let owner, ExceptionOwner(rawValue: owner) == nil {
                throw ValidationError("unknown owner \(owner); owners: \(ExceptionOwner.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() throws {
            let found = try global.openGateway(.read).exceptions(asOf: global.asOfDate).filter { e in
                owner.map { $0 == e.owner.rawValue } ?? true
            }
            if json { return try Output.json(found) }
            if found.isEmpty { return Output.line("nothing needs a person") }
            for e in found {
                Output.line("\(e.owner.rawValue)  \(e.rule)  \(e.order ?? e.subject)  \(e.ageDays) day(s)\(e.isNew ? "  NEW" : "")")
                Output.line("    \(e.detail)")
                Output.line("    to do: \(e.todo)")
                Output.line("    key: \(e.key)")
            }
        }
    }

    struct Dismiss: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close an exception that nothing in the partners' data will resolve.",
            discussion: "A dismissed exception is never opened again; the note is kept in the store.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The exception's key, as `caas-gateway exceptions` prints it.") var key: String
        @Option(help: "Why it is closed (required): what was done, by whom.") var note: String

        func run() throws {
            try Output.operatorCommand {
                try global.openGateway().dismissException(key: key, note: note, asOf: global.asOfDate)
                Output.line("dismissed \(key)")
            }
        }
    }
}
