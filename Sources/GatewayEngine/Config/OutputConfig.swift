import Foundation
import GatewayFormats

/// `report:`: who may read the report files, and the CSV dialect spreadsheets expect.
///
/// ```yaml
/// report:
///   file_mode: '0644'          # the report folder's files (0644: any local user, a web server)
///   csv: {delimiter: ';', bom: true, decimal: ','}   # Excel in es, pt, fr, de, it locales
/// ```
public struct ReportOutput: Sendable, Equatable {
    public var fileMode: mode_t = 0o644
    public var csv = ReportCSVDialect()

    public init() {}

    static func parse(_ node: YAMLNode) throws -> ReportOutput {
        var r = ReportOutput()
        let f = try node.fields("report", allowed: ["file_mode", "csv"])
        if let m = f["file_mode"] {
            let text = try m.scalar("report.file_mode")
            guard let mode = mode_t(text, radix: 8), mode <= 0o666, mode & 0o600 == 0o600 else {
                throw m.error(
                    "report.file_mode must be an octal mode such as '0644' or '0640' (the gateway must read and write its own files)")
            }
            r.fileMode = mode
        }
        if let c = f["csv"] {
            let g = try c.fields("report.csv", allowed: ["delimiter", "bom", "decimal"])
            if let d = g["delimiter"] {
                let v = try d.scalar("report.csv.delimiter")
                guard v == "," || v == ";" || v == "\\t" || v == "\t" else {
                    throw d.error("report.csv.delimiter must be ',', ';' or '\\t'")
                }
                r.csv.delimiter = v == "," ? 0x2C : v == ";" ? 0x3B : 0x09
            }
            if let b = g["bom"] { r.csv.bom = try b.bool("report.csv.bom") }
            if let d = g["decimal"] {
                let v = try d.scalar("report.csv.decimal")
                guard v == "." || v == "," else { throw d.error("report.csv.decimal must be '.' or ','") }
                r.csv.decimalComma = v == ","
            }
            if r.csv.decimalComma && r.csv.delimiter == 0x2C {
                throw c.error("report.csv: a decimal comma needs another delimiter (';')")
            }
        }
        return r
    }
}

/// How the report's CSV files are written. The default is RFC 4180 (comma, no BOM, decimal
/// point); Excel in locales whose decimal separator is a comma opens `;` files with a UTF-8 BOM
/// as columns.
public struct ReportCSVDialect: Sendable, Equatable {
    public var delimiter: UInt8 = 0x2C
    public var bom = false
    public var decimalComma = false

    public init() {}
}

/// `retention:`: days after which `caas-gateway prune` deletes kept files. A kind left out is
/// kept forever, which is the default for all of them.
public struct Retention: Sendable, Equatable {
    public var archiveDays: Int?
    public var quarantineDays: Int?
    public var reportsDays: Int?

    public init() {}

    public var isEmpty: Bool { archiveDays == nil && quarantineDays == nil && reportsDays == nil }

    static func parse(_ node: YAMLNode) throws -> Retention {
        var r = Retention()
        let f = try node.fields("retention", allowed: ["archive_days", "quarantine_days", "reports_days"])
        func days(_ key: String) throws -> Int? {
            guard let n = f[key] else { return nil }
            let d = try n.int("retention.\(key)")
            guard d >= 1 else { throw n.error("retention.\(key) must be at least 1 day (leave it out to keep forever)") }
            return d
        }
        r.archiveDays = try days("archive_days")
        r.quarantineDays = try days("quarantine_days")
        r.reportsDays = try days("reports_days")
        return r
    }
}
