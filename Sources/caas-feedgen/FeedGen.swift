import ArgumentParser
import Foundation
import GatewayCore

/// Writes partner files of any size, the same bytes for the same seed: for benchmarks, load
/// tests and replays. Every generated sale is valid (ids with correct check characters), so
/// what a benchmark measures is the accepted path, not the rejection path.
@main
struct FeedGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "caas-feedgen",
        abstract:
            "Generate partner feed files (DMS sales CSV, intranet sales XML, the card provider's señal captures and the VLC1 plant's status for those sales) of any size, deterministically."
    )

    @Option(help: "How many sales to generate.") var orders: Int = 1000
    @Option(help: ArgumentHelp("Directory to write into (created if missing).", valueName: "dir")) var out: String = "."
    @Option(help: "Seed of the generator: the same seed gives the same files.") var seed: UInt64 = 2026
    @Option(
        help: ArgumentHelp(
            "Formats to write, comma separated: dms-csv, intranet-xml, psp-csv (the señal of every intranet sale), mfg-xml (every intranet sale confirmed and in production at VLC1).",
            valueName: "list")) var formats: String = "dms-csv,intranet-xml"

    @Option(
        help: ArgumentHelp(
            "Split the intranet sales and their card captures into this many files each (a backlog for several runners): SALES_ES-GEN-01 one second apart from 2026-10-01 20:00:00, settlement one day apart from 2026-10-02.",
            valueName: "n")) var files: Int = 1

    @Flag(
        help:
            "Take every intranet sale to fully paid: the plant's status runs to available at the dealership and the card provider captures the final payment too."
    ) var fullyPaid = false

    static let known = ["dms-csv", "intranet-xml", "psp-csv", "mfg-xml"]

    func validate() throws {
        guard orders > 0 else { throw ValidationError("--orders must be at least 1") }
        guard (1...min(orders, 14_400)).contains(files) else {
            throw ValidationError("--files must be between 1 and --orders (at most 14400)")
        }
        for f in formats.split(separator: ",") where !Self.known.contains(String(f)) {
            throw ValidationError("unknown format \(f); known: \(Self.known.joined(separator: ", "))")
        }
    }

    /// The sales 1...orders in `files` consecutive parts of (nearly) equal size.
    var parts: [ClosedRange<Int>] {
        (0..<files).map { k in (orders * k / files + 1)...(orders * (k + 1) / files) }
    }

    /// 2026-10-01 20:00:00 plus `k` seconds, as yyyyMMddHHmmss.
    static func stamp(_ k: Int) -> String {
        String(format: "20261001%02d%02d%02d", 20 + k / 3600, k / 60 % 60, k % 60)
    }

    /// 2026-10-02 plus `k` days, as yyyyMMdd.
    static func day(_ k: Int) -> String {
        Timestamp.day(Timestamp.parseISO("2026-10-02")!.addingTimeInterval(Double(k) * 86400)).replacingOccurrences(of: "-", with: "")
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let wanted = Set(formats.split(separator: ",").map(String.init))
        if wanted.contains("dms-csv") {
            let path = out + "/VENDAS_PT-GEN-01_20261002.csv"
            var generator = SalesGenerator(seed: seed)
            try generator.writeDMSCSV(orders: orders, to: path)
            print(path)
        }
        if wanted.contains("intranet-xml") {
            var generator = SalesGenerator(seed: seed)
            for (k, range) in parts.enumerated() {
                let path = files == 1 ? out + "/SALES_ES-GEN-01_20261001233000.xml" : out + "/SALES_ES-GEN-01_\(Self.stamp(k)).xml"
                try generator.writeIntranetXML(sales: range, to: path)
                print(path)
            }
        }
        if wanted.contains("psp-csv") {
            for (k, range) in parts.enumerated() {
                let path = out + "/settlement_\(Self.day(k)).csv"
                try SalesGenerator(seed: seed).writeSettlement(sales: range, to: path, finalPayments: fullyPaid)
                print(path)
            }
        }
        if wanted.contains("mfg-xml") {
            let path = out + "/MFGSTATUS_VLC1_20261003200000_00001.xml"
            try SalesGenerator(seed: seed).writeFactoryStatus(orders: orders, to: path, toDealership: fullyPaid)
            print(path)
        }
    }
}

/// SplitMix64: tiny, fast and the same on every platform.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }
}

struct SalesGenerator {
    var rng: SplitMix64
    init(seed: UInt64) { rng = SplitMix64(state: seed) }

    static let given = ["João", "Inês", "Ana", "Rui", "Maria José", "Tiago", "Beatriz", "Gonçalo", "Lucía", "Jürgen", "Élodie", "Giulia"]
    static let family = [
        "Conceição", "Gonçalves \"Nené\"", "Silva; Lda.", "Santos", "Ferreira", "O'Neill", "Muñoz García", "Groß", "De Luca",
    ]
    static let plans = ["BASE-URBAN", "BASE-FAMILY", "BASE-SPORT"]
    static let options = ["HEATED-SEATS", "AUTOPARK", "ADAPTIVE-CRUISE", "PREMIUM-AUDIO", "TOWBAR", "WINTER-PACK"]
    static let prices: [(Int, Int)] = [(34990, 2000), (45990, 3000), (61990, 5000)]

    /// The price of intranet sale `i`: a function of `i`, so the card captures of its señal match it.
    static func price(_ i: Int) -> (total: Int, deposit: Int) { prices[i % prices.count] }

    static func saleRef(_ i: Int) -> String { "S-2026-\(String(format: "%06d", i % 1_000_000))" }

    mutating func nif() -> String {
        var d = [1 + rng.below(2)] + (0..<7).map { _ in rng.below(10) }
        var sum = 0
        for i in 0..<8 { sum += d[i] * (9 - i) }
        let c = 11 - sum % 11
        d.append(c >= 10 ? 0 : c)
        return d.map(String.init).joined()
    }

    mutating func dni() -> String {
        let n = 10_000_000 + rng.below(89_999_999)
        return String(n) + String(Array("TRWAGMYFPDXBNJZSQVHLCKE")[n % 23])
    }

    mutating func optionList() -> [String] {
        (0..<rng.below(3)).map { _ in rng.pick(Self.options) }
    }

    func writer(_ path: String) throws -> BufferedWriter { try BufferedWriter(path: path) }

    /// The Portuguese DMS layout: ';', UTF-8 with BOM, CRLF, decimal comma, quoted fields that hold
    /// ';', quotes and (one sale in fifty) a line break.
    mutating func writeDMSCSV(orders: Int, to path: String) throws {
        let w = try writer(path)
        w.write(
            "\u{FEFF}ref_venda;data_registo;concessionario;nif;nome;apelido;email;telemovel;morada;codigo_postal;localidade;pais;plano;opcoes;preco_total;sinal;moeda;entrega\r\n"
        )
        for i in 1...orders {
            let (total, deposit) = rng.pick(Self.prices)
            let family = rng.pick(Self.family)
            let street = i % 50 == 0 ? "\"Rua Augusta, \(i % 400)\r\n2º Esq.\"" : "Rua Augusta \(i % 400)"
            let day = 1 + i % 28
            w.write(
                "VD/2026/\(String(format: "%06d", i % 1_000_000));\(day < 10 ? "0" : "")\(day)/10/2026 \(10 + i % 9):\(i % 6)0;PT-GEN-01;\(nif());"
            )
            w.write(
                "\(rng.pick(Self.given));\"\(family.replacingOccurrences(of: "\"", with: "\"\""))\";cliente\(i)@example.pt;+351 912 \(100 + i % 900) \(100 + i % 899);"
            )
            w.write("\(street);1100-0\(10 + i % 89);Lisboa;PT;\(rng.pick(Self.plans));\(optionList().joined(separator: "|"));")
            w.write("\(total),00;\(deposit),00;EUR;\(i % 3 == 0 ? "CONCESSIONARIO" : "DOMICILIO")\r\n")
        }
        try w.close()
    }

    /// The intranet export: one SalesExport with `count` equal to the number of Sale elements.
    mutating func writeIntranetXML(sales: ClosedRange<Int>, to path: String) throws {
        let w = try writer(path)
        w.write(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SalesExport xmlns=\"urn:caas:intranet:sales:2\" dealerCode=\"ES-GEN-01\" exportedAt=\"2026-10-01T23:30:00+01:00\" count=\"\(sales.count)\">\n"
        )
        for i in sales {
            let (total, deposit) = Self.price(i)
            let home = i % 3 != 0
            let address =
                "<Address><Street>Calle de Atocha \(i % 300)</Street><PostalCode>280\(10 + i % 89)</PostalCode><City>Madrid</City><Country>ES</Country></Address>"
            let family = rng.pick(Self.family).replacingOccurrences(of: "\"", with: "&quot;")
            w.write(
                "  <Sale id=\"\(Self.saleRef(i))\" registeredAt=\"2026-10-01T\(10 + i % 9):\(i % 6)0:00+01:00\">\n"
            )
            w.write("    <Customer><GivenName>\(rng.pick(Self.given))</GivenName><FamilyName>\(family)</FamilyName>")
            w.write("<Email>cliente\(i)@example.es</Email><Phone>+34 612 \(100 + i % 900) \(100 + i % 899)</Phone>")
            w.write("<NationalId type=\"DNI\">\(dni())</NationalId>\(address)</Customer>\n")
            w.write(
                "    <Plan code=\"\(rng.pick(Self.plans))\"/><Options>\(optionList().map { "<Option code=\"\($0)\"/>" }.joined())</Options>\n"
            )
            w.write("    <Price currency=\"EUR\"><Total>\(total).00</Total><Deposit>\(deposit).00</Deposit></Price>\n")
            w.write(
                "    <Delivery mode=\"\(home ? "HOME" : "DEALERSHIP")\">\(home ? address : "")</Delivery><SalesRep employeeId=\"E-\(4400 + i % 50)\"/>\n  </Sale>\n"
            )
        }
        w.write("</SalesExport>\n")
        try w.close()
    }
}

extension SalesGenerator {
    /// The card provider's settlement report: the señal of every intranet sale, captured on 2 Oct.
    /// With `finalPayments`, the rest of the price too, captured on 4 Oct.
    func writeSettlement(sales: ClosedRange<Int>, to path: String, finalPayments: Bool = false) throws {
        let w = try writer(path)
        w.write("psp_reference,merchant_reference,payment_method,event_code,success,amount_minor,currency,reason,event_date\n")
        for i in sales {
            let (total, deposit) = Self.price(i)
            w.write("PSP\(String(format: "%012d", i)),\(Self.saleRef(i))-RES,visa,CAPTURE,true,\(deposit * 100),EUR,,")
            w.write("2026-10-02T\(10 + i % 9):\(i % 6)0:00Z\n")
            guard finalPayments else { continue }
            w.write("PSF\(String(format: "%012d", i)),\(Self.saleRef(i))-FIN,visa,CAPTURE,true,\((total - deposit) * 100),EUR,,")
            w.write("2026-10-04T\(10 + i % 9):\(i % 6)0:00Z\n")
        }
        try w.close()
    }

    /// VLC1's status feed of 3 Oct: every intranet sale confirmed, then in production with its VIN.
    /// With `toDealership`, each vehicle then goes through quality control and shipping to the
    /// dealership, where it is available on 3 Oct in the evening.
    func writeFactoryStatus(orders: Int, to path: String, toDealership: Bool = false) throws {
        let later = ["QUALITY_CONTROL", "READY_FOR_SHIPMENT", "SHIPPED_TO_DEALERSHIP", "AVAILABLE_AT_DEALERSHIP"]
        let w = try writer(path)
        w.write(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<StatusFeed xmlns=\"urn:oem:mfg:status:1\" plant=\"VLC1\" sequence=\"1\" generated=\"2026-10-03T20:00:00+01:00\">\n"
        )
        for i in 1...orders {
            let order = "FO-VLC1-\(String(format: "%07d", i))"
            w.write("  <Event><OrderRef>\(Self.saleRef(i))</OrderRef><FactoryOrder>\(order)</FactoryOrder>")
            w.write(
                "<Code>ORDER_CONFIRMED</Code><At>2026-10-03T08:00:00+01:00</At><EstimatedCompletion>2026-11-06</EstimatedCompletion></Event>\n"
            )
            w.write(
                "  <Event><OrderRef>\(Self.saleRef(i))</OrderRef><FactoryOrder>\(order)</FactoryOrder><Vin>VSCCAE10\(String(format: "%09d", i))</Vin>"
            )
            w.write(
                "<Code>PRODUCTION_STARTED</Code><At>2026-10-03T14:00:00+01:00</At><EstimatedCompletion>2026-11-06</EstimatedCompletion></Event>\n"
            )
            guard toDealership else { continue }
            for (k, code) in later.enumerated() {
                w.write("  <Event><OrderRef>\(Self.saleRef(i))</OrderRef><FactoryOrder>\(order)</FactoryOrder>")
                w.write("<Code>\(code)</Code><At>2026-10-03T1\(5 + k):00:00+01:00</At></Event>\n")
            }
        }
        w.write("  <Trailer eventCount=\"\(orders * (toDealership ? 2 + later.count : 2))\"/>\n</StatusFeed>\n")
        try w.close()
    }
}

/// Appends text to a file through a 1 MiB buffer: flat memory at any size.
final class BufferedWriter {
    private let handle: FileHandle
    private var buffer = Data()

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("cannot write \(path)")
        }
        handle = h
        buffer.reserveCapacity(1 << 20)
    }

    func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 20 {
            handle.write(buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }

    func close() throws {
        handle.write(buffer)
        try handle.close()
    }
}
