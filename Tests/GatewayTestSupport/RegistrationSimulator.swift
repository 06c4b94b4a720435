import Foundation

/// One country's registration API (Tests/Simulators/registration.py), over TLS with a test CA of
/// its own. FR demands a client certificate signed by that CA; `clientCertificate` is one.
public final class RegistrationSimulator: @unchecked Sendable {
    public let country: String
    public let port: Int
    public let ca: TestCA
    /// The bearer token or API key the simulator demands (nil for FR).
    public let secret: String?
    public let clientCertificate: (certificate: String, key: String)?
    let process: ChildProcess

    public init(country: String) throws {
        self.country = country
        ca = try TestCA()
        port = try ChildProcess.freePort()
        let script = Fixtures.repoRoot.appendingPathComponent("Tests/Simulators/registration.py").path
        var args = ["python3", script, "--country", country, "--port", String(port), "--cert", ca.serverCertificate, "--key", ca.serverKey]
        switch country {
        case "FR":
            secret = nil
            clientCertificate = try ca.clientCertificate()
            args += ["--client-ca", ca.caCertificate]
        case "PT":
            secret = "test-imt-api-key"
            clientCertificate = nil
            args += ["--api-key", secret!]
        default:
            secret = "test-\(country.lowercased())-token"
            clientCertificate = nil
            args += ["--token", secret!]
        }
        let log = ca.dir + "/registration-\(country).log"
        process = try ChildProcess(args, log: log)
        guard process.waitForPort(port) else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw NSError(domain: "RegistrationSimulator", code: 1, userInfo: [NSLocalizedDescriptionKey: "did not start: \(text)"])
        }
    }

    public var baseURL: String { "https://127.0.0.1:\(port)" }

    public func stop() { process.stop() }
}
