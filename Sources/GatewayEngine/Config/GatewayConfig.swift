import Foundation
import GatewayCore
import GatewayFormats

/// `caas-gateway.yaml`. Every key has a default, so with no file at all the gateway runs on
/// ./inbox, ./outbox, ./var, ./mappings and SQLite. Relative paths are taken from the directory
/// the configuration file is in (or the working directory when there is none).
public struct GatewayConfig: Sendable {
    public var inbox = "inbox"
    public var outbox = "outbox"
    public var varDir = "var"
    public var mappings = "mappings"
    /// SQLite database file; relative paths are under `var`.
    public var storePath = "gateway.sqlite"
    /// The shared PostgreSQL store, when several runners work together; nil for SQLite.
    public var postgres: PostgresConfig?
    /// This runner's name on its runs, leases and claims (`runner: {name: …}`); nil for the default.
    public var runnerName: String?
    /// How long a remote file this runner claimed stays its own to fetch (`runner.pull_claim_seconds`):
    /// if the runner dies mid-download, another takes the file after this.
    public var pullClaimSeconds = 1800
    public var policies = Policies()
    public var activationURL = "https://my.caas.example/activate"
    public var expedienteURL = "https://my.caas.example/orders"
    public var activationTTLHours = 72
    /// Files younger than this (by modification time) are left for the next run: a hand drop may
    /// still be being written.
    public var inboxMinAgeSeconds = 0
    /// SFTP folders to pull partner files from, and to deliver outbox folders to.
    public var sources: [SourceConfig] = []
    public var destinations: [DestinationConfig] = []
    public var retry = RetryPolicy()
    public var factory: FactoryConfig?
    /// Country registration APIs; a country without an endpoint is registered in file mode.
    public var registration = RegistrationConfig()
    /// Dealership addresses by dealer code, for customer notices (where to collect a vehicle).
    public var dealerships: [String: String] = [:]
    /// When a waiting order or a quiet feed becomes an exception in the report.
    public var reconciliation = ReconciliationConfig()
    /// How the report's files are written for the programs and people that read them.
    public var report = ReportOutput()
    /// How long kept files stay; nothing is pruned unless configured (`caas-gateway prune`).
    public var retention = Retention()
    /// What a sale may name and what its money must be.
    public var catalogue = Catalogue()
    /// The receiver of partners' signed pushes; nil when none is configured.
    public var webhooks: WebhooksConfig?
    /// Where the configuration was read from, for messages; nil for the embedded defaults.
    public var file: String?

    public init() {}

    public static let defaultFileName = "caas-gateway.yaml"

    static let topKeys: Set<String> = [
        "paths", "store", "runner", "policies", "customers", "inbox", "sources", "destinations", "retry", "factory", "registration",
        "dealerships", "reconciliation", "report", "retention", "webhooks", "catalogue",
    ]

    /// Loads the file, or the defaults when `path` is nil and no `caas-gateway.yaml` is in the
    /// working directory. Paths come back absolute.
    public static func load(path: String?, workingDirectory: String = FileManager.default.currentDirectoryPath) throws -> GatewayConfig {
        var config = GatewayConfig()
        var base = workingDirectory
        let candidate = path ?? (workingDirectory as NSString).appendingPathComponent(defaultFileName)
        if path != nil || FileManager.default.fileExists(atPath: candidate) {
            config = try parse(YAMLFiles.text(candidate, what: "the configuration file"), file: candidate)
            config.file = candidate
            base = ((candidate as NSString).deletingLastPathComponent as NSString).standardizingPath
            if base.isEmpty { base = workingDirectory }
            if !base.hasPrefix("/") { base = (workingDirectory as NSString).appendingPathComponent(base) }
        }
        config.resolve(against: base)
        return config
    }

    mutating func resolve(against base: String) {
        func abs(_ p: String, _ root: String) -> String {
            p.hasPrefix("/") ? p : ((root as NSString).appendingPathComponent(p) as NSString).standardizingPath
        }
        inbox = abs(inbox, base)
        outbox = abs(outbox, base)
        varDir = abs(varDir, base)
        mappings = abs(mappings, base)
        storePath = abs(storePath, varDir)
        for i in sources.indices {
            sources[i].server.key = abs(sources[i].server.key, base)
            sources[i].server.knownHosts = abs(sources[i].server.knownHosts, base)
            sources[i].server.passphrase = sources[i].server.passphrase?.resolvingFile { abs($0, base) }
        }
        if let ca = factory?.caBundle { factory?.caBundle = abs(ca, base) }
        if let token = factory?.token { factory?.token = token.resolvingFile { abs($0, base) } }
        if let password = postgres?.password { postgres?.password = password.resolvingFile { abs($0, base) } }
        registration.resolve { abs($0, base) }
        webhooks?.resolve { abs($0, base) }
        for i in destinations.indices {
            destinations[i].server.key = abs(destinations[i].server.key, base)
            destinations[i].server.knownHosts = abs(destinations[i].server.knownHosts, base)
            destinations[i].server.passphrase = destinations[i].server.passphrase?.resolvingFile { abs($0, base) }
        }
    }

    public static func parse(_ text: String, file: String) throws -> GatewayConfig {
        let root = try YAMLNode.parse(text, file: file)
        try SecretReference.refuseInlineSecrets(in: root)
        var c = GatewayConfig()
        let top = try root.fields("the configuration", allowed: topKeys)
        if let p = top["paths"] {
            let f = try p.fields("paths", allowed: ["inbox", "outbox", "var", "mappings"])
            if let v = f["inbox"] { c.inbox = try v.scalar("paths.inbox") }
            if let v = f["outbox"] { c.outbox = try v.scalar("paths.outbox") }
            if let v = f["var"] { c.varDir = try v.scalar("paths.var") }
            if let v = f["mappings"] { c.mappings = try v.scalar("paths.mappings") }
        }
        if let s = top["store"] {
            let f = try s.fields("store", allowed: ["sqlite", "postgres"])
            if let v = f["sqlite"] { c.storePath = try v.scalar("store.sqlite") }
            if let v = f["postgres"] {
                guard f["sqlite"] == nil else { throw v.error("store is either sqlite or postgres, not both") }
                c.postgres = try PostgresConfig.parse(v)
            }
        }
        if let r = top["runner"] {
            let f = try r.fields("runner", allowed: ["name", "pull_claim_seconds"])
            if let v = f["pull_claim_seconds"] {
                c.pullClaimSeconds = try v.int("runner.pull_claim_seconds")
                guard c.pullClaimSeconds >= 10 else { throw v.error("runner.pull_claim_seconds must be at least 10") }
            }
            if let v = f["name"] {
                let name = try v.scalar("runner.name")
                guard !name.isEmpty, name.count <= 100,
                    name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:/@".contains($0)) })
                else { throw v.error("runner.name must be 1 to 100 letters, digits or - _ . : / @") }
                c.runnerName = name
            }
        }
        if let p = top["policies"] {
            let f = try p.fields("policies", allowed: ["final_payment_window_days"])
            if let w = f["final_payment_window_days"] {
                let g = try w.fields("policies.final_payment_window_days", allowed: ["default", "by_country"])
                if let d = g["default"] {
                    c.policies.finalPaymentWindowDays = try d.int("final_payment_window_days.default")
                    guard c.policies.finalPaymentWindowDays > 0 else { throw d.error("the window must be at least one day") }
                }
                for e in try g["by_country"]?.mapping("by_country") ?? [] {
                    guard Validators.named["iso_country"]!(e.key) == nil else {
                        throw ConfigError(file: file, line: e.line, message: "'\(e.key)' is not an ISO country code")
                    }
                    c.policies.finalPaymentWindowDaysByCountry[e.key] = try e.value.int("window for \(e.key)")
                }
            }
        }
        if let cu = top["customers"] {
            let f = try cu.fields("customers", allowed: ["activation_url", "expediente_url", "activation_ttl_hours"])
            if let v = f["activation_url"] { c.activationURL = try httpsURL(v, "customers.activation_url") }
            if let v = f["expediente_url"] { c.expedienteURL = try httpsURL(v, "customers.expediente_url") }
            if let v = f["activation_ttl_hours"] {
                c.activationTTLHours = try v.int("customers.activation_ttl_hours")
                guard (1...720).contains(c.activationTTLHours) else { throw v.error("activation_ttl_hours must be between 1 and 720") }
            }
        }
        if let n = top["sources"] { c.sources = try TransferConfigParser.sources(n) }
        if let n = top["destinations"] { c.destinations = try TransferConfigParser.destinations(n) }
        if let n = top["retry"] { c.retry = try TransferConfigParser.retry(n) }
        if let n = top["factory"] { c.factory = try FactoryConfig.parse(n) }
        if let n = top["registration"] { c.registration = try RegistrationConfig.parse(n) }
        if let n = top["reconciliation"] { c.reconciliation = try ReconciliationConfig.parse(n) }
        for e in try top["dealerships"]?.mapping("dealerships") ?? [] {
            let f = try e.value.fields("dealerships.\(e.key)", allowed: ["address"])
            guard let a = f["address"] else { throw e.value.error("dealerships.\(e.key) needs an address") }
            c.dealerships[e.key] = try a.scalar("dealerships.\(e.key).address")
        }
        if let n = top["report"] { c.report = try ReportOutput.parse(n) }
        if let n = top["retention"] { c.retention = try Retention.parse(n) }
        if let n = top["webhooks"] { c.webhooks = try WebhooksConfig.parse(n) }
        if let n = top["catalogue"] { c.catalogue = try Catalogue.parse(n) }
        if let i = top["inbox"] {
            let f = try i.fields("inbox", allowed: ["min_age_seconds"])
            if let v = f["min_age_seconds"] { c.inboxMinAgeSeconds = try v.int("inbox.min_age_seconds") }
        }
        return c
    }

    static func httpsURL(_ node: YAMLNode, _ what: String) throws -> String {
        let s = try node.scalar(what)
        guard s.hasPrefix("https://"), URL(string: s) != nil else { throw node.error("\(what) must be an https:// URL") }
        return s
    }

    /// The name on this runner's runs, leases and claims. By default the host name; with a
    /// shared store, the host name and the var directory, because the run lock (what makes a
    /// runner sure its own unfinished runs are dead) is per var directory, and two workspaces on
    /// one host are two runners.
    public var runner: String {
        if let runnerName { return runnerName }
        return postgres == nil ? RunContext.hostRunner : RunContext.hostRunner + ":" + varDir
    }

    public var archiveDir: String { (varDir as NSString).appendingPathComponent("archive") }
    public var quarantineDir: String { (varDir as NSString).appendingPathComponent("quarantine") }
    public var lockFile: String { (varDir as NSString).appendingPathComponent("gateway.lock") }
    /// What the run is handling now (a file, an order): what the next run finds there if this one died.
    public var workMarkFile: String { (varDir as NSString).appendingPathComponent("working-on") }
    public var feedMappingsDir: String { (mappings as NSString).appendingPathComponent("feeds") }
    public var registrationMappingsDir: String { (mappings as NSString).appendingPathComponent("registration") }
    public var notificationsDir: String { (outbox as NSString).appendingPathComponent("notifications") }
    public var reportsDir: String { (outbox as NSString).appendingPathComponent("reports") }
    public var expedientesDir: String { (outbox as NSString).appendingPathComponent("expedientes") }
    /// What the webhook receiver remembers: the deliveries it wrote, by webhook-id.
    public var webhooksDir: String { (varDir as NSString).appendingPathComponent("webhooks") }
}

/// A secret is never written in the configuration: it is `{env: NAME}` or `{file: /path}`.
public enum SecretReference: Sendable, Equatable {
    case env(String)
    case file(String)

    static let secretWords = ["token", "password", "passphrase", "secret", "api_key", "apikey", "private_key"]

    /// Walks the whole configuration: any key that names a secret must hold a reference.
    static func refuseInlineSecrets(in node: YAMLNode) throws {
        guard let entries = try? node.mapping("") else {
            if let seq = node.node.sequence { for n in seq { try refuseInlineSecrets(in: YAMLNode(node: n, file: node.file)) } }
            return
        }
        for e in entries {
            let key = e.key.lowercased()
            if secretWords.contains(where: { key.contains($0) }), e.value.node.scalar != nil {
                throw ConfigError(
                    file: node.file, line: e.line,
                    message: "'\(e.key)' holds a secret inline; write {env: VARIABLE} or {file: /path/to/secret} instead")
            }
            try refuseInlineSecrets(in: e.value)
        }
    }

    public static func parse(_ node: YAMLNode, what: String) throws -> SecretReference {
        let f = try node.fields(what, allowed: ["env", "file"])
        if let e = f["env"], f["file"] == nil { return .env(try e.scalar("\(what).env")) }
        if let p = f["file"], f["env"] == nil { return .file(try p.scalar("\(what).file")) }
        throw node.error("\(what) must be {env: VARIABLE} or {file: /path}")
    }

    /// A `{file: ...}` path made absolute the way every other path of the configuration is:
    /// relative to the configuration file's directory.
    func resolvingFile(_ abs: (String) -> String) -> SecretReference {
        if case .file(let path) = self { return .file(abs(path)) }
        return self
    }

    /// The secret's value; errors name the variable or file, never the value.
    public func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        switch self {
        case .env(let name):
            guard let v = environment[name], !v.isEmpty else { throw StoreConfigError("environment variable \(name) is not set") }
            return v
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path), let v = String(data: data, encoding: .utf8) else {
                throw StoreConfigError("cannot read secret file \(path)")
            }
            return v.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}

public struct StoreConfigError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
