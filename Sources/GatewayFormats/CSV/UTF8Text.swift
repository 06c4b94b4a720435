import GatewayCore

/// UTF-8 bytes to a String, or nil when they are not valid UTF-8: the per-field decode of the
/// CSV reader. `String(validating:as:)` is generic and went through type metadata for every
/// field; here ASCII is skipped eight bytes at a time and anything else checked by the UTF-8 rules
/// (shortest form, no surrogates, at most U+10FFFF), then `String(decoding:)` takes the bytes.
enum UTF8Text {
    static func decode(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
        isValid(raw) ? String(decoding: raw, as: UTF8.self) : nil
    }

    static func isValid(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = b.count
        guard var i = ByteScan.firstNonASCII(b) else { return true }
        while i < n {
            let c = b[i]
            if c < 0x80 {
                i += 1
                continue
            }
            func cont(_ k: Int) -> Bool { i + k < n && b[i + k] & 0xC0 == 0x80 }
            switch c {
            case 0xC2...0xDF:
                guard cont(1) else { return false }
                i += 2
            case 0xE0...0xEF:
                guard cont(1), cont(2) else { return false }
                let c1 = b[i + 1]
                if c == 0xE0 && c1 < 0xA0 { return false }  // overlong
                if c == 0xED && c1 > 0x9F { return false }  // surrogates
                i += 3
            case 0xF0...0xF4:
                guard cont(1), cont(2), cont(3) else { return false }
                let c1 = b[i + 1]
                if c == 0xF0 && c1 < 0x90 { return false }  // overlong
                if c == 0xF4 && c1 > 0x8F { return false }  // above U+10FFFF
                i += 4
            default: return false
            }
        }
        return true
    }
}
