import Foundation
import GatewayCore
import GatewayFormats
import GatewayTransport

/// Everything a run would load, checked before a run needs it: the configuration, every feed
/// and registration mapping, every secret reference, every key, known_hosts and certificate
/// file, that every source's feed is mapped, and that no file name would be claimed by two
/// feeds the content cannot tell apart. All problems are collected, none stops the check.
public struct ConfigCheck: Sendable {
    public struct Problem: Encodable, Sendable, Equatable, CustomStringConvertible {
        /// The file at fault (the configuration or a mapping), and its line when known.
        public let file: String
        @Nullable public var line: Int?
        /// The configuration key or mapping part, such as `factory.token`.
        @Nullable public var key: String?
        public let message: String

        public var description: String {
            "\(file)\(line.map { ":\($0)" } ?? ""): \(key.map { "\($0): " } ?? "")\(message)"
        }
    }

    public private(set) var problems: [Problem] = []
    public private(set) var config = GatewayConfig()
    public private(set) var mappings: [FeedMapping] = []
    public private(set) var registrationMappings: [String: RegistrationMapping] = [:]

    public var isValid: Bool { problems.isEmpty }

    public init(
        configPath: String?, workingDirectory: String = FileManager.default.currentDirectoryPath,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        do {
            config = try GatewayConfig.load(path: configPath, workingDirectory: workingDirectory)
        } catch let e as ConfigError {
            problems.append(Problem(file: e.file, line: e.line > 0 ? e.line : nil, key: nil, message: e.message))
            // The mappings are still checked, where the defaults say they are.
            config = GatewayConfig()
            config.resolve(against: configPath.map { ($0 as NSString).deletingLastPathComponent } ?? workingDirectory)
        } catch {
            problems.append(Problem(file: configPath ?? GatewayConfig.defaultFileName, line: nil, key: nil, message: "\(error)"))
        }
        checkFeedMappings()
        checkRegistrationMappings()
        checkSecrets(environment)
        checkFiles()
        checkSources()
        checkOverlaps()
    }

    var configFile: String { config.file ?? "the embedded defaults" }

    mutating func add(_ key: String, _ message: String) {
        problems.append(Problem(file: configFile, line: nil, key: key, message: message))
    }

    mutating func add(_ e: ConfigError) {
        problems.append(Problem(file: e.file, line: e.line > 0 ? e.line : nil, key: nil, message: e.message))
    }

    mutating func checkFeedMappings() {
        let dir = config.feedMappingsDir
        let yaml = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
            $0.hasSuffix(".yaml") || $0.hasSuffix(".yml")
        }
        guard !yaml.isEmpty else {
            problems.append(
                Problem(
                    file: dir, line: nil, key: nil,
                    message:
                        "no feed mapping here: every inbox file would be quarantined (copy the project's mappings/feeds, or set paths.mappings)"
                ))
            return
        }
        do {
            let loaded = try MappingLoader.loadDirectory(dir)
            mappings = loaded.mappings
            for e in loaded.errors { add(e) }
        } catch let e as ConfigError {
            add(e)
        } catch {
            problems.append(Problem(file: dir, line: nil, key: nil, message: "\(error)"))
        }
    }

    mutating func checkRegistrationMappings() {
        let loaded = RegistrationMappingLoader.loadDirectory(config.registrationMappingsDir)
        registrationMappings = loaded.mappings
        for e in loaded.errors { add(e) }
        for (country, endpoint) in config.registration.endpoints.sorted(by: { $0.key < $1.key }) {
            guard let m = loaded.mappings[country] else {
                // A broken file is reported above; a missing one here.
                if !loaded.errors.contains(where: { ($0.file as NSString).lastPathComponent.lowercased().hasPrefix(country.lowercased()) })
                {
                    add("registration.countries.\(country)", "no mapping for \(country) in \(config.registrationMappingsDir)")
                }
                continue
            }
            if let missing = RegistrationAction.missingCredentials(m, endpoint) { add("registration.countries.\(country)", missing) }
        }
    }

    /// Every secret reference resolves (an environment variable set, a file readable); the
    /// values themselves are never shown.
    mutating func checkSecrets(_ environment: [String: String]) {
        for (key, ref) in config.secretReferences {
            let value: String
            do { value = try ref.resolve(environment: environment) } catch {
                add(key, "\(error)")
                continue
            }
            if key.hasPrefix("webhooks.") {
                let b64 = value.hasPrefix("whsec_") ? String(value.dropFirst(6)) : value
                if Data(base64Encoded: b64) == nil { add(key, "not a whsec_<base64> webhook secret") }
            }
        }
    }

    mutating func checkFiles() {
        for (kind, list) in [
            ("sources", config.sources.map { ($0.name, $0.server) }), ("destinations", config.destinations.map { ($0.name, $0.server) }),
        ] {
            for (name, server) in list {
                checkPEM(
                    server.key, key: "\(kind)[\(name)].key", markers: ["PRIVATE KEY-----"], what: "an SSH private key (ed25519 or ECDSA)")
                let knownHosts = "\(kind)[\(name)].known_hosts"
                do {
                    let hosts = try KnownHosts(path: server.knownHosts)
                    if !hosts.knows(host: server.host, port: server.port) {
                        add(
                            knownHosts,
                            "\(server.knownHosts) has no key for \(KnownHosts.hostString(server.host, server.port)): add it after checking its fingerprint with the partner (ssh-keyscan -p \(server.port) \(server.host))"
                        )
                    }
                } catch {
                    add(knownHosts, "\(error)")
                }
            }
        }
        if let ca = config.factory?.caBundle {
            checkPEM(ca, key: "factory.ca_bundle", markers: ["-----BEGIN CERTIFICATE-----"], what: "PEM certificates")
        }
        for (cc, ep) in config.registration.endpoints.sorted(by: { $0.key < $1.key }) {
            let key = "registration.countries.\(cc)"
            if let ca = ep.caBundle {
                checkPEM(ca, key: key + ".ca_bundle", markers: ["-----BEGIN CERTIFICATE-----"], what: "PEM certificates")
            }
            if let c = ep.clientCertificate {
                checkPEM(c, key: key + ".client_certificate", markers: ["-----BEGIN CERTIFICATE-----"], what: "a PEM certificate")
            }
            if let k = ep.clientKey { checkPEM(k, key: key + ".client_key", markers: ["PRIVATE KEY-----"], what: "a PEM private key") }
        }
    }

    mutating func checkPEM(_ path: String, key: String, markers: [String], what: String) {
        guard let data = FileManager.default.contents(atPath: path) else {
            add(key, "cannot read \(path)\(FileManager.default.fileExists(atPath: path) ? " (permissions)" : ": no such file")")
            return
        }
        let text = String(decoding: data.prefix(64 * 1024), as: UTF8.self)
        if !markers.contains(where: text.contains) { add(key, "\(path) does not hold \(what)") }
    }

    mutating func checkSources() {
        let feeds = Set(mappings.map(\.feed))
        for (i, e) in (config.webhooks?.endpoints ?? []).enumerated() where !feeds.contains(e.feed) && !mappings.isEmpty {
            add(
                "webhooks.endpoints[\(i)].feed",
                "no mapping in \(config.feedMappingsDir) has feed '\(e.feed)': every delivery would be quarantined")
        }
        if let tls = config.webhooks?.tls {
            checkPEM(tls.certificate, key: "webhooks.tls.certificate", markers: ["-----BEGIN CERTIFICATE-----"], what: "a PEM certificate")
            checkPEM(tls.key, key: "webhooks.tls.key", markers: ["PRIVATE KEY-----"], what: "a PEM private key")
        }
        for s in config.sources where !feeds.contains(s.feed) && !mappings.isEmpty {
            add(
                "sources[\(s.name)].feed",
                "no mapping in \(config.feedMappingsDir) has feed '\(s.feed)': every file pulled would be quarantined")
        }
    }

    /// Two feeds whose name patterns both accept a name, and whose content signatures do not
    /// tell them apart, would quarantine every such file as ambiguous.
    mutating func checkOverlaps() {
        let sorted = mappings.sorted { $0.feed < $1.feed }
        for (i, a) in sorted.enumerated() {
            for b in sorted[(i + 1)...] {
                let distinct = a.contentSignature != nil && b.contentSignature != nil && a.contentSignature != b.contentSignature
                guard !distinct else { continue }
                let shared =
                    (PatternSamples.samples(a.namePattern).filter(b.namePattern.matches)
                    + PatternSamples.samples(b.namePattern).filter(a.namePattern.matches)).first
                if let name = shared {
                    problems.append(
                        Problem(
                            file: b.file, line: nil, key: "match.name",
                            message:
                                "a file named \(name) matches both \(a.feed) (\(a.namePattern.text)) and \(b.feed) (\(b.namePattern.text)), and their match.content does not tell them apart: narrow a pattern or give each a distinct match.content"
                        ))
                }
            }
        }
    }
}
