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

    public static func upper(_ s: String) -> String { shifted(s, from: 0x61, to: 0x7A, by: -0x20) ?? s.uppercased() }

    public static func lower(_ s: String) -> String { shifted(s, from: 0x41, to: 0x5A, by: 0x20) ?? s.lowercased() }

    /// ASCII text with the letters in `from...to` moved by `by` (the same string when there are
    /// none); nil when the text is not ASCII, for Unicode's rules to decide. Scans the bytes as a
    /// buffer: iterating `String.utf8` costs several times more per byte.
    static func shifted(_ s: String, from: UInt8, to: UInt8, by: Int) -> String? {
        var copy = s
        let (ascii, change): (Bool, Bool) = copy.withUTF8 { bytes in
            var change = false
            for b in bytes {
                if b >= 0x80 { return (false, false) }
                if b >= from && b <= to { change = true }
            }
            return (true, change)
        }
        guard ascii else { return nil }
        guard change else { return s }
        return copy.withUTF8 { bytes in
            String(unsafeUninitializedCapacity: bytes.count) { out in
                for (i, b) in bytes.enumerated() { out[i] = b >= from && b <= to ? UInt8(Int(b) + by) : b }
                return bytes.count
            }
        }
    }
}
