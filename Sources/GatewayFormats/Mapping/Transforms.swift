import Foundation
import GatewayCore

enum Transforms {
    typealias Failure = RecordMapper.FieldFailure

    static func apply(_ t: Transform, _ v: FactValue?, field: String) -> Result<FactValue?, Failure> {
        guard let v else {
            if case .defaultValue(let d) = t { return .success(.string(d)) }
            return .success(nil)
        }
        func text(_ f: (String) -> String) -> FactValue {
            switch v {
            case .string(let s): return .string(f(s))
            case .list(let l): return .list(l.map(f))
            default: return v
            }
        }
        switch t {
        case .trim: return .success(text(ASCIIText.trim))
        case .upper: return .success(text(ASCIIText.upper))
        case .lower: return .success(text(ASCIIText.lower))
        case .collapseSpaces: return .success(text { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") })
        case .utc:
            guard case .string(let s) = v else { return .success(v) }
            guard let d = Timestamp.parseISO(ASCIIText.trim(s)) else {
                return .failure(Failure(reason: "value\(Redaction.show(s, field: field)) is not an ISO 8601 time"))
            }
            return .success(.string(Timestamp.iso(d)))
        case .defaultValue(let d):
            if case .string(let s) = v, s.isEmpty { return .success(.string(d)) }
            return .success(v)
        case .datetime(let fmt):
            guard case .string(let s) = v else { return .success(v) }
            guard let d = fmt.parse(ASCIIText.trim(s)) else {
                return .failure(Failure(reason: "value\(Redaction.show(s, field: field)) is not a date and time in the layout \(fmt.text)"))
            }
            return .success(.time(d))
        case .decimal(let sep, let thousands, let minorUnits):
            guard case .string(let s) = v else { return .success(v) }
            guard let minor = parseDecimal(s, separator: sep, thousands: thousands, minorUnits: minorUnits) else {
                return .failure(
                    Failure(
                        reason:
                            "value\(Redaction.show(s, field: field)) is not an amount with '\(Character(UnicodeScalar(sep)))' as decimal separator and at most \(minorUnits) decimals"
                    ))
            }
            return .success(.int(minor))
        case .integer:
            guard case .string(let s) = v else { return .success(v) }
            guard let i = Int64(ASCIIText.trim(s)) else {
                return .failure(Failure(reason: "value\(Redaction.show(s, field: field)) is not a whole number"))
            }
            return .success(.int(i))
        case .split(let sepText):
            guard case .string(let s) = v else { return .success(v) }
            return .success(.list(split(s, sepText).map(ASCIIText.trim).filter { !$0.isEmpty }))
        case .map(let table, let otherwise):
            func m(_ s: String) -> String? { table[s] ?? otherwise.map { $0 == "_keep" ? s : $0 } }
            switch v {
            case .string(let s):
                guard let out = m(s) else {
                    return .failure(
                        Failure(
                            reason:
                                "value\(Redaction.show(s, field: field)) is not in the mapping's table (\(table.keys.sorted().joined(separator: ", ")))"
                        ))
                }
                return .success(.string(out))
            case .list(let l):
                var out: [String] = []
                for s in l {
                    guard let x = m(s) else {
                        return .failure(Failure(reason: "value\(Redaction.show(s, field: field)) is not in the mapping's table"))
                    }
                    out.append(x)
                }
                return .success(.list(out))
            default: return .success(v)
            }
        case .extract(let p, let otherwise):
            let candidates: [String]
            switch v {
            case .string(let s): candidates = [s]
            case .list(let l): candidates = l
            default: return .success(v)
            }
            for s in candidates {
                if let c = p.firstCapture(s) { return .success(.string(c)) }
            }
            if let otherwise { return .success(.string(otherwise)) }
            let shown = candidates.count == 1 ? Redaction.show(candidates[0], field: field) : ""
            return .failure(Failure(reason: "value\(shown) does not match \(p.text)"))
        }
    }

    /// `components(separatedBy:)`, on bytes when the value is ASCII and the separator one ASCII
    /// byte (the DMS's `|` between options); Foundation otherwise, whose search knows Unicode.
    static func split(_ s: String, _ separator: String) -> [String] {
        var copy = s
        let parts: [String]? = copy.withUTF8 { bytes in
            guard separator.utf8.count == 1, let sep = separator.utf8.first, sep < 0x80, ByteScan.firstNonASCII(bytes) == nil else {
                return nil
            }
            return bytes.split(separator: sep, omittingEmptySubsequences: false).map {
                String(decoding: UnsafeBufferPointer(rebasing: $0), as: UTF8.self)
            }
        }
        return parts ?? s.components(separatedBy: separator)
    }

    /// `1.234,56` with separator `,` and thousands `.` → 123456 (minor units). Exact: no floating point.
    static func parseDecimal(_ s: String, separator: UInt8, thousands: UInt8?, minorUnits: Int) -> Int64? {
        var whole: Int64 = 0
        var frac: Int64 = 0
        var fracDigits = 0
        var seenSep = false
        var seenDigit = false
        var negative = false
        var first = true
        for b in s.utf8 {
            defer { first = false }
            if b == 0x20 { continue }
            if first && (b == 0x2D || b == 0x2B) {
                negative = b == 0x2D
                continue
            }
            if b >= 0x30 && b <= 0x39 {
                seenDigit = true
                if seenSep {
                    fracDigits += 1
                    if fracDigits > minorUnits {
                        if b != 0x30 { return nil }
                        continue
                    }
                    frac = frac * 10 + Int64(b - 0x30)
                } else {
                    let (m, o1) = whole.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(Int64(b - 0x30))
                    if o1 || o2 { return nil }
                    whole = a
                }
            } else if b == separator && !seenSep {
                seenSep = true
            } else if let t = thousands, b == t, !seenSep {
                continue
            } else {
                return nil
            }
        }
        guard seenDigit else { return nil }
        var scale: Int64 = 1
        for _ in 0..<minorUnits { scale *= 10 }
        for _ in min(fracDigits, minorUnits)..<minorUnits { frac *= 10 }
        let (m, o) = whole.multipliedReportingOverflow(by: scale)
        if o { return nil }
        return negative ? -(m + frac) : m + frac
    }

    static func check(
        _ c: Check, _ v: FactValue?, field: String,
        lookup: (String) -> Result<FactValue?, Failure>
    ) -> String? {
        if case .required = c { return v == nil ? "required but empty" : nil }
        guard let v, let s = v.string else { return nil }
        switch c {
        case .required: return nil
        case .pattern(let p): return p.matches(s) ? nil : "value\(Redaction.show(s, field: field)) does not match \(p.text)"
        case .validator(let name): return Validators.named[name]?(s)
        case .nationalID(let typeField):
            guard case .success(let t?) = lookup(typeField), let type = t.string else {
                return "its type (\(typeField)) is missing, so it cannot be checked"
            }
            return Validators.nationalID(type: type, value: s).map { "\($0) (type \(type))" }
        case .oneOf(let values):
            return values.contains(s) ? nil : "value\(Redaction.show(s, field: field)) is not one of \(values.joined(separator: ", "))"
        case .maxLength(let n): return s.count <= n ? nil : "longer than \(n) characters"
        }
    }
}
