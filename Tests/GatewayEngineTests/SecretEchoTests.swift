import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine
@testable import GatewayStore
@testable import GatewayTransport

/// A partner that repeats our credentials in its answer (issue 25: the factory's error body with
/// our bearer token reached the store and the day's report.csv, .html and .json). Whatever a
/// partner says is cleaned of every configured secret before it is stored, logged or reported.
@Suite("Secrets a partner echoes are never stored or shown", .serialized)
struct SecretEchoTests {
    /// Every file the run left under var/ and outbox/ (the store included), as bytes.
    static func everythingWritten(_ box: Sandbox) throws -> [(path: String, bytes: Data)] {
        var out: [(String, Data)] = []
        for dir in [box.config.varDir, box.config.outbox] {
            guard let walker = FileManager.default.enumerator(atPath: dir) else { continue }
            while let rel = walker.nextObject() as? String {
                let path = dir + "/" + rel
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
                    let data = FileManager.default.contents(atPath: path)
                else { continue }
                out.append((path, data))
            }
        }
        return out
    }

    static func expectNowhere(_ secret: String, in box: Sandbox, _ why: String) throws {
        let written = try everythingWritten(box)
        #expect(!written.isEmpty)
        for (path, bytes) in written {
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(why): the secret is in \(path)")
        }
    }

    @Test func aFactoryThatEchoesOurBearerTokenHasItMaskedInTheStoreAndTheReport() throws {
        let sim = try FactorySimulator()
        defer { sim.stop() }
        var box = try Sandbox()
        try box.useFactory(sim, maxAttempts: 1)
        let r = try HTTPClient(tls: TLSOptions(caBundle: sim.ca.caCertificate))
            .send(HTTPRequest(method: "POST", url: sim.baseURL + "/_sim/faults", body: Data(#"{"echo_credentials": true}"#.utf8)))
        #expect(r.status == 200)
        try box.drop(FactoryOrderTests.firstDays)
        let s = try box.run(asOf: "2026-10-04T23:00:00Z")
        #expect(s.actionsFailed == 9)
        let failed = try box.gateway().storeForQueries.actions(status: .failed)
        #expect(failed.count == 9)
        // The factory's words are kept, for a person to read; our token in them is not.
        #expect(failed.allSatisfy { ($0.lastError ?? "").contains("Authorization: Bearer ***") }, "\(failed.first?.lastError ?? "")")
        let report = box.config.reportsDir + "/2026-10-04"
        for file in ["report.csv", "report.html", "report.json"] {
            let text = try String(contentsOfFile: report + "/" + file, encoding: .utf8)
            #expect(text.contains("Bearer ***"), "\(file) shows the refusal")
        }
        try Self.expectNowhere(sim.token, in: box, "factory token")
    }

    @Test(arguments: ["PT", "ES"])
    func aRegistrationBodyThatEchoesOurCredentialsHasThemMasked(country: String) throws {
        let sim = try RegistrationSimulator(country: country)
        defer { sim.stop() }
        var box = try Sandbox("echo" + country)
        try box.useRegistration(sim)
        let h = validHolder[country]!
        try box.fullyPaidOrder("S-2026-000777", country: country, nationalID: h.id, idType: h.type)
        try SimControl(sim: sim).faults(#"{"echo_credentials": true}"#)
        _ = try box.run(asOf: "2026-11-02T23:00:00Z")
        let secret = try #require(sim.secret)
        let ledger = try box.gateway().registrationLedger(orderRef: "S-2026-000777")
        #expect(ledger.contains { ($0.detail ?? "").contains("***") }, "\(ledger.map(\.detail))")
        try Self.expectNowhere(secret, in: box, "\(country) registration secret")
    }

    @Test func everyKindOfSecretIsMaskedWithTheFormsAnEchoTakes() throws {
        var config = try Sandbox("maskkinds").config
        let env = [
            "T_FACTORY": "factory-token-0123456789", "T_PG": "pg-password-abcdef", "T_REG": "registration-api-key-42",
            "T_HOOK": "whsec_" + Data("webhook-secret-of-32-bytes-long!".utf8).base64EncodedString(), "T_PASS": "key-passphrase-xyz",
        ]
        config.factory = FactoryConfig(baseURL: "https://127.0.0.1:1", token: .env("T_FACTORY"))
        config.postgres = PostgresConfig(url: "postgresql://caas@127.0.0.1:1/db", password: .env("T_PG"))
        var ep = RegistrationConfig.Endpoint(baseURL: "https://127.0.0.1:1")
        ep.secret = .env("T_REG")
        config.registration.endpoints["PT"] = ep
        var hooks = WebhooksConfig()
        hooks.endpoints = [.init(path: "/webhooks/factory", feed: "factory-webhooks", secrets: [.env("T_HOOK")])]
        config.webhooks = hooks
        let server = SFTPServerConfig(host: "127.0.0.1", user: "u", key: "/k", passphrase: .env("T_PASS"), knownHosts: "/kh")
        config.destinations = [DestinationConfig(name: "d", server: server, remoteDir: "/", outbox: "reports")]
        let mask = SecretMask(config: config, environment: env)
        for (name, value) in env {
            let plain = mask.apply("the partner said: \(value).")
            #expect(plain == "the partner said: ***.", "\(name)")
            let basic = mask.apply("Basic " + Data(value.utf8).base64EncodedString())
            #expect(basic == "Basic ***", "\(name) in base64")
        }
        let key = String(env["T_HOOK"]!.dropFirst(6))
        #expect(mask.apply("key=\(key)") == "key=***", "a whsec_ secret's key alone")
        #expect(mask.apply("nothing secret here, 12345") == "nothing secret here, 12345")
    }
}
