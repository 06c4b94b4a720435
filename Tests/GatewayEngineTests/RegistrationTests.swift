import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine
@testable import GatewayFormats
@testable import GatewayStore
@testable import GatewayTransport

/// A holder id valid for each country's check.
let validHolder: [String: (id: String, type: String)] = [
    "ES": ("51234567C", "DNI"), "PT": ("123456789", "NIF"), "FR": ("X4RTBPFW4", "CNI"), "DE": ("T220001293", "NPA"),
    "IT": ("DLCGLI90M41F205D", "CF"),
]

/// Talks to a simulator's test switches.
struct SimControl {
    let sim: RegistrationSimulator

    var client: HTTPClient {
        HTTPClient(
            tls: TLSOptions(
                caBundle: sim.ca.caCertificate, clientCertificate: sim.clientCertificate?.certificate, clientKey: sim.clientCertificate?.key
            ))
    }

    func faults(_ json: String) throws {
        let r = try client.send(HTTPRequest(method: "POST", url: sim.baseURL + "/_sim/faults", body: Data(json.utf8)))
        #expect(r.status == 200)
    }

    /// Submissions and state queries the body received, per submission id.
    func requests() throws -> [String: (submits: Int, polls: Int)] {
        let r = try client.send(HTTPRequest(method: "GET", url: sim.baseURL + "/_sim/requests"))
        let o = try JSONSerialization.jsonObject(with: r.body) as! [String: [String: Any]]
        return o.mapValues { ($0["submits"] as! Int, $0["polls"] as! Int) }
    }

    func bodies() throws -> [String: String] {
        let r = try client.send(HTTPRequest(method: "GET", url: sim.baseURL + "/_sim/bodies"))
        return try JSONSerialization.jsonObject(with: r.body) as! [String: String]
    }
}

@Suite("Country registrations", .serialized)
final class RegistrationTests {
    var sims: [String: RegistrationSimulator] = [:]

    deinit { for s in sims.values { s.stop() } }

    func sim(_ country: String) throws -> RegistrationSimulator {
        if let s = sims[country] { return s }
        let s = try RegistrationSimulator(country: country)
        sims[country] = s
        return s
    }

    /// A sandbox with one fully paid order of `country` pointed at that country's simulator.
    func order(_ country: String, ref: String = "S-2026-000777", timeout: TimeInterval = 5, name: String = #function) throws -> Sandbox {
        var box = try Sandbox(name + country)
        try box.useRegistration(try sim(country), timeout: timeout)
        let h = validHolder[country]!
        try box.fullyPaidOrder(ref, country: country, nationalID: h.id, idType: h.type, city: country == "DE" ? "München" : "Madrid")
        return box
    }

    static func view(_ box: Sandbox, _ ref: String = "S-2026-000777") throws -> OrderView {
        try box.gateway().orders().first { $0.ref == ref }!
    }

    static func registrationAction(_ box: Sandbox, _ ref: String = "S-2026-000777") throws -> ActionRecord {
        try box.gateway().storeForQueries.actions(status: nil).first { $0.kind == .submitRegistration && $0.orderRef == ref }!
    }

    static let days = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06"].map { $0 + "T23:00:00Z" }

    // MARK: Answers, for a synchronous (ES) and an asynchronous (DE) country

    @Test(arguments: ["ES", "DE"])
    func aPlateInTheCountrysFormatRegistersTheOrder(country: String) throws {
        let box = try order(country)
        _ = try box.run(asOf: Self.days[0])
        let mapping = try box.gateway().registrationMappings[country]!
        if mapping.answer.mode == .async {
            #expect(try Self.view(box).state == .registering)  // 202: accepted, decided later
            _ = try box.run(asOf: Self.days[1])  // polled on the next run
        }
        let v = try Self.view(box)
        #expect(v.state == .registered)
        #expect(mapping.checkPlate(v.plate ?? "") == nil, "\(v.plate ?? "no plate")")
        let id = "\(country)-S-2026-000777-1"
        let counts = try SimControl(sim: sim(country)).requests()[id]!
        #expect(counts.submits == 1)
        #expect(counts.polls == (mapping.answer.mode == .async ? 1 : 0))
        // Nothing more is sent once registered.
        _ = try box.run(asOf: Self.days[2])
        #expect(try SimControl(sim: sim(country)).requests()[id]!.submits == 1)
        let ledger = try box.gateway().registrationLedger(orderRef: "S-2026-000777")
        #expect(ledger.first?.kind == .submit && ledger.first?.httpStatus == (mapping.answer.mode == .async ? 202 : 201))
        // The customer hears of the plate.
        #expect(try box.notifications().contains { $0["template"] as? String == "order_registered" })
    }

    @Test(arguments: ["ES", "DE"])
    func aPlateThatIsNotAPlateIsAnErrorNotARegistration(country: String) throws {
        let box = try order(country, ref: "S-2026-000778")
        try SimControl(sim: sim(country)).faults(#"{"bad_plate": true}"#)
        defer { try? SimControl(sim: sim(country)).faults("{}") }
        for day in Self.days.prefix(2) { _ = try box.run(asOf: day) }
        let v = try Self.view(box, "S-2026-000778")
        #expect(v.plate == nil)
        #expect(v.state != .registered)
        let action = try Self.registrationAction(box, "S-2026-000778")
        #expect(action.status == .failed)
        #expect(action.lastError?.contains("not a plate") == true)
    }

    @Test(arguments: ["ES", "DE"])
    func aValidationErrorIsARejectionWithItsFieldAndIsNotRetried(country: String) throws {
        let box = try order(country, ref: "S-2026-000779")
        let field = country == "ES" ? "titular.domicilio.codigoPostal" : "halter.anschrift.plz"
        try SimControl(sim: sim(country)).faults(#"{"reject": {"field": "\#(field)", "reason": "postal code unknown"}}"#)
        _ = try box.run(asOf: Self.days[0])
        try SimControl(sim: sim(country)).faults("{}")
        _ = try box.run(asOf: Self.days[1])
        let v = try Self.view(box, "S-2026-000779")
        #expect(v.state == .fullyPaid)
        #expect(v.registrationRejection == "postal code unknown")
        let reg = try #require(try box.gateway().registrations(country: country, phase: .rejected).first)
        #expect(reg.field == field)
        #expect(try SimControl(sim: sim(country)).requests()["\(country)-S-2026-000779-1"]!.submits == 1)  // not retried
        let report = try String(contentsOfFile: box.config.reportsDir + "/2026-11-03/report.csv", encoding: .utf8)
        #expect(report.contains("registration_rejected") && report.contains("S-2026-000779"))

        // The operator fixes the data and resubmits: a new submission id, registered.
        let record = try box.gateway().resubmit(orderRef: "S-2026-000779", asOf: Timestamp.parseISO(Self.days[1])!)
        #expect(record.submissionID == "\(country)-S-2026-000779-2")
        for day in Self.days.suffix(2) { _ = try box.run(asOf: day) }
        #expect(try Self.view(box, "S-2026-000779").state == .registered)
    }

    @Test(arguments: ["ES", "DE"])
    func a409AsksForTheSubmissionsStateInsteadOfSendingAgain(country: String) throws {
        let box = try order(country, ref: "S-2026-000780")
        let id = "\(country)-S-2026-000780-1"
        // The body already has this submission (sent by a run whose answer was lost).
        try SimControl(sim: sim(country)).faults(#"{"known": ["\#(id)"]}"#)
        defer { try? SimControl(sim: sim(country)).faults("{}") }
        _ = try box.run(asOf: Self.days[0])
        #expect(try Self.view(box, "S-2026-000780").state == .registered)
        let counts = try SimControl(sim: sim(country)).requests()[id]!
        #expect(counts.submits == 1 && counts.polls == 1)
        #expect(try box.gateway().registrationLedger(orderRef: "S-2026-000780").map(\.httpStatus) == [409, 200])
    }

    @Test(arguments: ["ES", "DE"])
    func a5xxIsRetriedLaterAfterAskingWhetherTheSubmissionArrived(country: String) throws {
        let box = try order(country, ref: "S-2026-000781")
        let id = "\(country)-S-2026-000781-1"
        try SimControl(sim: sim(country)).faults(#"{"fail_every": 1, "status": 500}"#)
        _ = try box.run(asOf: Self.days[0])
        #expect(try Self.registrationAction(box, "S-2026-000781").status == .pending)
        try SimControl(sim: sim(country)).faults("{}")
        for day in Self.days.dropFirst() { _ = try box.run(asOf: day) }
        #expect(try Self.view(box, "S-2026-000781").state == .registered)
        let counts = try SimControl(sim: sim(country)).requests()[id]!
        #expect(counts.submits == 2)  // the failed one and the one after the body said it did not know it
        let ledger = try box.gateway().registrationLedger(orderRef: "S-2026-000781")
        #expect(ledger.prefix(3).map(\.httpStatus) == [500, 404, country == "ES" ? 201 : 202])
    }

    @Test(arguments: ["ES", "DE"])
    func aTimeOutNeverRegistersTwice(country: String) throws {
        // The body takes longer than we wait: it did register, but we never heard.
        let box = try order(country, ref: "S-2026-000782", timeout: 1)
        let id = "\(country)-S-2026-000782-1"
        try SimControl(sim: sim(country)).faults(#"{"delay": 2}"#)
        _ = try box.run(asOf: Self.days[0])
        try SimControl(sim: sim(country)).faults("{}")
        Thread.sleep(forTimeInterval: 1.5)  // let the slow request finish on the body's side
        #expect(try box.gateway().storeForQueries.registration(orderRef: "S-2026-000782")?.phase == .sent)
        for day in Self.days.dropFirst() { _ = try box.run(asOf: day) }
        #expect(try Self.view(box, "S-2026-000782").state == .registered)
        #expect(try SimControl(sim: sim(country)).requests()[id]!.submits == 1)
    }

    @Test func anAsynchronousRefusalIsARejectionWithTheBodysReason() throws {
        let box = try order("DE", ref: "S-2026-000783")
        try SimControl(sim: sim("DE")).faults(#"{"refuse": "Fahrzeug nicht versichert"}"#)
        defer { try? SimControl(sim: sim("DE")).faults("{}") }
        for day in Self.days.prefix(2) { _ = try box.run(asOf: day) }
        let v = try Self.view(box, "S-2026-000783")
        #expect(v.state == .fullyPaid && v.registrationRejection == "Fahrzeug nicht versichert")
        #expect(try Self.registrationAction(box, "S-2026-000783").status == .failed)
    }

    @Test func pollingGivesUpAfterTheMappingsDeadlineAndSaysWhatToDo() throws {
        let box = try order("DE", ref: "S-2026-000784")
        try SimControl(sim: sim("DE")).faults(#"{"decide_after": 100}"#)
        defer { try? SimControl(sim: sim("DE")).faults("{}") }
        for day in Self.days { _ = try box.run(asOf: day) }  // more than the DE mapping's 72 h
        let action = try Self.registrationAction(box, "S-2026-000784")
        #expect(action.status == .failed)
        #expect(action.lastError?.contains("has not decided") == true)
        #expect(try Self.view(box, "S-2026-000784").state == .registering)
    }

    @Test func aRunThatDiesAfterSendingConvergesWithoutASecondSubmission() throws {
        for point in ["submit_registration.inFlight", "submit_registration.sent"] {
            let ref = point.hasSuffix("inFlight") ? "S-2026-000785" : "S-2026-000786"
            let box = try order("ES", ref: ref, name: point)
            struct Died: Error {}
            #expect(throws: Died.self) {
                _ = try box.run(asOf: Self.days[0]) { if $0 == point { throw Died() } }
            }
            _ = try box.run(asOf: Self.days[1])
            #expect(try Self.view(box, ref).state == .registered, "\(point)")
            let sent = try SimControl(sim: sim("ES")).requests()["ES-\(ref)-1"]?.submits ?? 0
            #expect(sent == 1, "\(point)")
        }
    }

    // MARK: Guards

    @Test func aHolderIDThatFailsItsCountrysCheckNeverReachesTheAPI() throws {
        var box = try Sandbox()
        try box.useRegistration(try sim("IT"))
        try box.fullyPaidOrder("S-2026-000790", country: "IT", nationalID: "RSSMRC85T10F205X", idType: "CF")
        _ = try box.run(asOf: Self.days[0])
        #expect(try SimControl(sim: sim("IT")).requests()["IT-S-2026-000790-1"] == nil)
        let v = try Self.view(box, "S-2026-000790")
        #expect(v.state == .fullyPaid)
        let reason = try #require(v.registrationRejection)
        #expect(reason.contains("holder.national_id") && !reason.contains("RSSMRC85T10F205X"))
        #expect(try box.gateway().registrationLedger(orderRef: "S-2026-000790").map(\.kind) == [.check])
    }

    @Test func noFullPaymentNoRegistration() throws {
        var box = try Sandbox()
        try box.useRegistration(try sim("ES"))
        try box.fullyPaidOrder("S-2026-000791", country: "ES", nationalID: "51234567C", idType: "DNI", finalPayment: false)
        _ = try box.run(asOf: Self.days[0])
        #expect(try Self.view(box, "S-2026-000791").state == .awaitingFinalPayment)
        #expect(try SimControl(sim: sim("ES")).requests()["ES-S-2026-000791-1"] == nil)
        #expect(try box.gateway().storeForQueries.actions(status: nil).allSatisfy { $0.kind != .submitRegistration })
    }

    // MARK: FR: client certificate

    @Test func franceRefusesACallWithoutTheClientCertificateAndAcceptsOneWithIt() throws {
        let fr = try sim("FR")
        var without = try Sandbox("without")
        try without.useRegistration(fr, withClientCertificate: false)
        try without.fullyPaidOrder("S-2026-000792", country: "FR", nationalID: "X4RTBPFW4", idType: "CNI")
        _ = try without.run(asOf: Self.days[0])
        // Configured without one, the gateway does not call at all and says what to set.
        let refused = try Self.registrationAction(without, "S-2026-000792")
        #expect(refused.status == .failed)
        #expect(refused.lastError?.contains("set registration.countries.FR.client_certificate") == true, "\(refused.lastError ?? "")")
        #expect(try SimControl(sim: fr).requests()["FR-S-2026-000792-1"] == nil)
        // And the body itself refuses a caller without one (TLS 1.3 reports it at the first read or
        // write, so only "an error" is certain), while the same call with the certificate is answered.
        let probe = HTTPRequest(method: "GET", url: fr.baseURL + "/siv/v1/immatriculations/FR-NONE-1", timeout: 5)
        #expect(throws: TransportError.self) { try HTTPClient(tls: TLSOptions(caBundle: fr.ca.caCertificate)).send(probe) }
        #expect(try SimControl(sim: fr).client.send(probe).status == 404)

        let with = try order("FR", ref: "S-2026-000793")
        _ = try with.run(asOf: Self.days[0])
        let v = try Self.view(with, "S-2026-000793")
        #expect(v.state == .registered)
        #expect(v.plate.map { $0.range(of: "^[A-HJ-NP-TV-Z]{2}-[0-9]{3}-[A-HJ-NP-TV-Z]{2}$", options: .regularExpression) != nil } == true)
        // The body got XML in its namespace.
        #expect(try SimControl(sim: fr).bodies()["FR-S-2026-000793-1"]?.contains(#"<DemandeImmatriculation xmlns="urn:fr:siv:1">"#) == true)
    }

    // MARK: File mode

    @Test func withNoEndpointASubmissionIsAFileAndAnOperatorRecordsThePlate() throws {
        let box = try Sandbox()
        try box.fullyPaidOrder("S-2026-000794", country: "ES", nationalID: "51234567C", idType: "DNI")
        let s = try box.run(asOf: Self.days[0])
        #expect(s.registrationFiles.count == 1)
        let file = box.config.outbox + "/registrations/es/ES-S-2026-000794-1.json"
        let body = try String(contentsOfFile: file, encoding: .utf8)
        #expect(body.contains(#""expediente":"ES-S-2026-000794-1""#) && body.contains(#""marca":"CAAS""#))
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as! Int
        #expect(mode == 0o600)
        #expect(try Self.view(box, "S-2026-000794").state == .registering)
        // A second run writes nothing more.
        #expect(try box.run(asOf: Self.days[1]).registrationFiles.isEmpty)

        let g = try box.gateway()
        #expect(throws: OperatorError.self) { try g.recordPlate(orderRef: "S-2026-000794", plate: "1234 ABC", asOf: Date()) }  // vowel
        let v = try g.recordPlate(orderRef: "S-2026-000794", plate: "1234 bcd", asOf: Timestamp.parseISO(Self.days[1])!)
        #expect(v.state == .registered && v.plate == "1234 BCD")
        #expect(try g.registrationLedger(orderRef: "S-2026-000794").map(\.kind) == [.file, .operatorEntry])
    }

    // MARK: A country only this test knows

    @Test func aFurtherCountryWithAKnownStyleNeedsOnlyAMappingFile() throws {
        let generic = try RegistrationSimulator(country: "GENERIC")
        defer { generic.stop() }
        var box = try Sandbox()
        try """
        # Austria, as this test imagines it: JSON, synchronous, bearer token.
        country: AT
        format: json
        auth: bearer
        submit: {path: /zulassungen}
        status: {path: '/zulassungen/{submission_id}'}
        holder_id: {field: holder.national_id, check: none}
        body:
          referenz: submission_id
          kfz.fahrgestellnummer: vehicle.vin
          kfz.marke: =CAAS
          besitzer.name: holder.full_name
          besitzer.ausweis: holder.national_id
        answer: {mode: sync, plate: plate}
        plate_format: '^GEN-[0-9]{4}$'
        """.write(toFile: box.root + "/mappings/registration/at.yaml", atomically: true, encoding: .utf8)
        var ep = RegistrationConfig.Endpoint(baseURL: generic.baseURL)
        try generic.secret!.write(toFile: box.root + "/at.secret", atomically: true, encoding: .utf8)
        ep.secret = .file(box.root + "/at.secret")
        ep.caBundle = generic.ca.caCertificate
        box.config.registration.endpoints["AT"] = ep
        try box.fullyPaidOrder("S-2026-000795", country: "AT", nationalID: "P1234567", idType: "CNI")
        _ = try box.run(asOf: Self.days[0])
        #expect(try Self.view(box, "S-2026-000795").state == .registered)
        let sent = try #require(try SimControl(sim: generic).bodies()["AT-S-2026-000795-1"])
        let json = try JSONSerialization.jsonObject(with: Data(sent.utf8)) as! [String: Any]
        #expect(json["referenz"] as? String == "AT-S-2026-000795-1")
        #expect((json["kfz"] as? [String: String]) == ["fahrgestellnummer": "VSCCAE108V3047010", "marke": "CAAS"])
        #expect((json["besitzer"] as? [String: String])?["name"] == "Ana Pereira Soto")
    }

    // MARK: Ledger and privacy

    @Test func theLedgerKeepsEveryAttemptWithoutPersonalData() throws {
        let box = try order("PT", ref: "S-2026-000796")
        try SimControl(sim: sim("PT")).faults(
            #"{"reject": {"field": "proprietario.nif", "reason": "NIF 123456789 de Ana Pereira Soto não confere"}}"#)
        defer { try? SimControl(sim: sim("PT")).faults("{}") }
        _ = try box.run(asOf: Self.days[0])
        let ledger = try box.gateway().registrationLedger(orderRef: "S-2026-000796")
        #expect(ledger.count == 1)
        let line = try #require(ledger.first)
        #expect(line.httpStatus == 422 && line.outcome == "rejected" && line.durationMillis >= 0)
        for secret in ["123456789", "Ana Pereira Soto"] {
            #expect(line.detail?.contains(secret) == false)
            #expect(try Self.view(box, "S-2026-000796").registrationRejection?.contains(secret) == false)
        }
        #expect(!box.logs.all.contains("123456789"))
    }
}

@Suite("Registration mappings and pieces")
struct RegistrationMappingTests {
    @Test func theShippedMappingsLoadForTheFiveCountries() throws {
        let loaded = RegistrationMappingLoader.loadDirectory(Fixtures.registrationMappingsDir)
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        #expect(Set(loaded.mappings.keys) == ["ES", "PT", "FR", "DE", "IT"])
        #expect(loaded.mappings.values.filter { $0.answer.mode == .async }.map(\.country).sorted() == ["DE", "PT"])
    }

    @Test func plateFormatsAcceptTheCountrysPlatesOnly() throws {
        let m = RegistrationMappingLoader.loadDirectory(Fixtures.registrationMappingsDir).mappings
        let good = ["ES": "1234 BCD", "PT": "AA-00-AA", "FR": "AB-123-CD", "DE": "M-AB 1234", "IT": "AB 123 CD"]
        let bad = ["ES": "1234 BAD", "PT": "AA-AA-00", "FR": "AI-123-CD", "DE": "M-AB 0123", "IT": "AQ 123 CD"]
        for (cc, plate) in good { #expect(m[cc]!.checkPlate(plate) == nil, "\(cc) \(plate)") }
        for (cc, plate) in bad { #expect(m[cc]!.checkPlate(plate) != nil, "\(cc) \(plate)") }
    }

    @Test func mistakesInAMappingNameTheirLine() throws {
        let base = """
            country: ES
            format: json
            auth: bearer
            submit: {path: /x}
            status: {path: '/x/{submission_id}'}
            holder_id: {field: holder.national_id, check: es_dni_nie}
            answer: {mode: sync, plate: p}
            plate_format: '^[0-9]{4}$'
            body:
            """
        let cases: [(String, String, Int)] = [
            (base + "\n  a.b: holder.shoe_size\n", "not a canonical field", 10),
            (base + "\n  a: order_ref\n  a.b: order_ref\n", "already has a value", 11),
            (base.replacingOccurrences(of: "check: es_dni_nie", with: "check: luhn") + "\n  a: order_ref\n", "unknown check", 6),
            (
                base.replacingOccurrences(of: "{path: '/x/{submission_id}'}", with: "{path: /x}") + "\n  a: order_ref\n", "{submission_id}",
                5
            ),
        ]
        for (text, message, line) in cases {
            do {
                _ = try RegistrationMappingLoader.parse(text, file: "es.yaml")
                Issue.record("accepted: \(message)")
            } catch let e as ConfigError {
                #expect(e.message.contains(message), "\(e)")
                #expect(e.line == line, "\(e)")
            }
        }
    }

    @Test func bodiesAreTheSameBytesEveryTimeAndEscaped() throws {
        let m = RegistrationMappingLoader.loadDirectory(Fixtures.registrationMappingsDir).mappings
        let values = ["submission_id": "IT-1", "holder.street": "Via <Roma> & \"Co\"", "vehicle.vin": "V"]
        let xml = String(decoding: m["IT"]!.render(values), as: UTF8.self)
        #expect(xml == String(decoding: m["IT"]!.render(values), as: UTF8.self))
        #expect(xml.contains("<Via>Via &lt;Roma&gt; &amp; &quot;Co&quot;</Via>"))
        #expect(
            try XMLStreamReader.leafValues(Data(xml.utf8))["RichiestaImmatricolazione.Intestatario.Indirizzo.Via"] == "Via <Roma> & \"Co\"")
        let json = m["ES"]!.render(values)
        let o = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        #expect(
            (o["titular"] as! [String: Any])["domicilio"] as? [String: String] == [
                "via": "Via <Roma> & \"Co\"", "codigoPostal": "", "municipio": "",
            ])
    }

    @Test func anAnswerWithADoctypeIsNotRead() throws {
        let evil = #"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><Targa>&x;</Targa></r>"#
        #expect(throws: XMLFileError.self) { try XMLStreamReader.leafValues(Data(evil.utf8)) }
    }

    @Test func theRateLimitSpacesRequestsToOneBody() {
        let limiter = RateLimiter(perMinute: 30, sleep: { _ in })
        let t = Date()
        #expect(limiter.wait(now: t) == 0)
        #expect(limiter.wait(now: t) == 2)
        #expect(limiter.wait(now: t.addingTimeInterval(1)) == 3)
        #expect(RateLimiter(perMinute: nil, sleep: { _ in }).wait(now: t) == 0)
    }

    @Test func submissionIDsAreSafeInAURL() {
        #expect(RegistrationAction.submissionID(country: "PT", ref: "VD/2026/000046", generation: 1) == "PT-VD-2026-000046-1")
    }
}
