import ArgumentParser
import Foundation
import GatewayEngine
import GatewayFormats

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check everything a run would load; list every problem at once, each with where (file:line, key).",
        discussion: """
            Checks the configuration, every feed and registration mapping, every secret reference \
            ({env: …} set, {file: …} readable), every SSH key, known_hosts and certificate file, \
            that every source's feed has a mapping, and that no file name would be claimed by two \
            feeds. Exit 0 when a run would start, 1 with the problems otherwise.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the result as JSON: valid, problems (file, line, key, message), mappings.") var json = false

    struct Result: Encodable {
        let valid: Bool
        let configuration: String
        let problems: [ConfigCheck.Problem]
        let feeds: [Feed]
        let registrationCountries: [String]
        struct Feed: Encodable {
            let feed: String
            let version: Int
            let file: String
        }
    }

    func run() throws {
        let check = ConfigCheck(configPath: global.config)
        if json {
            try Output.json(
                Result(
                    valid: check.isValid, configuration: check.config.file ?? "embedded defaults", problems: check.problems,
                    feeds: check.mappings.sorted { $0.feed < $1.feed }.map { .init(feed: $0.feed, version: $0.version, file: $0.file) },
                    registrationCountries: check.registrationMappings.keys.sorted()))
        } else if check.isValid {
            Output.line("configuration: \(check.config.file ?? "embedded defaults") is valid")
            Output.line("mappings in \(check.config.feedMappingsDir): \(check.mappings.count) valid")
            for m in check.mappings.sorted(by: { $0.feed < $1.feed }) { Output.line("  \(m.feed) v\(m.version): \(m.description)") }
            if !check.registrationMappings.isEmpty {
                Output.line("registration mappings: \(check.registrationMappings.keys.sorted().joined(separator: ", "))")
            }
        } else {
            for p in check.problems { Output.error(p.description) }
            Output.error("\(check.problems.count) problem(s); a run would not start or would fail on them")
        }
        if !check.isValid { throw ExitCode(ExitCodes.failure) }
    }
}
