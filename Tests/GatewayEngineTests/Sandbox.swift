import Foundation
import GatewayCore
import GatewayFormats
import GatewayTestSupport
import Logging
import Testing

@testable import GatewayEngine

/// A gateway home of its own: inbox, outbox, var and a copy of the shipped mappings.
struct Sandbox {
    let root: String
    var config: GatewayConfig
    let logs = LogCapture()
    /// Actions per pass; small values force a run through several passes.
    var actionBatch = 10_000

    init(_ name: String = #function) throws {
        root = Fixtures.tempDir(name)
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/mappings", withIntermediateDirectories: true)
        try fm.copyItem(atPath: Fixtures.mappingsDir, toPath: root + "/mappings/feeds")
        try fm.copyItem(atPath: Fixtures.registrationMappingsDir, toPath: root + "/mappings/registration")
        config = try GatewayConfig.load(path: nil, workingDirectory: root)
    }

    var inbox: String { config.inbox }

    /// Drops files of the partner story into the inbox, flat, as a person would.
    func drop(_ storyFiles: [String]) throws {
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        for f in storyFiles {
            try FileManager.default.copyItem(atPath: Fixtures.story(f), toPath: inbox + "/" + (f as NSString).lastPathComponent)
        }
    }

    static var storySales: [String] {
        let fm = FileManager.default
        return ["intranet", "dealer-dms"].flatMap { dir in
            ((try? fm.contentsOfDirectory(atPath: Fixtures.story(dir))) ?? []).sorted().map { "\(dir)/\($0)" }
        }
    }

    func gateway(crash: (@Sendable (String) throws -> Void)? = nil) throws -> Gateway {
        var logger = Logger(label: "test") { _ in LogCaptureHandler(capture: logs) }
        logger.logLevel = .trace
        // Reconnection back-off is instant in tests: the attempts are what is tested, not the waits.
        return try Gateway(config: config, logger: logger, crashPoint: CrashPoint(crash), actionBatch: actionBatch, sleep: { _ in })
    }

    func run(asOf: String = "2026-10-03T23:00:00Z", crash: (@Sendable (String) throws -> Void)? = nil) throws -> RunSummary {
        try gateway(crash: crash).run(asOf: Timestamp.parseISO(asOf)!)
    }

    func files(under dir: String) -> [String] {
        let fm = FileManager.default
        guard let e = fm.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: dir + "/" + rel, isDirectory: &isDir), !isDir.boolValue { out.append(rel) }
        }
        return out.sorted()
    }

    /// Every notification line in the outbox, across runs.
    func notifications() throws -> [[String: Any]] {
        let dir = config.notificationsDir
        return try files(under: dir).flatMap { name -> [[String: Any]] in
            let text = try String(contentsOfFile: dir + "/" + name, encoding: .utf8)
            return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        }.sorted {
            ($0["created_at"] as! String, $0["idempotency_key"] as! String) < (
                $1["created_at"] as! String, $1["idempotency_key"] as! String
            )
        }
    }
}

final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ s: String) {
        lock.lock()
        lines.append(s)
        lock.unlock()
    }
    var all: String {
        lock.lock()
        defer { lock.unlock() }
        return lines.joined(separator: "\n")
    }
}

struct LogCaptureHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        capture.append("\(event.level) \(event.message) \(metadata.merging(event.metadata ?? [:]) { $1 })")
    }
}

enum YAMLNodeHelper {
    static func node(_ text: String) throws -> YAMLNode { try YAMLNode.parse(text, file: "t.yaml") }
}

extension Sandbox {
    /// Points the gateway at the factory simulator: its token in a file, its test CA trusted.
    /// `backoff` 0 lets a later pass of the same run retry; 1 s makes a retry wait for the next run.
    mutating func useFactory(_ sim: FactorySimulator, maxAttempts: Int = 8, timeout: TimeInterval = 5, backoff: TimeInterval = 0) throws {
        let tokenFile = root + "/factory.token"
        try sim.token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        var f = FactoryConfig(baseURL: sim.baseURL, token: .file(tokenFile))
        f.caBundle = sim.ca.caCertificate
        f.timeout = timeout
        f.maxAttempts = maxAttempts
        f.firstBackoff = backoff
        f.maxBackoff = backoff
        config.factory = f
    }
}

extension Sandbox {
    /// Points one country's registrations at its simulator: the secret in a file, the test CA
    /// trusted, FR's client certificate presented (unless `withClientCertificate` is false).
    mutating func useRegistration(
        _ sim: RegistrationSimulator, timeout: TimeInterval = 5, maxAttempts: Int = 8, withClientCertificate: Bool = true
    ) throws {
        var ep = RegistrationConfig.Endpoint(baseURL: sim.baseURL)
        if let secret = sim.secret {
            let file = root + "/\(sim.country.lowercased()).secret"
            try secret.write(toFile: file, atomically: true, encoding: .utf8)
            ep.secret = .file(file)
        }
        ep.caBundle = sim.ca.caCertificate
        if withClientCertificate, let c = sim.clientCertificate {
            ep.clientCertificate = c.certificate
            ep.clientKey = c.key
        }
        ep.timeout = timeout
        config.registration.endpoints[sim.country] = ep
        config.registration.maxAttempts = maxAttempts
        // Back-off follows the as-of clock: a failed attempt is tried again on the next day's run.
        config.registration.firstBackoff = 60
        config.registration.maxBackoff = 60
    }

    /// An order of `country` that is fully paid and has its VIN, written as facts straight into the
    /// store (the feeds that bring them are tested elsewhere).
    func fullyPaidOrder(
        _ ref: String, country: String, nationalID: String, idType: String, city: String = "Madrid", finalPayment: Bool = true
    ) throws {
        let facts = TestOrders.facts(ref, country: country, nationalID: nationalID, idType: idType, city: city, finalPayment: finalPayment)
        let g = try gateway()
        try g.storeForQueries.appendFacts(facts, runID: "test")
    }
}
