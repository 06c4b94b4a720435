/// Text operations for the ingest hot loop. Partner data is mostly ASCII: these take a byte-level
/// fast path and fall back to the Unicode-aware standard library only when they must.
public enum ASCIIText {
    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

    /// Trims white space at both ends (ASCII white space, and Unicode white space via the slow path).
    public static func trim(_ s: String) -> String {
        let u = s.utf8
        guard let first = u.first, let last = u.last else { return s }
        if !isSpace(first) && !isSpace(last) && first < 0x80 && last < 0x80 { return s }
        if first >= 0x80 || last >= 0x80 {
            // Possibly Unicode white space (no-break space and friends): let Character decide.
            var sub = Substring(s)
            while let c = sub.first, c.isWhitespace { sub = sub.dropFirst() }
            while let c = sub.last, c.isWhitespace { sub = sub.dropLast() }
            return String(sub)
        }
        var start = u.startIndex
        var end = u.endIndex
        while start < end, isSpace(u[start]) { start = u.index(after: start) }
        while end > start, isSpace(u[u.index(before: end)]) { end = u.index(before: end) }
        return String(s[start..<end])
    }

    public static func upper(_ s: String) -> String {
        guard s.utf8.allSatisfy({ $0 < 0x80 }) else { return s.uppercased() }
        guard s.utf8.contains(where: { $0 >= 0x61 && $0 <= 0x7A }) else { return s }
        return String(decoding: s.utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
    }

    public static func lower(_ s: String) -> String {
        guard s.utf8.allSatisfy({ $0 < 0x80 }) else { return s.lowercased() }
        guard s.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return s }
        return String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
}
