import Foundation

/// ISO 8601 formatting and parsing without Foundation's formatters, which are slow in hot loops
/// and not Sendable. Times are kept at millisecond precision (the store's unit).
public enum Timestamp {
    /// `2026-10-01T10:05:00Z` (milliseconds shown only when not zero).
    public static func iso(_ date: Date) -> String {
        let ms = millis(date)
        let secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let frac = ms - secs * 1000
        let (y, m, d) = civil(fromDays: secs >= 0 ? secs / 86400 : (secs - 86399) / 86400)
        let sod = ((secs % 86400) + 86400) % 86400
        var s = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
        s += "T" + pad(sod / 3600, 2) + ":" + pad((sod / 60) % 60, 2) + ":" + pad(sod % 60, 2)
        if frac != 0 { s += "." + pad(frac, 3) }
        return s + "Z"
    }

    /// `2026-10-01` in UTC.
    public static func day(_ date: Date) -> String { String(iso(date).prefix(10)) }

    public static func millis(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    public static func date(millis: Int64) -> Date {
        Date(timeIntervalSince1970: Double(millis) / 1000)
    }

    /// Parses `yyyy-MM-dd`, `yyyy-MM-ddTHH:mm[:ss[.fff]]` with `Z`, `±HH:mm`, `±HHmm` or no zone
    /// (then UTC). Returns nil for anything else.
    public static func parseISO(_ text: String) -> Date? {
        var bytes = Array(text.utf8)
        if bytes.count == 10 { bytes += Array("T00:00:00Z".utf8) }
        guard bytes.count >= 16 else { return nil }
        func num(_ from: Int, _ len: Int) -> Int64? {
            guard from + len <= bytes.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + len) {
                let b = bytes[i]
                guard b >= 0x30, b <= 0x39 else { return nil }
                v = v * 10 + Int64(b - 0x30)
            }
            return v
        }
        guard let y = num(0, 4), bytes[4] == 0x2D, let mo = num(5, 2), bytes[7] == 0x2D, let d = num(8, 2),
            bytes[10] == 0x54 || bytes[10] == 0x20, let h = num(11, 2), bytes[13] == 0x3A, let mi = num(14, 2)
        else { return nil }
        var i = 16
        var s: Int64 = 0
        var ms: Int64 = 0
        if i < bytes.count, bytes[i] == 0x3A {
            guard let sec = num(17, 2) else { return nil }
            s = sec
            i = 19
            if i < bytes.count, bytes[i] == 0x2E {
                i += 1
                var digits = 0
                while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                    if digits < 3 { ms = ms * 10 + Int64(bytes[i] - 0x30) }
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return nil }
                // Past milliseconds the digits are dropped (the store's unit); fewer are scaled up.
                if digits < 3 { for _ in digits..<3 { ms *= 10 } }
            }
        }
        var offset: Int64 = 0
        if i < bytes.count {
            switch bytes[i] {
            case 0x5A: i += 1
            case 0x2B, 0x2D:
                let sign: Int64 = bytes[i] == 0x2D ? -1 : 1
                guard let oh = num(i + 1, 2) else { return nil }
                var om: Int64 = 0
                if i + 3 < bytes.count, bytes[i + 3] == 0x3A {
                    guard let v = num(i + 4, 2) else { return nil }
                    om = v
                    i += 6
                } else if let v = num(i + 3, 2) {
                    om = v
                    i += 5
                } else {
                    i += 3
                }
                // No zone on Earth is further than 14 hours from UTC (Kiribati, +14:00).
                guard om < 60, oh * 60 + om <= maxOffsetMinutes else { return nil }
                offset = sign * (oh * 3600 + om * 60)
            default: return nil
            }
        }
        guard i == bytes.count, (1...12).contains(mo), d >= 1, d <= daysInMonth(y, mo), h < 24, mi < 60, s < 61 else { return nil }
        let days = daysFromCivil(y, mo, d)
        let total = days * 86400 + h * 3600 + mi * 60 + s - offset
        return date(millis: total * 1000 + ms)
    }

    /// The largest UTC offset a time may carry, in minutes (±14:00).
    public static let maxOffsetMinutes: Int64 = 14 * 60

    /// The years a partner's time may fall in: anything else is a typo or a placeholder
    /// (0000-01-01, 9999-12-31), never a sale, a payment or a shipment.
    public static let plausibleYears: ClosedRange<Int64> = 1900...2199

    /// Whether `date` lies in `plausibleYears` (UTC).
    public static func isPlausible(_ date: Date) -> Bool {
        let ms = millis(date)
        return ms >= plausibleStart && ms < plausibleEnd
    }

    static let plausibleStart = daysFromCivil(plausibleYears.lowerBound, 1, 1) * 86_400_000
    static let plausibleEnd = daysFromCivil(plausibleYears.upperBound + 1, 1, 1) * 86_400_000

    public static func daysInMonth(_ y: Int64, _ m: Int64) -> Int64 {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    public static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
