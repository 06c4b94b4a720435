/// Whether a buffer holds a byte of a small set, eight bytes at a time (the classic word tricks:
/// a word has a zero byte iff `(v - 0x01…01) & ~v & 0x80…80` is not zero). The per-record paths
/// ask it of every value: most have no such byte, and a word test is a handful of instructions
/// for eight bytes. A word that may hold one is looked at byte by byte, so answers are exact.
public enum ByteScan {
    @usableFromInline static let ones: UInt64 = 0x0101_0101_0101_0101
    @usableFromInline static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Some byte of `x` is below `n` (n ≤ 128).
    @inlinable @inline(__always) static func hasLess(_ x: UInt64, _ n: UInt8) -> Bool { (x &- ones &* UInt64(n)) & ~x & highs != 0 }

    /// Some byte of `x` is `n`.
    @inlinable @inline(__always) static func hasByte(_ x: UInt64, _ n: UInt8) -> Bool {
        let y = x ^ (ones &* UInt64(n))
        return (y &- ones) & ~y & highs != 0
    }

    /// The first byte that JSON must escape (a C0 control, `"` or `\`), or nil.
    @inlinable public static func firstJSONEscape(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        first(b, word: { hasLess($0, 0x20) || hasByte($0, 0x22) || hasByte($0, 0x5C) }, byte: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C })
    }

    /// The first byte that is not ASCII, or nil.
    @inlinable public static func firstNonASCII(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        first(b, word: { $0 & highs != 0 }, byte: { $0 >= 0x80 })
    }

    /// The first C0 control other than tab, LF and CR, or DEL, or nil.
    @inlinable public static func firstControl(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        first(
            b, word: { hasLess($0, 0x20) || hasByte($0, 0x7F) },
            byte: { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D) || $0 == 0x7F })
    }

    @inlinable @inline(__always)
    static func first(_ b: UnsafeBufferPointer<UInt8>, word: (UInt64) -> Bool, byte: (UInt8) -> Bool) -> Int? {
        guard let base = b.baseAddress else { return nil }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= b.count {
            if word(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) {
                for k in i..<(i + 8) where byte(b[k]) { return k }
            }
            i += 8
        }
        while i < b.count {
            if byte(b[i]) { return i }
            i += 1
        }
        return nil
    }
}
