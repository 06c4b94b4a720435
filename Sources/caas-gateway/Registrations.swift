import ArgumentParser
import Foundation
import GatewayCore
import GatewayEngine
import GatewayStore

struct Registrations: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Country registrations: where each stands, the ledger of attempts, and plates recorded by hand.",
        subcommands: [List.self, Record.self],
        defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List registrations (every attempt with --attempts; the ledger masks personal data).")

        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("Only this country (ES, PT, FR, DE, IT, ...).", valueName: "CC")) var country: String?
        @Option(
            help: ArgumentHelp(
                "Only this phase: \(RegistrationRecord.Phase.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "phase"))
        var state: String?
        @Flag(help: "Show every attempt under its registration: time, kind, HTTP status, duration, outcome, answer.") var attempts = false
        @Flag(help: "Print as JSON.") var json = false

        func validate() throws {
            if let state, RegistrationRecord.Phase(rawValue: state) == nil {
                throw ValidationError(
                    "unknown phase \(state); phases: \(RegistrationRecord.Phase.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        struct Row: Encodable {
            let order, country, submissionID, phase: String
            let plate, field, reason: String?
            let updatedAt: String
            let attempts: [Attempt]?
        }

        struct Attempt: Encodable {
            let at, kind, outcome: String
            let httpStatus: Int?
            let durationMs: Int
            let detail: String?
        }

        func run() throws {
            let gateway = try global.openGateway(.read)
            let records = try gateway.registrations(country: country, phase: state.flatMap(RegistrationRecord.Phase.init(rawValue:)))
            let ledger = attempts ? Dictionary(grouping: try gateway.registrationLedger(orderRef: nil), by: \.orderRef) : [:]
            let rows = records.map { r in
                Row(
                    order: r.orderRef, country: r.country, submissionID: r.submissionID, phase: r.phase.rawValue, plate: r.plate,
                    field: r.field, reason: r.reason, updatedAt: Timestamp.iso(r.updatedAt),
                    attempts: attempts
                        ? (ledger[r.orderRef] ?? []).map {
                            Attempt(
                                at: Timestamp.iso($0.at), kind: $0.kind.rawValue, outcome: $0.outcome, httpStatus: $0.httpStatus,
                                durationMs: $0.durationMillis, detail: $0.detail)
                        } : nil)
            }
            if json { return try Output.json(rows) }
            if rows.isEmpty { return Output.line("no registrations") }
            for r in rows {
                let why = [r.field, r.reason].compactMap { $0 }.joined(separator: ": ")
                Output.line(
                    [r.order, r.country, r.submissionID, r.phase, r.plate ?? "", why].filter { !$0.isEmpty }.joined(separator: "  "))
                for a in r.attempts ?? [] {
                    Output.line(
                        "    \(a.at)  \(a.kind)  \(a.httpStatus.map(String.init) ?? "-")  \(a.durationMs) ms  \(a.outcome)  \(a.detail?.prefix(160) ?? "")"
                    )
                }
            }
        }
    }

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record the plate a body gave for an order registered by hand (file mode) or by other means.",
            discussion: "The plate must have the country's format (its mapping's plate_format); the order moves to registered.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The order (sale) reference.") var order: String
        @Argument(help: "The plate, as the body issued it (such as \"1234 BCD\").") var plate: String

        func run() throws {
            let gateway = try global.openGateway()
            try Output.operatorCommand {
                let v = try gateway.recordPlate(orderRef: order, plate: plate, asOf: global.asOfDate)
                Output.line("\(order): \(v.state?.rawValue ?? "?") with plate \(v.plate ?? "?")")
            }
        }
    }
}

struct Resubmit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send an order's registration again on the next run, after fixing what was refused.",
        discussion: """
            After a rejection the registration goes under a new submission id. After the gateway gave up \
            (failures, no decision) the same id is kept and the body is asked about it first, so a \
            submission that did arrive is never made twice.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The order (sale) reference.") var order: String

    func run() throws {
        let gateway = try global.openGateway()
        try Output.operatorCommand {
            let r = try gateway.resubmit(orderRef: order, asOf: global.asOfDate)
            Output.line("\(order): registration \(r.submissionID) will be sent on the next run")
        }
    }
}
