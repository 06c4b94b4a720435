import Foundation
import GatewayCore

/// `mappings/registration/<cc>.yaml`: how a canonical order becomes one country's registration
/// request, how to authenticate, and how to read the body's answer. A further country whose API
/// has a style already known here (JSON or XML, synchronous or polled, bearer, API key or client
/// certificate) needs this file and nothing else.
public struct RegistrationMapping: Sendable {
    public enum BodyFormat: String, Sendable { case json, xml }
    public enum Mode: String, Sendable { case sync, async }

    public enum Auth: Sendable, Equatable {
        case bearer
        case apiKey(header: String)
        case clientCertificate
    }

    /// A request: method and a path under the country's base URL; `{submission_id}` is replaced.
    public struct Endpoint: Sendable, Equatable {
        public let method: String
        public let path: String

        public func path(submissionID: String) -> String {
            path.replacingOccurrences(of: "{submission_id}", with: Self.escape(submissionID))
        }

        static func escape(_ s: String) -> String {
            s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
        }
    }

    /// Where the answer says what became of a submission. Paths are dotted: JSON keys, or XML
    /// element names from the root (namespaces ignored).
    public struct Answer: Sendable {
        public let mode: Mode
        public let plate: String
        /// The submission's state, and which values mean what. A synchronous body's 201 needs no
        /// state: a plate is the answer.
        public let state: String?
        public let registered: Set<String>
        public let rejected: Set<String>
        public let pending: Set<String>
        /// The reason of a refusal decided later (asynchronous) or read from a state query.
        public let reason: String?
        /// The field at fault and the message of a 400/422.
        public let errorField: String?
        public let errorReason: String?
        public let pollEvery: TimeInterval
        public let giveUpAfter: TimeInterval
    }

    /// A body field's value: the canonical order's or a constant.
    public enum Source: Sendable, Equatable {
        case canonical(String)
        case constant(String)
    }

    public let country: String
    public let authority: String
    public let file: String
    public let submit: Endpoint
    public let status: Endpoint
    public let format: BodyFormat
    public let xmlNamespace: String?
    public let auth: Auth
    /// The canonical field holding the holder's id, and the validator it must pass before any
    /// request leaves (nil: the country has no public check).
    public let holderIDField: String
    public let holderIDCheck: String?
    /// The request's fields in document order: dotted path → source.
    public let body: [(path: [String], source: Source)]
    public let answer: Answer
    public let platePattern: String
    let plateRegex: NSRegularExpression

    /// The canonical values a body can use. `holder.*` are personal data: masked in the ledger.
    public static let canonicalFields: [String] = [
        "submission_id", "order_ref", "dealer_code", "country", "vehicle.vin", "vehicle.model",
        "holder.given_name", "holder.family_name", "holder.full_name", "holder.national_id", "holder.national_id_type",
        "holder.street", "holder.postal_code", "holder.city", "holder.country",
    ]

    /// nil when the plate has the country's format; otherwise why not (plates are not personal).
    public func checkPlate(_ plate: String) -> String? {
        let range = NSRange(plate.startIndex..., in: plate)
        return plateRegex.firstMatch(in: plate, range: range) == nil
            ? "plate '\(plate)' does not have the \(country) format \(platePattern)" : nil
    }

    /// nil when the holder id passes the country's check; otherwise why not (never the id itself).
    public func checkHolderID(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return "\(holderIDField) is missing" }
        guard let check = holderIDCheck else { return nil }
        return Validators.named[check]?(value).map { "\(holderIDField) fails the \(country) check (\(check)): \($0)" }
    }

    /// The request body for these canonical values: the same bytes for the same values, so every
    /// attempt of a submission is the same request.
    public func render(_ values: [String: String]) -> Data {
        let leaves = body.map { entry -> ([String], String) in
            switch entry.source {
            case .constant(let c): return (entry.path, c)
            case .canonical(let name): return (entry.path, values[name] ?? "")
            }
        }
        switch format {
        case .json: return RegistrationBody.json(leaves)
        case .xml: return RegistrationBody.xml(leaves, namespace: xmlNamespace)
        }
    }

    /// The answer's values by dotted path, or nil when the body is neither JSON nor XML.
    public func read(_ data: Data) -> [String: String]? {
        RegistrationBody.values(data)
    }

    init(
        country: String, authority: String, file: String, submit: Endpoint, status: Endpoint, format: BodyFormat, xmlNamespace: String?,
        auth: Auth, holderIDField: String, holderIDCheck: String?, body: [(path: [String], source: Source)], answer: Answer,
        platePattern: String
    ) throws {
        self.country = country
        self.authority = authority
        self.file = file
        self.submit = submit
        self.status = status
        self.format = format
        self.xmlNamespace = xmlNamespace
        self.auth = auth
        self.holderIDField = holderIDField
        self.holderIDCheck = holderIDCheck
        self.body = body
        self.answer = answer
        self.platePattern = platePattern
        self.plateRegex = try NSRegularExpression(pattern: platePattern)
    }
}
