import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine

@Suite("Metrics for node_exporter's textfile collector")
struct MetricsTests {
    func metrics(_ box: Sandbox) throws -> String {
        try String(contentsOfFile: box.config.varDir + "/metrics/caas_gateway.prom", encoding: .utf8)
    }

    @Test func everyRunWritesWhatItDidAndTheLastSuccessSurvivesAFailure() throws {
        let box = try Sandbox()
        try box.drop(Sandbox.storySales)
        _ = try box.run(asOf: "2026-10-03T23:00:00Z")
        var m = try metrics(box)
        // One sale carries a wrong codice fiscale: the run needs a person, so it is no success.
        #expect(m.contains(#"caas_gateway_last_run_timestamp_seconds{command="run",status="attention"}"#))
        #expect(!m.contains("\ncaas_gateway_last_success_timestamp_seconds "))
        #expect(m.contains(#"caas_gateway_run_files{outcome="ingested"} 13"#))
        #expect(m.contains(#"caas_gateway_run_files{outcome="duplicate"} 1"#))
        #expect(m.contains(#"caas_gateway_run_records{outcome="rejected"} 1"#))
        #expect(m.contains(#"caas_gateway_actions{status="done"}"#))
        // Open exceptions by rule, as the report found them: the rejected sale is the dealership's.
        #expect(m.contains(#"caas_gateway_exceptions{rule="sale_rejected"} 1"#))
        for line in m.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.range(of: #"^caas_gateway_[a-z_]+(\{[^}]*\})? [0-9.]+$"#, options: .regularExpression) != nil, "\(line)")
        }

        _ = try box.run(asOf: "2026-10-04T23:00:00Z")  // nothing new: a success
        m = try metrics(box)
        #expect(m.contains(#"status="ok""#))
        let success = try #require(Metrics.previousSuccess(varDir: box.config.varDir))
        #expect(abs(success.timeIntervalSinceNow) < 60)
        // No temporary files left next to it: the collector must never read half a file.
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.config.varDir + "/metrics") == ["caas_gateway.prom"])
    }

    @Test func aRegistrationDryRunSendsNothingAndWritesNothing() throws {
        let box = try Sandbox()
        try box.fullyPaidOrder("S-2026-000801", country: "ES", nationalID: "51234567C", idType: "DNI")
        let s = try box.gateway().run(asOf: Timestamp.parseISO("2026-11-02T23:00:00Z")!, dryRun: true)
        #expect(s.registrationFiles.isEmpty)
        #expect(box.files(under: box.config.outbox + "/registrations").isEmpty)
        #expect(s.wouldDo?.contains("submit_registration:S-2026-000801") == true)
        #expect(try box.gateway().storeForQueries.registration(orderRef: "S-2026-000801") == nil)
        // The real run then does it.
        #expect(try box.run(asOf: "2026-11-02T23:00:00Z").registrationFiles.count == 1)
    }
}
