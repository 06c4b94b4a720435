import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayFormats

@Suite("Feed mappings")
struct MappingTests {
    static func read(_ path: String, _ mapping: FeedMapping) throws -> (
        facts: [Fact], rejections: [[Rejection]], summary: FeedReader.Summary
    ) {
        var facts: [Fact] = []
        var rejections: [[Rejection]] = []
        let summary = try FeedReader.read(path: path, mapping: mapping, fileHash: "h", fileName: (path as NSString).lastPathComponent) {
            switch $0 {
            case .fact(let f): facts.append(f)
            case .rejected(let r): rejections.append(r)
            case .skipped: break
            }
        }
        return (facts, rejections, summary)
    }

    static func shipped(_ feed: String) throws -> FeedMapping {
        try MappingLoader.load(path: Fixtures.mappingsDir + "/\(feed).yaml")
    }

    @Test func theShippedMappingsAreValid() throws {
        let loaded = try MappingLoader.loadDirectory(Fixtures.mappingsDir)
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        #expect(
            Set(loaded.mappings.map(\.feed)) == [
                "intranet-sales", "dms-sales-pt", "psp-settlement", "bank-camt054", "factory-vlc1", "factory-zwk2", "carrier-trucklog",
                "iot-links", "factory-webhooks",
            ])
        #expect(loaded.mappings.filter(\.isDealershipSource).map(\.feed).sorted() == ["dms-sales-pt", "intranet-sales"])
    }

    @Test func anIntranetSaleBecomesATypedCanonicalFact() throws {
        let m = try Self.shipped("intranet-sales")
        #expect(m.recognises(fileName: "SALES_ES-MAD-01_20261001233000.xml"))
        #expect(!m.recognises(fileName: "VENDAS_PT-LIS-01_20261002.csv"))
        let r = try Self.read(Fixtures.story("intranet/SALES_ES-MAD-01_20261001233000.xml"), m)
        #expect(r.rejections.isEmpty)
        #expect(r.facts.count == 2)
        let f = r.facts[0]
        #expect(f.kind == .saleRegistered)
        #expect(f.orderRef == "S-2026-000101")
        #expect(Timestamp.iso(f.occurredAt) == "2026-10-01T10:05:00Z")
        #expect(f.string("dealer_code") == "ES-MAD-01")
        #expect(f.string("country") == "ES")
        #expect(f.int("total_minor") == 4_599_000)
        #expect(f.int("deposit_minor") == 300_000)
        #expect(f["options"] == .list(["HEATED-SEATS", "ADAPTIVE-CRUISE"]))
        #expect(f.string("customer.national_id_type") == "DNI")
        #expect(f.string("customer.street") == "Calle de Atocha 27, 3º B")
        #expect(f.string("delivery_mode") == "HOME")
        #expect(f.provenance.record == 1 && f.provenance.line == 3)
        #expect(f.provenance.mapping == "intranet-sales" && f.provenance.mappingVersion == 2)
        // A sale without options has an empty list, not a missing field.
        #expect(r.facts[1]["options"] == .list([]))
        #expect(f.id == FactID.make(source: "intranet-sales", kind: .saleRegistered, key: ["S-2026-000101"]))
    }

    @Test func theWrongCodiceFiscaleIsRejectedWithFieldLineAndReasonButNoValue() throws {
        let r = try Self.read(Fixtures.story("intranet/SALES_IT-MIL-01_20261002233000.xml"), try Self.shipped("intranet-sales"))
        #expect(r.facts.isEmpty)
        let problems = try #require(r.rejections.first)
        #expect(
            problems == [
                Rejection(
                    record: 1, line: 3, field: "customer.national_id",
                    reason: "codice fiscale check character does not match (type CF)",
                    // The sale's reference, which the dealership looks the record up by; never the value.
                    recordRef: "S-2026-000402")
            ])
        #expect(!problems[0].reason.contains("RSSMRC85T10F205X"))
    }

    @Test func theDMSCSVWithBOMCRLFQuotedBreaksAndDecimalComma() throws {
        let m = try Self.shipped("dms-sales-pt")
        let a = try Self.read(Fixtures.story("dealer-dms/VENDAS_PT-LIS-01_20261002.csv"), m)
        #expect(a.rejections.isEmpty)
        let f = try #require(a.facts.first)
        #expect(f.orderRef == "VD/2026/000045")
        // 11:00 in Lisbon in October is 10:00 UTC (summer time).
        #expect(Timestamp.iso(f.occurredAt) == "2026-10-02T10:00:00Z")
        #expect(f.string("customer.family_name") == "Conceição; Lda.")
        #expect(f.string("customer.street") == "Rua Augusta, 100\r\n2º Esq.")
        #expect(f.provenance.line == 2)
        #expect(f["options"] == .list(["HEATED-SEATS", "AUTOPARK"]))
        #expect(f.int("total_minor") == 3_499_000 && f.int("deposit_minor") == 200_000)
        #expect(f.string("delivery_mode") == "HOME")
        #expect(f.string("customer.national_id_type") == "NIF")
        let b = try Self.read(Fixtures.story("dealer-dms/VENDAS_PT-LIS-01_20261003.csv"), m)
        #expect(b.facts.first?.string("customer.family_name") == "Gonçalves \"Nené\"")
        #expect(b.facts.first?.string("delivery_mode") == "DEALERSHIP")
        #expect(b.facts.first?["options"] == .list([]))
    }

    @Test func anXMLFileWhoseCountDoesNotMatchIsAFileProblem() throws {
        let dir = Fixtures.tempDir()
        let text = try String(contentsOfFile: Fixtures.story("intranet/SALES_ES-MAD-01_20261001233000.xml"), encoding: .utf8)
            .replacingOccurrences(of: "count=\"2\"", with: "count=\"3\"")
        try Fixtures.write(text, dir + "/SALES_ES-MAD-01_20261001233000.xml")
        #expect(throws: FileProblem.self) { try Self.read(dir + "/SALES_ES-MAD-01_20261001233000.xml", try Self.shipped("intranet-sales")) }
    }

    @Test func aCSVHeaderThatLacksAColumnIsAFileProblem() throws {
        let dir = Fixtures.tempDir()
        try Fixtures.write("ref_venda;data_registo\r\nVD/2026/000001;02/10/2026 11:00\r\n", dir + "/VENDAS_PT-LIS-01_20261002.csv")
        do {
            _ = try Self.read(dir + "/VENDAS_PT-LIS-01_20261002.csv", try Self.shipped("dms-sales-pt"))
            Issue.record("accepted")
        } catch let p as FileProblem {
            #expect(p.message.contains("sinal"))
            #expect(p.message.contains("did the partner change its layout"))
        }
    }

    @Test func recordProblemsRejectTheRecordAndTheRestOfTheFileCounts() throws {
        let dir = Fixtures.tempDir()
        let header =
            "ref_venda;data_registo;concessionario;nif;nome;apelido;email;telemovel;morada;codigo_postal;localidade;pais;plano;opcoes;preco_total;sinal;moeda;entrega"
        try Fixtures.write(
            [
                header,
                "VD/2026/000001;02/10/2026 11:00;PT-LIS-01;234567899;Ana;Silva;ana@example.pt;+351;Rua 1;1100-053;Lisboa;PT;BASE-URBAN;;34990,00;2000,00;EUR;DOMICILIO",
                "VD/2026/000002;31/02/2026 11:00;PT-LIS-01;234567898;Rui;Sousa;rui.example.pt;+351;Rua 2;1100-053;Lisboa;PT;BASE-URBAN;;34.990,5;2000,00;EUR;DRONE",
                "VD/2026/000003;too;few;fields",
                "VD/2026/000004;03/10/2026 09:00;PT-LIS-01;187654328;Inês;Costa;ines@example.pt;+351;Rua 3;1250-143;Lisboa;PT;BASE-FAMILY;;1.234,56;300;EUR;CONCESSIONARIO",
            ].joined(separator: "\r\n"), dir + "/VENDAS_PT-LIS-01_20261004.csv")
        let r = try Self.read(dir + "/VENDAS_PT-LIS-01_20261004.csv", try Self.shipped("dms-sales-pt"))
        #expect(r.facts.map(\.orderRef) == ["VD/2026/000001", "VD/2026/000004"])
        #expect(r.facts[1].int("total_minor") == 123_456)
        #expect(r.facts[1].int("deposit_minor") == 30_000)
        #expect(r.summary == FeedReader.Summary(records: 4, accepted: 2, rejected: 2))
        let bad = r.rejections[0]
        #expect(Set(bad.compactMap(\.field)) == ["occurred_at", "customer.national_id", "customer.email", "delivery_mode"])
        #expect(bad.allSatisfy { $0.line == 3 && $0.record == 2 })
        // A reason is never the value, personal or not: its length, and what is wrong with it.
        let mode = bad.first { $0.field == "delivery_mode" }?.reason ?? ""
        #expect(!mode.contains("DRONE") && mode.contains("(5 characters)"), "\(mode)")
        #expect(bad.first { $0.field == "customer.email" }.map { !$0.reason.contains("rui.example.pt") } == true)
        #expect(r.rejections[1].first?.reason.contains("has 4 fields where the header has 18") == true)
        // 34.990,5 reads as 3499050 minor units with '.' as thousands separator.
        #expect(Transforms.parseDecimal("34.990,5", separator: UInt8(ascii: ","), thousands: UInt8(ascii: "."), minorUnits: 2) == 3_499_050)
    }

    @Test func onboardingAnotherDealersCSVNeedsOnlyAMappingFile() throws {
        // A Belgian dealer's DMS: ',' delimited, Windows-1252, yyyy-MM-dd HH:mm:ss Brussels time, amounts in cents,
        // its own column names and codes. Nothing but this mapping file is new.
        let dir = Fixtures.tempDir()
        try Fixtures.write(
            """
            feed: dms-sales-be
            version: 3
            source: dealership
            description: Brussels dealer DMS
            match:
              name: '^BE_SALES_[0-9]{8}\\.csv$'
            format: csv
            csv: {delimiter: ',', encoding: windows-1252}
            facts:
              - kind: sale_cancelled
                when: {field: status, equals: [ANNULE, CANCELLED]}
              - kind: sale_registered
            fields:
              order_ref: {column: Dossier, checks: [required]}
              status: {column: Statut, transforms: [trim, upper]}
              occurred_at: {column: Date, transforms: [{datetime: {format: 'yyyy-MM-dd HH:mm:ss', zone: Europe/Brussels}}]}
              dealer_code: {value: BE-BRU-01}
              country: {value: BE}
              customer.given_name: {column: Prenom}
              customer.family_name: {column: Nom}
              customer.email: {column: Courriel, transforms: [lower], checks: [{validator: email}]}
              customer.national_id: {column: Piece}
              customer.national_id_type: {value: CNI}
              plan: {column: Modele, transforms: [{map: {FAM: BASE-FAMILY, URB: BASE-URBAN}}]}
              options: {column: Options, transforms: [{split: '+'}]}
              currency: {value: EUR}
              total_minor: {column: PrixCentimes, transforms: [integer]}
              deposit_minor: {column: AcompteCentimes, transforms: [integer]}
              delivery_mode: {column: Livraison, transforms: [{map: {D: HOME, C: DEALERSHIP}}]}
            """, dir + "/dms-sales-be.yaml")
        let m = try MappingLoader.load(path: dir + "/dms-sales-be.yaml")
        var bytes = Array("Dossier,Statut,Date,Prenom,Nom,Courriel,Piece,Modele,Options,PrixCentimes,AcompteCentimes,Livraison\n".utf8)
        bytes +=
            Array("B-1,ok,2026-10-05 14:30:00,Ana".utf8) + [0xEF, 0x73]
            + Array(",Dubois,ANA@EXAMPLE.BE,AB1234567,FAM,TOWBAR+WINTER-PACK,4599000,300000,D\n".utf8)
        bytes += Array("B-2,Annulé,2026-10-06 09:00:00,,,,,,,,,\n".utf8).map { $0 }  // é in UTF-8 here would be wrong: see below
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/BE_SALES_20261006.csv"))
        #expect(m.recognises(fileName: "BE_SALES_20261006.csv"))
        let r = try Self.read(dir + "/BE_SALES_20261006.csv", m)
        let sale = try #require(r.facts.first)
        #expect(sale.kind == .saleRegistered)
        #expect(sale.string("customer.given_name") == "Anaïs")
        #expect(sale.string("customer.email") == "ana@example.be")
        #expect(sale.string("plan") == "BASE-FAMILY")
        #expect(sale["options"] == .list(["TOWBAR", "WINTER-PACK"]))
        #expect(Timestamp.iso(sale.occurredAt) == "2026-10-05T12:30:00Z")
        #expect(sale.provenance.mapping == "dms-sales-be" && sale.provenance.mappingVersion == 3)
        // Row 2 was written as UTF-8 "Annulé" into a Windows-1252 file: it decodes as "AnnulÃ©", which is not a
        // cancellation status, so the record falls to sale_registered and is rejected for its empty fields.
        #expect(r.facts.count == 1)
        #expect(r.rejections.count == 1)
    }

    @Test func aCancellationRuleSelectsTheFactKind() throws {
        let dir = Fixtures.tempDir()
        try Fixtures.write(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <SalesExport xmlns="urn:caas:intranet:sales:2" dealerCode="ES-MAD-01" exportedAt="2026-10-03T23:30:00+01:00" count="1">
              <Sale id="S-2026-000102" action="cancel"/>
            </SalesExport>
            """, dir + "/SALES_ES-MAD-01_20261003233000.xml")
        let r = try Self.read(dir + "/SALES_ES-MAD-01_20261003233000.xml", try Self.shipped("intranet-sales"))
        #expect(r.rejections.isEmpty)
        #expect(r.facts.first?.kind == .saleCancelled)
        #expect(r.facts.first.map { Timestamp.iso($0.occurredAt) } == "2026-10-03T22:30:00Z")  // export time stands in
    }
}

@Suite("Mapping loader errors name the file and line")
struct MappingLoaderErrorTests {
    static let good = """
        feed: t
        source: dealership
        match: {name: '^T_.*\\.csv$'}
        format: csv
        facts:
          - kind: sale_cancelled
        fields:
          order_ref: {column: ref}
          occurred_at: {column: at, transforms: [{datetime: iso8601}]}
        """

    func error(_ text: String) -> ConfigError? {
        do {
            _ = try MappingLoader.parse(text, file: "m.yaml")
            return nil
        } catch let e as ConfigError {
            return e
        } catch {
            return ConfigError(file: "?", line: -1, message: "\(error)")
        }
    }

    @Test func theBaseMappingIsValid() { #expect(error(Self.good) == nil) }

    @Test func typosAndMistakes() {
        let cases: [(String, String, Int, String)] = [
            ("format: csv", "format: cvs", 4, "format must be csv, xml or json"),
            (
                "  occurred_at: {column: at, transforms: [{datetime: iso8601}]}", "  occurred_at: {column: at, transforms: [trimm]}", 9,
                "unknown transform 'trimm'"
            ),
            ("  order_ref: {column: ref}", "  order_ref: {colum: ref}", 8, "unknown key 'colum'"),
            ("  order_ref: {column: ref}", "  order_ref: {column: ref, checks: [{validator: es_dnii}]}", 8, "unknown validator 'es_dnii'"),
            ("  order_ref: {column: ref}", "  order_ref: {column: ref, checks: [{pattern: '(['}]}", 8, "not a valid regular expression"),
            ("  - kind: sale_cancelled", "  - kind: sale_canceled", 6, "unknown fact kind 'sale_canceled'"),
            ("  - kind: sale_cancelled", "  - kind: sale_registered", 6, "fact sale_registered needs field 'dealer_code'"),
            (
                "  order_ref: {column: ref}", "  order_ref: {column: ref}\n  colour: {column: c}", 9,
                "field 'colour' is not a field of sale_cancelled"
            ),
            ("  order_ref: {column: ref}", "  order_ref: {path: '@id'}", 8, "'path' is for XML and JSON feeds"),
            ("feed: t", "feed: T_Feed", 1, "lower-case"),
            ("facts:", "key: [nothing]\nfacts:", 5, "key field 'nothing' is not bound"),
            ("source: dealership\n", "", 5, "only a dealership export may produce sale_cancelled"),
            ("source: dealership", "source: dealer", 2, "source must be dealership or partner"),
        ]
        for (from, to, line, message) in cases {
            let text = Self.good.replacingOccurrences(of: from, with: to)
            #expect(text != Self.good, "case \(message) did not change the text")
            let e = error(text)
            #expect(e?.line == line, "\(message): got \(String(describing: e))")
            #expect(e?.message.contains(message) == true, "\(message): got \(String(describing: e))")
        }
    }

    @Test func brokenYAMLSaysWhere() {
        let e = error("feed: t\nmatch: {name: 'x'\nformat: csv\n")
        #expect(e?.file == "m.yaml")
        #expect((e?.line ?? 0) >= 2)
        #expect(e?.message.hasPrefix("not valid YAML") == true)
    }

    @Test func anUndeclaredNamespacePrefix() {
        let e = error(
            """
            feed: x
            match: {name: 'x'}
            format: xml
            xml:
              namespaces: {s: 'urn:s'}
              record: /s:Export/t:Item
            facts: [{kind: sale_cancelled}]
            fields:
              order_ref: {path: '@id'}
              occurred_at: {path: '@at', transforms: [{datetime: iso8601}]}
            """)
        #expect(e?.line == 6)
        #expect(e?.message.contains("prefix 't' is not declared") == true)
    }
}
