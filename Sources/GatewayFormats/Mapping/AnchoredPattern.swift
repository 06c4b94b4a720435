/// The patterns mappings use most, `^[A-Z]{2}-[A-Z0-9]{2,5}-[0-9]{2}$` and their kind, matched on
/// the value's bytes: a whole-value match of a sequence of ASCII literals and ASCII classes, each
/// with a count (`{n}`, `{n,m}`, `?`, `*`, `+`). A check runs for every field of every record, and
/// NSRegularExpression bridges each value to NSString first.
///
/// Only that subset compiles (`compile` returns nil for anything else, and `Pattern` keeps
/// NSRegularExpression for it): no alternation, groups, `.`, negated classes or non-ASCII
/// characters, whose meaning over bytes would differ. Within it the answer is the regular
/// expression's: a class of ASCII characters never matches a byte of a multi-byte character,
/// as it never matches that character.
struct AnchoredPattern: Sendable {
    struct Element: Sendable {
        /// Which bytes match, as a 128-bit set over ASCII.
        var low: UInt64 = 0
        var high: UInt64 = 0
        var min = 1
        var max = 1

        func accepts(_ b: UInt8) -> Bool {
            b < 64 ? (low >> UInt64(b)) & 1 == 1 : b < 128 ? (high >> UInt64(b - 64)) & 1 == 1 : false
        }

        mutating func add(_ b: UInt8) {
            if b < 64 { low |= 1 << UInt64(b) } else { high |= 1 << UInt64(b - 64) }
        }
    }

    let elements: [Element]

    static func compile(_ pattern: String) -> AnchoredPattern? {
        let p = Array(pattern.utf8)
        guard p.count >= 2, p.first == UInt8(ascii: "^"), p.last == UInt8(ascii: "$"), p.allSatisfy({ $0 < 128 }) else { return nil }
        var i = 1
        let end = p.count - 1
        var out: [Element] = []
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        while i < end {
            var e = Element()
            let c = p[i]
            switch c {
            case UInt8(ascii: "["):
                i += 1
                guard i < end, p[i] != UInt8(ascii: "^") else { return nil }
                var any = false
                while i < end, p[i] != UInt8(ascii: "]") {
                    var lo = p[i]
                    if lo == UInt8(ascii: "\\") {
                        i += 1
                        guard i < end, let lit = literalEscape(p[i]) else { return nil }
                        lo = lit
                    } else if lo == UInt8(ascii: "[") {
                        return nil  // POSIX classes and nested sets
                    }
                    if i + 2 < end, p[i + 1] == UInt8(ascii: "-"), p[i + 2] != UInt8(ascii: "]") {
                        let hi = p[i + 2]
                        guard hi != UInt8(ascii: "\\"), lo <= hi else { return nil }
                        for b in lo...hi { e.add(b) }
                        i += 3
                    } else {
                        e.add(lo)
                        i += 1
                    }
                    any = true
                }
                guard i < end, any else { return nil }
                i += 1
            case UInt8(ascii: "\\"):
                guard i + 1 < end else { return nil }
                let n = p[i + 1]
                // `\d` and the other class escapes are Unicode classes (ICU's \d takes any decimal digit).
                if let lit = literalEscape(n) {
                    e.add(lit)
                } else {
                    return nil
                }
                i += 2
            case UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "|"), UInt8(ascii: "^"), UInt8(ascii: "$"),
                UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "]"):
                return nil
            default:
                e.add(c)
                i += 1
            }
            // The count.
            if i < end {
                switch p[i] {
                case UInt8(ascii: "?"): (e.min, e.max, i) = (0, 1, i + 1)
                case UInt8(ascii: "*"): (e.min, e.max, i) = (0, Int.max, i + 1)
                case UInt8(ascii: "+"): (e.min, e.max, i) = (1, Int.max, i + 1)
                case UInt8(ascii: "{"):
                    var j = i + 1
                    var a = 0
                    var digits = 0
                    while j < end, isDigit(p[j]), digits < 6 {
                        a = a * 10 + Int(p[j] - 0x30)
                        j += 1
                        digits += 1
                    }
                    guard digits > 0, j < end else { return nil }
                    var b = a
                    if p[j] == UInt8(ascii: ",") {
                        j += 1
                        var d2 = 0
                        b = 0
                        while j < end, isDigit(p[j]), d2 < 6 {
                            b = b * 10 + Int(p[j] - 0x30)
                            j += 1
                            d2 += 1
                        }
                        if d2 == 0 { b = Int.max }
                    }
                    guard j < end, p[j] == UInt8(ascii: "}"), a <= b else { return nil }
                    (e.min, e.max, i) = (a, b, j + 1)
                default: break
                }
                // A lazy or possessive count (`+?`, `*+`) is outside the subset.
                if i < end,
                    p[i] == UInt8(ascii: "?") || p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "*")
                        || p[i] == UInt8(ascii: "{")
                {
                    return nil
                }
            }
            out.append(e)
        }
        return AnchoredPattern(elements: out)
    }

    /// `\.`, `\-`, `\/` and the other escaped punctuation stand for themselves.
    private static func literalEscape(_ b: UInt8) -> UInt8? {
        let punctuation = Array(#".-/\[](){}*+?^$|_:@#%&=,;'"<>!~` "#.utf8)
        return punctuation.contains(b) ? b : nil
    }

    func matches(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { bytes in
            if match(0, bytes, 0) { return true }
            // As in ICU, `$` also matches before a line terminator that ends the input.
            let cut = Self.finalTerminator(bytes)
            return cut > 0 && match(0, UnsafeBufferPointer(rebasing: bytes[..<(bytes.count - cut)]), 0)
        }
    }

    /// The length of the line terminator ending the input (LF, VT, FF, CR, CR LF, NEL, LS, PS), or 0.
    static func finalTerminator(_ b: UnsafeBufferPointer<UInt8>) -> Int {
        let n = b.count
        guard n > 0 else { return 0 }
        switch b[n - 1] {
        case 0x0A: return n >= 2 && b[n - 2] == 0x0D ? 2 : 1
        case 0x0B, 0x0C, 0x0D: return 1
        case 0x85 where n >= 2 && b[n - 2] == 0xC2: return 2
        // One `where` per pattern: Swift applies a case's `where` to its last pattern only, so
        // `case 0xA8, 0xA9 where …` took a bare 0xA8 (the end of "¨") for a line separator.
        case 0xA8 where n >= 3 && b[n - 3] == 0xE2 && b[n - 2] == 0x80: return 3
        case 0xA9 where n >= 3 && b[n - 3] == 0xE2 && b[n - 2] == 0x80: return 3
        default: return 0
        }
    }

    /// Greedy with backtracking; the elements are a flat sequence, so the work stays small.
    private func match(_ e: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ at: Int) -> Bool {
        guard e < elements.count else { return at == bytes.count }
        let el = elements[e]
        var n = 0
        while n < el.max, at + n < bytes.count, el.accepts(bytes[at + n]) { n += 1 }
        guard n >= el.min else { return false }
        if e == elements.count - 1 { return at + n == bytes.count }
        while n >= el.min {
            if match(e + 1, bytes, at + n) { return true }
            n -= 1
        }
        return false
    }
}
