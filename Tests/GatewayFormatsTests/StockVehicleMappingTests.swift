import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayFormats

/// The sales feeds name a vehicle already in dealership stock: the intranet's `<StockVehicle>`,
/// the DMS's optional `vin_stock` column.
@Suite("Stock vehicles in the sales mappings")
struct StockVehicleMappingTests {
    static let vin = "VSCCAE103V3047030"

    @Test func anIntranetSaleNamesItsStockVehicle() throws {
        let dir = Fixtures.tempDir()
        let path = dir + "/" + SalesExports.name(stamp: "20261121233000")
        try Fixtures.write(
            SalesExports.export(
                exportedAt: "2026-11-21T23:30:00+01:00",
                [
                    .init(ref: "S-2026-000105", at: "2026-11-21T10:15:00+01:00", stockVIN: Self.vin.lowercased(), dni: 40_000_105),
                    .init(ref: "S-2026-000106", at: "2026-11-21T11:15:00+01:00", dni: 40_000_106),
                    .init(ref: "S-2026-000107", at: "2026-11-21T12:15:00+01:00", stockVIN: "VSCCAE103V30470", dni: 40_000_107),
                ]), path)
        let r = try MappingTests.read(path, try MappingTests.shipped("intranet-sales"))
        #expect(r.facts.map { $0.string("stock_vin") } == [Self.vin, nil])
        // A VIN of the wrong shape is the record's problem, by field, without the value.
        #expect(r.rejections.count == 1 && r.rejections[0].first?.field == "stock_vin")
        #expect(r.rejections[0].first?.reason.contains("17 characters") == true)
    }

    @Test func theDMSColumnIsOptionalAndReadWhenPresent() throws {
        let m = try MappingTests.shipped("dms-sales-pt")
        let story = try String(contentsOfFile: Fixtures.story("dealer-dms/VENDAS_PT-LIS-01_20261002.csv"), encoding: .utf8)
        // Without the column (the older DMS): read exactly as before, no stock vehicle.
        let old = try MappingTests.read(Fixtures.story("dealer-dms/VENDAS_PT-LIS-01_20261002.csv"), m)
        #expect(old.rejections.isEmpty && old.facts.allSatisfy { $0.string("stock_vin") == nil })

        // A newer DMS appends VIN_STOCK (any case): empty for a factory order, a VIN for a stock sale.
        var lines = story.components(separatedBy: "\r\n")
        lines[0] += ";VIN_STOCK"
        let last = lines.lastIndex { !$0.isEmpty }!
        // A record ends with its delivery mode (a quoted address may break a record over lines).
        for i in 1...last where lines[i].hasSuffix("DOMICILIO") || lines[i].hasSuffix("CONCESSIONARIO") { lines[i] += ";" }
        lines[last] = String(lines[last].dropLast()) + ";\(Self.vin)"
        let dir = Fixtures.tempDir()
        try Fixtures.write(lines.joined(separator: "\r\n"), dir + "/VENDAS_PT-LIS-01_20261121.csv")
        let new = try MappingTests.read(dir + "/VENDAS_PT-LIS-01_20261121.csv", m)
        #expect(new.rejections.isEmpty, "\(new.rejections)")
        #expect(new.facts.count == old.facts.count)
        #expect(new.facts.last?.string("stock_vin") == Self.vin)
        #expect(new.facts.dropLast().allSatisfy { $0.string("stock_vin") == nil })
        // The fields the old layout had are read the same.
        #expect(new.facts.dropLast().map(\.fields) == old.facts.dropLast().map(\.fields))
    }

    @Test func repeatedKeyTakesNumberedOrSame() throws {
        let base = try String(contentsOfFile: Fixtures.mappingsDir + "/bank-camt054.yaml", encoding: .utf8)
        let dir = Fixtures.tempDir()
        try Fixtures.write(base.replacingOccurrences(of: "repeated_key: numbered", with: "repeated_key: twice"), dir + "/m.yaml")
        #expect(throws: ConfigError.self) { try MappingLoader.load(path: dir + "/m.yaml") }
        do {
            _ = try MappingLoader.load(path: dir + "/m.yaml")
        } catch let e as ConfigError {
            #expect(e.description.contains("repeated_key is numbered") && e.description.contains("m.yaml"))
        }
        try Fixtures.write(base.replacingOccurrences(of: "repeated_key: numbered", with: "repeated_key: same"), dir + "/same.yaml")
        let same = try MappingLoader.load(path: dir + "/same.yaml")
        #expect(!same.numberRepeatedKeys)
        // Read with `same`, the sample's two transactions with one set of references collide;
        // numbered, they are two credits.
        var ids: [String] = []
        _ = try FeedReader.read(path: Fixtures.path("camt/camt054.v8.xml"), mapping: same, fileHash: "h", fileName: "f") {
            if case .fact(let f) = $0 { ids.append(f.id) }
        }
        #expect(ids.count == 3 && Set(ids).count == 2)
    }
}
