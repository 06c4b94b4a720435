/// Names a file-name pattern accepts, built from the pattern itself: for each alternative and
/// optional part a short example (`^SALES_[A-Z]{2}\.xml$` gives `SALES_AA.xml`). `validate`
/// tries every mapping's samples against the other mappings' patterns to find names two feeds
/// would both claim. The subset understood is what name patterns use: literals, escapes, `.`,
/// classes, groups, alternation and quantifiers; anything else gives no samples (and no check),
/// never a wrong one, since each sample is checked against its own pattern before use.
public enum PatternSamples {
    static let cap = 64

    public static func samples(_ pattern: Pattern) -> [String] {
        var p = Parser(Array(pattern.text.unicodeScalars))
        guard let alts = p.alternation(), p.atEnd else { return [] }
        return Array(Set(alts.filter(pattern.matches))).sorted()
    }

    struct Parser {
        let s: [Unicode.Scalar]
        var i = 0
        init(_ s: [Unicode.Scalar]) { self.s = s }
        var atEnd: Bool { i >= s.count }

        mutating func alternation() -> [String]? {
            var out: [String] = []
            while true {
                guard let seq = sequence() else { return nil }
                out += seq
                if i < s.count, s[i] == "|" {
                    i += 1
                    continue
                }
                return Array(out.prefix(cap))
            }
        }

        mutating func sequence() -> [String]? {
            var acc = [""]
            while i < s.count, s[i] != "|", s[i] != ")" {
                guard let atom = atom() else { return nil }
                guard let reps = quantified(atom) else { return nil }
                var next: [String] = []
                for a in acc { for r in reps where next.count < cap { next.append(a + r) } }
                acc = next
            }
            return acc
        }

        /// One atom's samples (before its quantifier); nil for syntax outside the subset.
        mutating func atom() -> [String]? {
            let c = s[i]
            i += 1
            switch c {
            case "^", "$": return [""]
            case ".": return ["x"]
            case "\\":
                guard i < s.count else { return nil }
                let e = s[i]
                i += 1
                switch e {
                case "d": return ["0"]
                case "w": return ["a"]
                case "s": return [" "]
                case "D", "W", "S": return ["-"]
                case "b", "B", "A", "z", "Z": return [""]
                default: return e.properties.isAlphabetic || ("0"..."9").contains(e) ? nil : [String(e)]
                }
            case "[": return charClass()
            case "(":
                if i < s.count, s[i] == "?" {
                    guard i + 1 < s.count, s[i + 1] == ":" else { return nil }
                    i += 2
                }
                guard let inner = alternation(), i < s.count, s[i] == ")" else { return nil }
                i += 1
                return inner
            case "*", "+", "?", "{", ")": return nil
            default: return [String(c)]
            }
        }

        mutating func charClass() -> [String]? {
            var negated = false
            if i < s.count, s[i] == "^" {
                negated = true
                i += 1
            }
            var members: [ClosedRange<Unicode.Scalar>] = []
            var first = true
            while i < s.count, s[i] != "]" || first {
                first = false
                var lo = s[i]
                i += 1
                if lo == "\\" {
                    guard i < s.count else { return nil }
                    let e = s[i]
                    i += 1
                    switch e {
                    case "d":
                        members.append("0"..."9")
                        continue
                    case "w":
                        members += ["a"..."z", "A"..."Z", "0"..."9", "_"..."_"]
                        continue
                    case "s":
                        members.append(" "..." ")
                        continue
                    default: lo = e
                    }
                }
                if i + 1 < s.count, s[i] == "-", s[i + 1] != "]" {
                    let hi = s[i + 1]
                    i += 2
                    guard lo <= hi else { return nil }
                    members.append(lo...hi)
                } else {
                    members.append(lo...lo)
                }
            }
            guard i < s.count else { return nil }
            i += 1
            if negated {
                let pick = ["x", "A", "0", "_", "-", "."].first { c in !members.contains { $0.contains(Unicode.Scalar(c)!) } }
                return pick.map { [$0] }
            }
            return members.first.map { [String($0.lowerBound)] }
        }

        /// The atom repeated as its quantifier allows: the fewest, and one more when that is zero.
        mutating func quantified(_ atom: [String]) -> [String]? {
            guard i < s.count else { return atom }
            var low = 1, high: Int? = 1
            switch s[i] {
            case "*":
                (low, high) = (0, nil)
                i += 1
            case "+":
                (low, high) = (1, nil)
                i += 1
            case "?":
                (low, high) = (0, 1)
                i += 1
            case "{":
                guard let close = s[i...].firstIndex(of: "}") else { return nil }
                let body = String(String.UnicodeScalarView(s[(i + 1)..<close]))
                let parts = body.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard let l = Int(parts[0]) else { return nil }
                low = l
                high = parts.count == 1 ? l : Int(parts[1])
                i = close + 1
            default: return atom
            }
            if i < s.count, s[i] == "?" || s[i] == "+" { i += 1 }  // lazy or possessive: same strings
            var counts = [low]
            if low == 0, high ?? 1 >= 1 { counts.append(1) }
            var out: [String] = []
            for n in counts {
                for a in atom where out.count < cap { out.append(String(repeating: a, count: n)) }
            }
            return out
        }
    }
}
