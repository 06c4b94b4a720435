import Foundation
import Testing

@testable import GatewayCore

@Suite struct TimestampTests {
    @Test func parsesOffsetsAndFormatsUTC() throws {
        let d = try #require(Timestamp.parseISO("2026-10-01T11:05:00+01:00"))
        #expect(Timestamp.iso(d) == "2026-10-01T10:05:00Z")
        #expect(Timestamp.parseISO("2026-10-01T10:05:00Z") == d)
        #expect(Timestamp.parseISO("2026-10-01T10:05:00.250Z").map(Timestamp.iso) == "2026-10-01T10:05:00.250Z")
        #expect(Timestamp.parseISO("2026-10-01").map(Timestamp.iso) == "2026-10-01T00:00:00Z")
        #expect(Timestamp.parseISO("2026-10-01T10:05:00-0230").map(Timestamp.iso) == "2026-10-01T12:35:00Z")
        #expect(Timestamp.parseISO("1969-12-31T23:59:59Z").map(Timestamp.iso) == "1969-12-31T23:59:59Z")
    }

    @Test func refusesWhatIsNotATime() {
        for bad in ["", "2026-13-01", "2026-10-01T25:00:00Z", "01/10/2026", "2026-10-01T10:05:00+01:00 trailing"] {
            #expect(Timestamp.parseISO(bad) == nil, "\(bad)")
        }
    }
}

@Suite struct FactTests {
    @Test func idsAreDeterministicAndSeparateSourcesKindsAndKeys() {
        let a = FactID.make(source: "intranet-sales", kind: .saleRegistered, key: ["S-1"])
        #expect(a == FactID.make(source: "intranet-sales", kind: .saleRegistered, key: ["S-1"]))
        #expect(a.hasPrefix("f_") && a.count == 34)
        #expect(a != FactID.make(source: "dms-sales-pt", kind: .saleRegistered, key: ["S-1"]))
        #expect(a != FactID.make(source: "intranet-sales", kind: .saleCancelled, key: ["S-1"]))
        // The separator keeps ("ab","c") apart from ("a","bc").
        #expect(FactID.make(source: "x", kind: .payment, key: ["ab", "c"]) != FactID.make(source: "x", kind: .payment, key: ["a", "bc"]))
    }

    @Test func fieldsRoundTripThroughTheirJSON() throws {
        let fields: FactFields = [
            "plan": .string("BASE \"FAMILY\"\n"), "total_minor": .int(4_599_000), "options": .list(["A", "B"]),
            "expires_at": .time(Timestamp.parseISO("2026-10-06T10:00:00Z")!),
        ]
        let json = FactFieldsCodec.encode(fields)
        #expect(json.hasPrefix("{\"expires_at\":\"@t:2026-10-06T10:00:00Z\",\"options\":[\"A\",\"B\"]"))
        #expect(try FactFieldsCodec.decode(json) == fields)
    }
}

@Suite struct CalendarTests {
    @Test func dayOfMonthIsCheckedAgainstTheMonth() {
        #expect(Timestamp.parseISO("2026-02-31") == nil)
        #expect(Timestamp.parseISO("2026-02-29") == nil)
        #expect(Timestamp.parseISO("2028-02-29") != nil)
        #expect(Timestamp.parseISO("2100-02-29") == nil)
        #expect(Timestamp.parseISO("2000-02-29") != nil)
        #expect(Timestamp.parseISO("2026-04-31") == nil)
    }
}

@Suite struct ASCIITextTests {
    @Test func trimMatchesFoundationOnASCIIAndUnicode() {
        let cases = [
            "", " ", "abc", "  abc  ", "\t\r\nabc\r\n", "a b", " ñandú ", "\u{00A0}no-break\u{00A0}", "\u{2003}em\u{2003}", "ü",
            " 2º Esq. ",
        ]
        for c in cases {
            #expect(ASCIIText.trim(c) == c.trimmingCharacters(in: .whitespacesAndNewlines), "\(c.debugDescription)")
        }
    }

    @Test func caseMappingMatchesTheStandardLibrary() {
        for c in ["", "abc", "ABC", "MiXeD-123", "straße", "groß", "élodie", "ÖZTÜRK", "mj.munoz@EXAMPLE.es"] {
            #expect(ASCIIText.upper(c) == c.uppercased(), "\(c)")
            #expect(ASCIIText.lower(c) == c.lowercased(), "\(c)")
        }
    }
}

@Suite struct FactFieldsTests {
    @Test func keepsItsKeysSortedWhateverTheInsertionOrder() {
        var f = FactFields()
        for k in ["plan", "currency", "total_minor", "customer.email", "options", "a"] { f[k] = .string(k) }
        #expect(f.keys == ["a", "currency", "customer.email", "options", "plan", "total_minor"])
        f["options"] = nil
        f["plan"] = .int(3)
        #expect(f.keys == ["a", "currency", "customer.email", "plan", "total_minor"])
        #expect(f["plan"] == .int(3) && f["options"] == nil && f["zzz"] == nil)
        let literal: FactFields = [
            "total_minor": .string("total_minor"), "plan": .int(3), "a": .string("a"),
            "customer.email": .string("customer.email"), "currency": .string("currency"),
        ]
        #expect(literal == f)
        #expect(f.merging(["a": .int(1), "b": .int(2)]) { $1 }.keys == ["a", "b", "currency", "customer.email", "plan", "total_minor"])
    }
}

/// Facts are read back on every fold: the byte reader must give exactly what the encoder wrote,
/// and what the general JSON reader would give.
@Suite("Fact fields as bytes")
struct FactFieldsCodecTests {
    @Test func whatIsWrittenIsReadBackTheSameWhateverTheText() throws {
        var g = SystemRandomNumberGenerator()
        let pieces = ["a", "Muñoz", "\"", "\\", "\n", "\r", "\t", "\u{1}", "\u{1F}", "/", "€", "日本", "😀", " ", "@t:x", ",", "}", "]"]
        for _ in 0..<500 {
            var fields = FactFields()
            for k in 0..<Int.random(in: 0...6, using: &g) {
                let text = (0..<Int.random(in: 0...8, using: &g)).map { _ in pieces.randomElement(using: &g)! }.joined()
                switch Int.random(in: 0...3, using: &g) {
                case 0: fields["s\(k)\(text.prefix(2))"] = .string(text)
                case 1: fields["i\(k)"] = .int(Int64.random(in: Int64.min...Int64.max, using: &g))
                case 2: fields["l\(k)"] = .list((0..<Int.random(in: 0...3, using: &g)).map { _ in text })
                default: fields["t\(k)"] = .time(Timestamp.date(millis: Int64.random(in: 0...4_000_000_000_000, using: &g) / 1000 * 1000))
                }
            }
            let json = FactFieldsCodec.encode(fields)
            #expect(try FactFieldsCodec.decode(json) == fields, "\(json)")
            #expect(try FactFieldsCodec.decodeSlowly(json) == fields, "\(json)")
        }
    }

    @Test func anotherShapeStillReads() throws {
        #expect(try FactFieldsCodec.decode(#"{ "a" : "x", "n": 2 }"#) == ["a": .string("x"), "n": .int(2)])
        #expect(try FactFieldsCodec.decode(#"{"a":"\u00e9"}"#) == ["a": .string("é")])
        #expect(throws: (any Error).self) { try FactFieldsCodec.decode("[1]") }
    }
}

@Suite("Byte scans, word by word")
struct ByteScanTests {
    /// Every position and every byte value: the word test never misses one, nor invents one.
    @Test func theWordTestsAnswerAsTheByteLoopDoes() {
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 31] {
            for position in 0..<max(length, 1) {
                for value in 0...255 {
                    var bytes = [UInt8](repeating: 0x61, count: length)
                    if length > 0 { bytes[position] = UInt8(value) }
                    bytes.withUnsafeBufferPointer { b in
                        let escape = b.firstIndex { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }
                        let control = b.firstIndex { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D) || $0 == 0x7F }
                        #expect(ByteScan.firstJSONEscape(b) == escape, "\(length) \(position) \(value)")
                        #expect(ByteScan.firstControl(b) == control, "\(length) \(position) \(value)")
                        #expect(ByteScan.firstNonASCII(b) == b.firstIndex { $0 >= 0x80 }, "\(length) \(position) \(value)")
                    }
                }
            }
        }
    }
}
