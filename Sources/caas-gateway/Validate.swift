import ArgumentParser
import Foundation
import GatewayEngine
import GatewayFormats

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the configuration and every mapping; say exactly what is wrong and where (file:line).")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var problems: [String] = []
        var config = GatewayConfig()
        do {
            config = try GatewayConfig.load(path: global.config)
        } catch {
            problems.append("\(error)")
        }
        let loaded = try MappingLoader.loadDirectory(config.feedMappingsDir)
        problems += loaded.errors.map(\.description)
        if problems.isEmpty {
            Output.line("configuration: \(config.file ?? "embedded defaults") is valid")
            Output.line("mappings in \(config.feedMappingsDir): \(loaded.mappings.count) valid")
            for m in loaded.mappings.sorted(by: { $0.feed < $1.feed }) {
                Output.line("  \(m.feed) v\(m.version): \(m.description)")
            }
            if loaded.mappings.isEmpty { Output.line("  (none: every inbox file would be quarantined)") }
            return
        }
        for p in problems { Output.error(p) }
        throw ExitCode(ExitCodes.failure)
    }
}
