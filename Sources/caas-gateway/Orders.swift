import ArgumentParser
import Foundation
import GatewayCore
import GatewayEngine

struct Orders: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every order with its state, amounts and deadlines (the machine-readable view with --json).")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print every order as JSON: ref, dealer, country, state, vin, factory order, plate, amounts, deadlines.") var json = false
    @Option(help: ArgumentHelp("Only orders in this state (snake_case, such as awaiting_reservation).", valueName: "state")) var state:
        String?

    func validate() throws {
        if let state, OrderState(rawValue: state) == nil {
            throw ValidationError("unknown state \(state); states: \(OrderState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    struct Row: Encodable {
        let ref: String
        let dealer, country, state, stateSince, vin, factoryOrder, plant, eta, plate, currency: String?
        let totalMinor, depositMinor, receivedMinor, amountDueMinor: Int64
        let finalPaymentDueAt: String?
        let anomalies: Int
        let dueActions: [String]

        enum CodingKeys: String, CodingKey {
            case ref, dealer, country, state, stateSince, vin, factoryOrder, plant, eta, plate, currency
            case totalMinor, depositMinor, receivedMinor, amountDueMinor, finalPaymentDueAt, anomalies, dueActions
        }

        /// Every key, always: what is not known yet is null, so consumers see one stable shape.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(ref, forKey: .ref)
            try c.encode(dealer, forKey: .dealer)
            try c.encode(country, forKey: .country)
            try c.encode(state, forKey: .state)
            try c.encode(stateSince, forKey: .stateSince)
            try c.encode(vin, forKey: .vin)
            try c.encode(factoryOrder, forKey: .factoryOrder)
            try c.encode(plant, forKey: .plant)
            try c.encode(eta, forKey: .eta)
            try c.encode(plate, forKey: .plate)
            try c.encode(currency, forKey: .currency)
            try c.encode(totalMinor, forKey: .totalMinor)
            try c.encode(depositMinor, forKey: .depositMinor)
            try c.encode(receivedMinor, forKey: .receivedMinor)
            try c.encode(amountDueMinor, forKey: .amountDueMinor)
            try c.encode(finalPaymentDueAt, forKey: .finalPaymentDueAt)
            try c.encode(anomalies, forKey: .anomalies)
            try c.encode(dueActions, forKey: .dueActions)
        }
    }

    func run() throws {
        let gateway = try global.openGateway(.read)
        let views = try gateway.orders().filter { state == nil || $0.state?.rawValue == state }
        if json {
            try Output.json(
                views.map { v in
                    Row(
                        ref: v.ref, dealer: v.dealerCode, country: v.country, state: v.state?.rawValue,
                        stateSince: v.stateSince.map(Timestamp.iso),
                        vin: v.vin, factoryOrder: v.factoryOrder, plant: v.plant, eta: v.eta.map(Timestamp.day), plate: v.plate,
                        currency: v.currency,
                        totalMinor: v.totalMinor, depositMinor: v.depositMinor, receivedMinor: v.receivedMinor,
                        amountDueMinor: v.amountDueMinor,
                        finalPaymentDueAt: v.finalPaymentDueAt.map(Timestamp.iso), anomalies: v.anomalies.count,
                        dueActions: v.dueActions.map(\.kind.rawValue))
                })
            return
        }
        if views.isEmpty { return Output.line("no orders yet") }
        let header = ["order", "dealer", "state", "since", "due", "received", "factory order", "plate"]
        let rows = views.map { v in
            [
                v.ref, v.dealerCode ?? "", v.state?.rawValue ?? "", v.stateSince.map(Timestamp.day) ?? "",
                Money.format(v.amountDueMinor, v.currency), Money.format(v.receivedMinor, v.currency), v.factoryOrder ?? "", v.plate ?? "",
            ]
        }
        for l in Table.render(header: header, rows: rows) { Output.line(l) }
    }
}

enum Table {
    static func render(header: [String], rows: [[String]]) -> [String] {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ r: [String]) -> String {
            r.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        return [line(header)] + rows.map(line)
    }
}
