import Foundation
import Testing

@testable import GatewayFormats

/// The byte matcher answers as NSRegularExpression does, for every pattern it takes on.
@Suite("Anchored patterns on bytes")
struct AnchoredPatternTests {
    static let patterns = [
        "^VD/[0-9]{4}/[0-9]{6}$", "^[0-9]{4}-[0-9]{3}$", "^[A-Z]-[0-9]{4}-[0-9]{6}$", "^[A-Z]{2}-[A-Z0-9]{2,5}-[0-9]{2}$", "^[A-Z]{3}$",
        #"^VENDAS_[A-Z]{2}-[A-Z0-9]{2,5}-[0-9]{2}_[0-9]{8}\.csv$"#, #"^wh_[0-9]{14}_[A-Za-z0-9_-]{1,100}\.json$"#,
        "^a?b*c+$", "^[ab]{2,}[b]{0,2}$", "^x{0}y$", #"^[\-\]a]+$"#, "^$",
    ]

    @Test func theSubsetCompilesAndTheRestIsLeftToNSRegularExpression() {
        for p in Self.patterns { #expect(AnchoredPattern.compile(p) != nil, "\(p)") }
        for p in [
            "VD/[0-9]{4}", "^(a|b)$", "^a.b$", "^[^a]$", #"^\d{3}$"#, "^é$", "^a+?$", "^a{2}{3}$", "^[[:alpha:]]$", "^a$|^b$", "^[z-a]$",
        ] {
            #expect(AnchoredPattern.compile(p) == nil, "\(p)")
        }
    }

    @Test func everyAnswerIsTheRegularExpressionsAnswer() throws {
        let alphabet = Array("AZaz09-_/.bcxy]\\é٣¨\n\r ")
        var rng = SystemRandomNumberGenerator()
        var samples: [String] = [
            "", "\n", "VD/2026/000001", "VD/2026/000001\n", "VD/2026/000001\r\n", "VD/2026/0000012", "1100-011",
            "PT-LIS-01", "PT-LISBO-01", "PT-LISBOA-01", "EUR", "EU", "eur", "EUR\u{2028}", "EUR\u{85}", "VENDAS_PT-LIS-01_20261002.csv",
            "wh_20261004070000_abc-DEF_1.json", "abbbc", "ac", "c", "aab", "abbbb", "y", "-]a", "VD/2026/٠٠٠٠٠١", "¨", "A¨", "AB¨", "EUR¨",
            "EUR\u{2028}\u{2029}",
        ]
        for _ in 0..<3000 {
            samples.append(String((0..<Int.random(in: 0...16, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }))
        }
        for p in Self.patterns {
            let regex = try NSRegularExpression(pattern: p)
            let bytes = try #require(AnchoredPattern.compile(p))
            for s in samples {
                let expected = regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
                #expect(bytes.matches(s) == expected, "\(p) on \(s.debugDescription)")
            }
        }
    }
}
