import Foundation
import GatewayCore

/// The amount reader of the `decimal` transform, for tools that check it from outside (the fuzzer).
public enum DecimalReader {
    /// The text as minor units, or nil with no trap whatever it is.
    public static func minorUnits(_ text: String, separator: UInt8, thousands: UInt8?, minorUnits: Int) -> Int64? {
        Transforms.parseDecimal(text, separator: separator, thousands: thousands, minorUnits: minorUnits)
    }
}

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
            switch fmt.read(ASCIIText.trim(s)) {
            case .instant(let d): return .success(.time(d))
            case .malformed:
                return .failure(Failure(reason: "value\(Redaction.show(s, field: field)) is not a date and time in the layout \(fmt.text)"))
            case .skippedLocalTime:
                return .failure(
                    Failure(
                        reason:
                            "value\(Redaction.show(s, field: field)) is a local time that never happened in \(fmt.zone.identifier): the clocks went forward over it"
                    ))
            }
        case .decimal(let sep, let thousands, let minorUnits):
            guard case .string(let s) = v else { return .success(v) }
            switch decimal(s, separator: sep, thousands: thousands, minorUnits: minorUnits) {
            case .success(let minor): return .success(.int(minor))
            case .failure(let problem):
                let shown = "value\(Redaction.show(s, field: field))"
                let grouping = thousands.map { " and '\(Character(UnicodeScalar($0)))' between groups of three digits" } ?? ""
                let reason: String
                switch problem {
                case .malformed:
                    reason = "\(shown) is not an amount with '\(Character(UnicodeScalar(sep)))' as decimal separator\(grouping)"
                case .misplacedGroupSeparator:
                    reason = "\(shown) has a group separator out of place: '\(Character(UnicodeScalar(thousands ?? sep)))' goes between groups of three digits"
                case .tooManyDecimals: reason = "\(shown) has more than \(minorUnits) decimals"
                case .tooLarge: reason = "\(shown) is wider than any amount the gateway can hold (\(Int64.max) minor units)"
                }
                return .failure(Failure(reason: reason))
            }
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

    /// Why a text is not an amount.
    enum DecimalProblem: Error, Equatable {
        case malformed
        /// Group separators only between groups of three digits, before the decimal separator.
        case misplacedGroupSeparator
        /// More decimals than the currency has, and not zeros.
        case tooManyDecimals
        /// Wider than a 64-bit count of minor units.
        case tooLarge
    }

    /// `1.234,56` with separator `,` and thousands `.` → 123456 (minor units). Exact: no floating
    /// point, and checked: a value wider than Int64 is an error, never a trap. What xs:decimal
    /// allows is accepted (surrounding white space, a leading `+` or `-`, trailing zeros, `.5`,
    /// `5.`); group separators must stand between groups of three digits (`1.234.567`, never
    /// `12.34` or `1..234`), and nothing else may be inside.
    static func parseDecimal(_ s: String, separator: UInt8, thousands: UInt8?, minorUnits: Int) -> Int64? {
        try? decimal(s, separator: separator, thousands: thousands, minorUnits: minorUnits).get()
    }

    static func decimal(_ s: String, separator: UInt8, thousands: UInt8?, minorUnits: Int) -> Result<Int64, DecimalProblem> {
        guard (0...maxMinorUnits).contains(minorUnits) else { return .failure(.tooLarge) }
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let bytes = Array(s.utf8)
        var start = 0
        var end = bytes.count
        while start < end, isSpace(bytes[start]) { start += 1 }
        while end > start, isSpace(bytes[end - 1]) { end -= 1 }
        var negative = false
        if start < end, bytes[start] == 0x2D || bytes[start] == 0x2B {
            negative = bytes[start] == 0x2D
            start += 1
        }
        var whole: Int64 = 0
        var frac: Int64 = 0
        var digits = 0, fracDigits = 0
        var inFraction = false
        // Group bookkeeping: digits since the last group separator, and whether one was seen.
        var groupDigits = 0
        var grouped = false
        for i in start..<end {
            let b = bytes[i]
            if b >= 0x30 && b <= 0x39 {
                let d = Int64(b - 0x30)
                if inFraction {
                    fracDigits += 1
                    if fracDigits > minorUnits {
                        if d != 0 { return .failure(.tooManyDecimals) }
                        continue
                    }
                    frac = frac * 10 + d  // at most 18 digits: fits
                } else {
                    digits += 1
                    groupDigits += 1
                    if grouped && groupDigits > 3 { return .failure(.misplacedGroupSeparator) }
                    let (m, o1) = whole.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(d)
                    if o1 || o2 { return .failure(.tooLarge) }
                    whole = a
                }
            } else if b == separator && !inFraction {
                if grouped && groupDigits != 3 { return .failure(.misplacedGroupSeparator) }
                inFraction = true
            } else if let t = thousands, b == t, !inFraction {
                // The first group has one to three digits, every later one exactly three.
                if digits == 0 || (grouped ? groupDigits != 3 : groupDigits > 3) { return .failure(.misplacedGroupSeparator) }
                grouped = true
                groupDigits = 0
            } else {
                return .failure(.malformed)
            }
        }
        if grouped && !inFraction && groupDigits != 3 { return .failure(.misplacedGroupSeparator) }
        guard digits + fracDigits > 0 else { return .failure(.malformed) }
        var scale: Int64 = 1
        for _ in 0..<minorUnits { scale *= 10 }  // 10^18 at most: fits
        for _ in min(fracDigits, minorUnits)..<minorUnits { frac *= 10 }
        let (m, o1) = whole.multipliedReportingOverflow(by: scale)
        let (total, o2) = m.addingReportingOverflow(frac)
        if o1 || o2 { return .failure(.tooLarge) }
        return .success(negative ? -total : total)  // -Int64.max fits
    }

    /// Decimals a currency may have in a mapping (10^18 still fits an Int64).
    static let maxMinorUnits = 18

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
