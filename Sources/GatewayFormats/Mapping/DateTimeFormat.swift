import Foundation
import GatewayCore

/// A fixed date/time layout such as `dd/MM/yyyy HH:mm` in a named zone, or ISO 8601 with offset.
/// Parsed by hand: Foundation's DateFormatter is far too slow for a per-record hot loop.
public struct DateTimeFormat: Sendable {
    enum Token: Sendable, Equatable {
        case year, month, day, hour, minute, second
        case literal(UInt8)
    }

    public let text: String
    let tokens: [Token]?  // nil: ISO 8601
    let zone: TimeZone

    public init(format: String, zone: String?) throws {
        text = format
        guard let tz = TimeZone(identifier: zone ?? "UTC") else { throw MappingFieldError("unknown time zone \(zone ?? "")") }
        self.zone = tz
        if format.lowercased() == "iso8601" {
            tokens = nil
            return
        }
        var out: [Token] = []
        var rest = Substring(format)
        let table: [(String, Token)] = [("yyyy", .year), ("MM", .month), ("dd", .day), ("HH", .hour), ("mm", .minute), ("ss", .second)]
        outer: while !rest.isEmpty {
            for (symbol, token) in table where rest.hasPrefix(symbol) {
                out.append(token)
                rest = rest.dropFirst(symbol.count)
                continue outer
            }
            let c = rest.first!
            guard c.isASCII, !c.isLetter else {
                throw MappingFieldError("date format \(format): only yyyy, MM, dd, HH, mm, ss and punctuation are understood")
            }
            out.append(.literal(c.asciiValue!))
            rest = rest.dropFirst()
        }
        guard out.contains(.year), out.contains(.month), out.contains(.day) else {
            throw MappingFieldError("date format \(format) needs yyyy, MM and dd")
        }
        tokens = out
    }

    /// What a text reads as in this layout.
    public enum Reading: Equatable, Sendable {
        case instant(Date)
        /// Not in the layout (or not a date: 31 April, hour 25).
        case malformed
        /// A local time the zone skipped: the clocks went forward over it (spring DST).
        case skippedLocalTime
    }

    public func parse(_ s: String) -> Date? {
        if case .instant(let d) = read(s) { return d }
        return nil
    }

    /// A local time in the zone's autumn fold (it happens twice) is the first of its two instants,
    /// still in summer time; a local time in the spring gap never happened and is refused.
    public func read(_ s: String) -> Reading {
        guard let tokens else {
            // ISO 8601 without an offset is read in the configured zone.
            if let d = Timestamp.parseISO(s), hasOffset(s) || zone.identifier == "UTC" || zone.identifier == "GMT" { return .instant(d) }
            guard let naive = Timestamp.parseISO(s) else { return .malformed }
            return local(naive)
        }
        let b = Array(s.utf8)
        var i = 0
        var v: [Int64] = [0, 1, 1, 0, 0, 0]
        func digits(_ n: Int) -> Int64? {
            guard i + n <= b.count else { return nil }
            var x: Int64 = 0
            for k in i..<(i + n) {
                guard b[k] >= 0x30, b[k] <= 0x39 else { return nil }
                x = x * 10 + Int64(b[k] - 0x30)
            }
            i += n
            return x
        }
        for t in tokens {
            switch t {
            case .literal(let c):
                guard i < b.count, b[i] == c else { return .malformed }
                i += 1
            case .year:
                guard let x = digits(4) else { return .malformed }
                v[0] = x
            case .month:
                guard let x = digits(2), (1...12).contains(x) else { return .malformed }
                v[1] = x
            case .day:
                guard let x = digits(2), (1...31).contains(x) else { return .malformed }
                v[2] = x
            case .hour:
                guard let x = digits(2), x < 24 else { return .malformed }
                v[3] = x
            case .minute:
                guard let x = digits(2), x < 60 else { return .malformed }
                v[4] = x
            case .second:
                guard let x = digits(2), x < 61 else { return .malformed }
                v[5] = x
            }
        }
        guard i == b.count, v[2] <= Timestamp.daysInMonth(v[0], v[1]) else { return .malformed }
        let days = Timestamp.daysFromCivil(v[0], v[1], v[2])
        let naive = Timestamp.date(millis: (days * 86400 + v[3] * 3600 + v[4] * 60 + v[5]) * 1000)
        return local(naive)
    }

    private func hasOffset(_ s: String) -> Bool {
        guard s.utf8.count > 10 else { return false }
        let tail = s.utf8.suffix(6)
        return s.hasSuffix("Z") || tail.contains(0x2B) || tail.dropFirst().contains(0x2D)
    }

    /// Wall-clock time in `zone` → instant. The offsets in force a day before and a day after
    /// are the only candidates (no zone changes twice within two days); a candidate holds when
    /// the zone really has that offset at that instant. None: the time was skipped. Two: the
    /// fold, and the earlier instant is taken.
    private func local(_ naive: Date) -> Reading {
        if zone.identifier == "UTC" || zone.identifier == "GMT" { return .instant(naive) }
        let offsets = Set([-86_400.0, 86_400.0].map { zone.secondsFromGMT(for: naive.addingTimeInterval($0)) })
        let instants = offsets.map { naive.addingTimeInterval(-Double($0)) }.filter {
            naive.timeIntervalSince($0) == Double(zone.secondsFromGMT(for: $0))
        }
        guard let first = instants.min() else { return .skippedLocalTime }
        return .instant(first)
    }
}

struct MappingFieldError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
