import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore

@Suite("Validators against public test vectors")
struct ValidatorTests {
    /// Every vector of a python-stdnum extraction: (input, expected valid, type if any).
    static func vectors(_ file: String) throws -> [(String, Bool, String?)] {
        let root = try Fixtures.json("id-vectors/" + file) as! [String: Any]
        var out: [(String, Bool, String?)] = []
        for g in root["groups"] as! [[String: Any]] {
            for v in g["vectors"] as? [[String: Any]] ?? [] {
                out.append((v["input"] as! String, v["expected_valid"] as! Bool, v["type"] as? String))
            }
        }
        return out
    }

    @Test func spanishDNIandNIE() throws {
        let vs = try Self.vectors("es_dni_nie.json")
        #expect(vs.count >= 15)
        for (input, valid, type) in vs {
            let reason = type == "NIE" ? Validators.esNIE(input) : Validators.esDNI(input)
            #expect((reason == nil) == valid, "\(input) expected \(valid ? "valid" : "invalid"), got \(reason ?? "valid")")
            #expect((Validators.esDNIorNIE(input) == nil) == valid)
        }
    }

    @Test func portugueseNIF() throws {
        let vs = try Self.vectors("pt_nif.json")
        #expect(vs.count >= 20)
        for (input, valid, _) in vs {
            #expect((Validators.ptNIF(input) == nil) == valid, "\(input)")
        }
        // The DMS customers of the partner story.
        #expect(Validators.ptNIF("234567899") == nil)
        #expect(Validators.ptNIF("187654328") == nil)
        #expect(Validators.ptNIF("187654329") != nil)
    }

    @Test func italianCodiceFiscale() throws {
        let vs = try Self.vectors("it_codicefiscale.json")
        #expect(vs.count >= 15)
        for (input, valid, _) in vs {
            #expect((Validators.itCodiceFiscale(input) == nil) == valid, "\(input)")
        }
        let root = try Fixtures.json("id-vectors/it_codicefiscale.json") as! [String: Any]
        var checked = 0
        for g in root["groups"] as! [[String: Any]] {
            for v in g["check_char_vectors"] as? [[String: Any]] ?? [] {
                let cf = (v["first15"] as! String) + (v["check_char"] as! String)
                #expect(Validators.itCodiceFiscale(cf) == nil, "\(cf)")
                checked += 1
            }
        }
        #expect(checked >= 8)
        // Sale S-2026-000402 of the story: the check character should be T, not X.
        #expect(Validators.itCodiceFiscale("RSSMRC85T10F205X") == "codice fiscale check character does not match")
        #expect(Validators.itCodiceFiscale("RSSMRC85T10F205T") == nil)
    }

    @Test func vinShapeAcceptsEuropeanVINsThatFailTheNorthAmericanCheckDigit() throws {
        let root = try Fixtures.json("id-vectors/vin_check_digit.json") as! [String: Any]
        let vins = (root["vectors"] as! [[String: Any]]).map { $0["vin"] as! String }
        #expect(vins.count == 7)
        for vin in vins { #expect(Validators.vinShape(vin) == nil, "\(vin)") }
        #expect(Validators.vinShape("WVWZZZ1JZXW00000") != nil)  // 16 characters
        #expect(Validators.vinShape("WVWZZZ1JZXW0000O1") != nil)  // letter O
    }

    @Test func germanIDCardICAOCheckDigit() {
        for id in ["T220001293", "L01X00T471", "C4F7G2K918"] { #expect(Validators.deIDCard(id) == nil, "\(id)") }
        #expect(Validators.deIDCard("T220001294") == "German ID card check digit does not match")
        #expect(Validators.icaoCheckDigit(Array("L898902C3".utf8)) == 6)  // ICAO 9303 specimen passport number
    }

    @Test func emailCountryAndNationalIDDispatch() {
        #expect(Validators.email("mj.munoz@example.es") == nil)
        #expect(Validators.email("no-at-sign.example.es") != nil)
        #expect(Validators.email("a@b@c.es") != nil)
        #expect(Validators.email("a@localhost") != nil)
        #expect(Validators.isoCountry("PT") == nil)
        #expect(Validators.isoCountry("UK") != nil)
        #expect(Validators.nationalID(type: "NIE", value: "X1234567L") == nil)
        #expect(Validators.nationalID(type: "CNI", value: "X4RTBPFW4") == nil)
        #expect(Validators.nationalID(type: "PASSPORT", value: "X") == "unknown national id type PASSPORT")
    }

    @Test func reasonsNeverRepeatTheValue() throws {
        let bad = ["51234567Z", "X1234567A", "234567898", "RSSMRC85T10F205X", "T220001294", "not-an-email"]
        let checks: [(String) -> String?] = [
            Validators.esDNI, Validators.esNIE, Validators.ptNIF, Validators.itCodiceFiscale, Validators.deIDCard, Validators.email,
        ]
        for (value, check) in zip(bad, checks) {
            let reason = try #require(check(value))
            #expect(!reason.contains(value))
        }
    }
}
