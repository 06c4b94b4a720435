import Foundation
import GatewayCore
import GatewayEngine
import Logging

/// How log lines look on standard error: swift-log's text lines for a person, or one JSON object
/// a line for journald, Loki or any collector (`--log-format json`).
enum LogFormat: String, CaseIterable {
    case text, json
}

enum LoggingBootstrap {
    nonisolated(unsafe) static var done = false

    static func once(level: Logger.Level, format: LogFormat) {
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            case .json:
                return JSONLogHandler(label: label, logLevel: level)
            }
        }
    }
}

/// One line per event: `{"time":…,"level":…,"label":…,"message":…,"run":…,…}`. Metadata keys
/// sit next to the fixed ones (a key that collides with one is prefixed `meta_`), values are
/// strings, lists or objects as swift-log holds them. A line is written with one `write(2)`, so
/// lines from threads never interleave.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, logLevel: Logger.Level) {
        self.label = label
        self.logLevel = logLevel
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static let fixed: Set<String> = ["time", "level", "label", "message", "source", "file", "line"]

    func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        var line = "{\"time\":\(JSONText.quoted(Timestamp.iso(WallClock.now())))"
        line += ",\"level\":\(JSONText.quoted(event.level.rawValue)),\"label\":\(JSONText.quoted(label))"
        line += ",\"message\":\(JSONText.quoted(event.message.description))"
        for key in all.keys.sorted() {
            let name = Self.fixed.contains(key) ? "meta_" + key : key
            line += ",\(JSONText.quoted(name)):\(Self.json(all[key]!))"
        }
        line += "}\n"
        _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }

    static func json(_ v: Logger.Metadata.Value) -> String {
        switch v {
        case .string(let s): return JSONText.quoted(s)
        case .stringConvertible(let c): return JSONText.quoted(c.description)
        case .array(let a): return "[" + a.map(json).joined(separator: ",") + "]"
        case .dictionary(let d): return "{" + d.keys.sorted().map { "\(JSONText.quoted($0)):\(json(d[$0]!))" }.joined(separator: ",") + "}"
        }
    }
}
