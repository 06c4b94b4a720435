import Foundation
import GatewayCore

/// Reads `mappings/registration/*.yaml`. Every mistake names the file and line.
public enum RegistrationMappingLoader {
    /// Mappings by country code. A broken file is an error; the other countries still load.
    public static func loadDirectory(_ dir: String) -> (mappings: [String: RegistrationMapping], errors: [ConfigError]) {
        var (loaded, errors) = YAMLFiles.loadEach(in: dir) { try load(path: $0) }
        var out: [String: RegistrationMapping] = [:]
        for m in loaded {
            if let other = out[m.country] {
                errors.append(ConfigError(file: m.file, line: 1, message: "country \(m.country) is already mapped by \(other.file)"))
            } else {
                out[m.country] = m
            }
        }
        return (out, errors)
    }

    public static func load(path: String) throws -> RegistrationMapping {
        try parse(YAMLFiles.text(path, what: "the mapping file"), file: path)
    }

    static let topKeys: Set<String> = [
        "country", "authority", "format", "xml_namespace", "submit", "status", "auth", "holder_id", "body", "answer", "plate_format",
        "description",
    ]

    public static func parse(_ text: String, file: String) throws -> RegistrationMapping {
        let root = try YAMLNode.parse(text, file: file)
        let top = try root.fields("a registration mapping", allowed: topKeys)
        func required(_ key: String) throws -> YAMLNode {
            guard let n = top[key] else { throw root.error("a registration mapping needs '\(key)'") }
            return n
        }
        let countryNode = try required("country")
        let country = try countryNode.scalar("country")
        guard Validators.named["iso_country"]!(country) == nil else { throw countryNode.error("'\(country)' is not an ISO country code") }

        let formatNode = try required("format")
        guard let format = RegistrationMapping.BodyFormat(rawValue: try formatNode.scalar("format")) else {
            throw formatNode.error("format must be json or xml")
        }
        let namespace = try top["xml_namespace"].map { try $0.scalar("xml_namespace") }

        let authNode = try required("auth")
        let auth: RegistrationMapping.Auth
        switch try authNode.node.scalar != nil ? authNode.scalar("auth") : "api_key" {
        case "bearer": auth = .bearer
        case "client_certificate": auth = .clientCertificate
        case "api_key":
            let f = try authNode.fields("auth", allowed: ["api_key"])
            let header = try f["api_key"]?.fields("auth.api_key", allowed: ["header"])["header"]?.scalar("auth.api_key.header")
            guard let header, !header.isEmpty else { throw authNode.error("auth: {api_key: {header: X-Api-Key}} names the header") }
            auth = .apiKey(header: header)
        case let other: throw authNode.error("auth '\(other)' is not known (bearer, client_certificate, {api_key: {header: …}})")
        }

        let holder = try required("holder_id").fields("holder_id", allowed: ["field", "check"])
        guard let holderField = try holder["field"]?.scalar("holder_id.field") else {
            throw try required("holder_id").error("holder_id needs a field")
        }
        guard RegistrationMapping.canonicalFields.contains(holderField) else {
            throw holder["field"]!.error(
                "'\(holderField)' is not a canonical field (\(RegistrationMapping.canonicalFields.joined(separator: ", ")))")
        }
        var check: String? = try holder["check"]?.scalar("holder_id.check")
        if check == "none" { check = nil }
        if let c = check, Validators.named[c] == nil {
            throw holder["check"]!.error("unknown check '\(c)' (known: none, \(Validators.named.keys.sorted().joined(separator: ", ")))")
        }

        var body: [(path: [String], source: RegistrationMapping.Source)] = []
        var seen: Set<String> = []
        for e in try required("body").mapping("body") {
            let path = e.key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !path.contains(where: \.isEmpty) else {
                throw ConfigError(file: file, line: e.line, message: "'\(e.key)' is not a dotted path of names")
            }
            for i in 1..<path.count where seen.contains(path[..<i].joined(separator: ".")) {
                throw ConfigError(file: file, line: e.line, message: "'\(e.key)' is under a field that already has a value")
            }
            seen.insert(e.key)
            let source = try e.value.scalar("body.\(e.key)")
            if source.hasPrefix("=") {
                body.append((path, .constant(String(source.dropFirst()))))
            } else if RegistrationMapping.canonicalFields.contains(source) {
                body.append((path, .canonical(source)))
            } else {
                throw e.value.error(
                    "'\(source)' is not a canonical field (\(RegistrationMapping.canonicalFields.joined(separator: ", "))); write =TEXT for a constant"
                )
            }
        }
        if format == .xml, Set(body.map { $0.path[0] }).count != 1 {
            throw try required("body").error("an XML body has one root element: every path starts with the same name")
        }

        let plateNode = try required("plate_format")
        let plate = try plateNode.scalar("plate_format")
        do {
            _ = try NSRegularExpression(pattern: plate)
        } catch {
            throw plateNode.error("plate_format is not a regular expression")
        }
        return try RegistrationMapping(
            country: country, authority: try top["authority"]?.scalar("authority") ?? country, file: file,
            submit: try endpoint(try required("submit"), "submit"), status: try endpoint(try required("status"), "status"), format: format,
            xmlNamespace: namespace, auth: auth, holderIDField: holderField, holderIDCheck: check, body: body,
            answer: try answer(try required("answer")), platePattern: plate)
    }

    static func endpoint(_ node: YAMLNode, _ what: String) throws -> RegistrationMapping.Endpoint {
        let f = try node.fields(what, allowed: ["method", "path"])
        guard let path = try f["path"]?.scalar("\(what).path"), path.hasPrefix("/") else {
            throw node.error("\(what) needs a path starting with /")
        }
        let method = try f["method"]?.scalar("\(what).method").uppercased() ?? (what == "submit" ? "POST" : "GET")
        guard ["GET", "POST", "PUT"].contains(method) else { throw node.error("\(what).method must be GET, POST or PUT") }
        if what == "status" && !path.contains("{submission_id}") {
            throw node.error("status.path must contain {submission_id}: the state asked is that submission's")
        }
        return RegistrationMapping.Endpoint(method: method, path: path)
    }

    static func answer(_ node: YAMLNode) throws -> RegistrationMapping.Answer {
        let f = try node.fields(
            "answer", allowed: ["mode", "plate", "state", "states", "reason", "error", "poll"])
        guard let modeText = try f["mode"]?.scalar("answer.mode"), let mode = RegistrationMapping.Mode(rawValue: modeText) else {
            throw node.error("answer.mode must be sync or async")
        }
        guard let plate = try f["plate"]?.scalar("answer.plate") else { throw node.error("answer.plate says where the plate is") }
        let state = try f["state"]?.scalar("answer.state")
        var registered: Set<String> = [], rejected: Set<String> = [], pending: Set<String> = []
        if let s = f["states"] {
            let g = try s.fields("answer.states", allowed: ["registered", "rejected", "pending"])
            func values(_ key: String) throws -> Set<String> {
                guard let n = g[key] else { return [] }
                if n.node.sequence != nil { return Set(try n.sequence(key).map { try $0.scalar(key) }) }
                return [try n.scalar(key)]
            }
            registered = try values("registered")
            rejected = try values("rejected")
            pending = try values("pending")
        }
        if mode == .async && (state == nil || registered.isEmpty || pending.isEmpty) {
            throw node.error("an asynchronous answer needs state and states (registered, rejected, pending)")
        }
        var errorField: String?, errorReason: String?
        if let e = f["error"] {
            let g = try e.fields("answer.error", allowed: ["field", "reason"])
            errorField = try g["field"]?.scalar("answer.error.field")
            errorReason = try g["reason"]?.scalar("answer.error.reason")
        }
        var every: TimeInterval = 3600, giveUp: TimeInterval = 72 * 3600
        if let p = f["poll"] {
            let g = try p.fields("answer.poll", allowed: ["every_minutes", "give_up_after_hours"])
            if let v = g["every_minutes"] { every = TimeInterval(max(1, try v.int("every_minutes"))) * 60 }
            if let v = g["give_up_after_hours"] { giveUp = TimeInterval(max(1, try v.int("give_up_after_hours"))) * 3600 }
        }
        return RegistrationMapping.Answer(
            mode: mode, plate: plate, state: state, registered: registered, rejected: rejected, pending: pending,
            reason: try f["reason"]?.scalar("answer.reason"), errorField: errorField, errorReason: errorReason, pollEvery: every,
            giveUpAfter: giveUp)
    }
}
