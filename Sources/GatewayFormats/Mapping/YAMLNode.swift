import Yams

/// A configuration or mapping mistake: which file, which line, what is wrong.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    public let line: Int
    public let message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}

/// A YAML node that remembers its file and line, so every mistake found while reading a mapping
/// or the configuration is reported where it is.
public struct YAMLNode {
    public let node: Node
    public let file: String

    public init(node: Node, file: String) {
        self.node = node
        self.file = file
    }

    /// Parses YAML text; an empty document is an empty mapping.
    public static func parse(_ text: String, file: String) throws -> YAMLNode {
        do {
            let node = try Yams.compose(yaml: text) ?? Node.mapping(Node.Mapping([]))
            return YAMLNode(node: node, file: file)
        } catch let error as YamlError {
            throw ConfigError(file: file, line: Self.line(of: error), message: "not valid YAML: \(Self.describe(error))")
        }
    }

    public var line: Int { node.mark?.line ?? 0 }

    public func error(_ message: String) -> ConfigError { ConfigError(file: file, line: line, message: message) }

    public var isMapping: Bool { node.mapping != nil }

    public func mapping(_ what: String) throws -> [(key: String, value: YAMLNode, line: Int)] {
        guard let m = node.mapping else { throw error("\(what) must be a mapping of keys to values") }
        return m.map { (key: $0.key.string ?? "", value: YAMLNode(node: $0.value, file: file), line: $0.key.mark?.line ?? line) }
    }

    public func sequence(_ what: String) throws -> [YAMLNode] {
        if let s = node.sequence { return s.map { YAMLNode(node: $0, file: file) } }
        throw error("\(what) must be a list")
    }

    /// A scalar as text. Numbers and booleans are text too until a caller asks for them.
    public func scalar(_ what: String) throws -> String {
        guard let s = node.scalar?.string else { throw error("\(what) must be a single value") }
        return s
    }

    public func int(_ what: String) throws -> Int {
        guard let v = Int(try scalar(what)) else { throw error("\(what) must be a whole number") }
        return v
    }

    public func bool(_ what: String) throws -> Bool {
        switch try scalar(what).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("\(what) must be true or false")
        }
    }

    /// A mapping's value by key, checking that no unknown key is present (typos fail loudly).
    public func fields(_ what: String, allowed: Set<String>) throws -> [String: YAMLNode] {
        var out: [String: YAMLNode] = [:]
        for entry in try mapping(what) {
            guard allowed.contains(entry.key) else {
                throw ConfigError(
                    file: file, line: entry.line,
                    message: "unknown key '\(entry.key)' in \(what) (known: \(allowed.sorted().joined(separator: ", ")))")
            }
            out[entry.key] = entry.value
        }
        return out
    }

    private static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _): return mark.line
        default: return 0
        }
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _): return problem
        default: return "\(error)"
        }
    }
}
