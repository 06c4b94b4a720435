import Foundation
import Testing

@testable import GatewayFormats

/// The CSV reader's UTF-8 check answers as the standard library's does.
@Suite("UTF-8 validation of CSV fields")
struct UTF8TextTests {
    @Test func everyAnswerIsTheStandardLibrarys() {
        var samples: [[UInt8]] = [
            [], Array("plain ascii, longer than eight bytes".utf8), Array("Conceição; Lda.".utf8), Array("٣ 😀 €".utf8),
            [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF], [0xED, 0xA0, 0x80], [0xED, 0x9F, 0xBF],
            [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], [0xF5, 0x80, 0x80, 0x80], [0xFF],
            [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0x80], Array("abcdefgh".utf8) + [0xC3, 0x28], [0x41, 0xE2, 0x28, 0xA1],
        ]
        var rng = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [
            [0x41], [0x7F], [0x80], [0xBF], [0xC2], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xED], [0xF0], [0xF4], [0xFE],
        ]
        for _ in 0..<5000 {
            samples.append((0..<Int.random(in: 1...12, using: &rng)).flatMap { _ in pieces.randomElement(using: &rng)! })
        }
        for bytes in samples {
            bytes.withUnsafeBufferPointer { b in
                let expected = String(validating: b, as: UTF8.self)
                #expect(UTF8Text.decode(b) == expected, "\(bytes)")
            }
        }
    }
}
