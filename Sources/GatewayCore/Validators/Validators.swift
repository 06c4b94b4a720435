/// Named validators a mapping can name in its checks. Each returns nil when the value is valid and
/// otherwise a reason that never repeats the value itself (values here are personal data).
public enum Validators {
    public typealias Check = @Sendable (String) -> String?

    public static let named: [String: Check] = [
        "es_dni": { esDNI($0) },
        "es_nie": { esNIE($0) },
        "es_dni_nie": { esDNIorNIE($0) },
        "pt_nif": { ptNIF($0) },
        "it_codice_fiscale": { itCodiceFiscale($0) },
        "de_id_card": { deIDCard($0) },
        "email": { email($0) },
        "iso_country": { isoCountry($0) },
        "vin": { vinShape($0) },
    ]

    /// The validator for a national id of the given type, as the sales feeds name them.
    /// CNI (French identity card) has no public check digit: only its shape is checked.
    public static func nationalID(type: String, value: String) -> String? {
        switch type.uppercased() {
        case "DNI": return esDNI(value)
        case "NIE": return esNIE(value)
        case "NIF": return ptNIF(value)
        case "CF": return itCodiceFiscale(value)
        case "NPA": return deIDCard(value)
        case "CNI":
            let v = compact(value)
            return (9...12).contains(v.count) && v.allSatisfy(isAlnum)
                ? nil : "French identity document number must be 9 to 12 letters or digits"
        default: return "unknown national id type \(type)"
        }
    }

    /// Upper-cases and removes spaces, dashes, dots and slashes, as people and partners write ids.
    public static func compact(_ value: String, stripPrefix prefix: String? = nil) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(value.utf8.count)
        for b in value.utf8 where b != 0x20 && b != 0x2D && b != 0x2E && b != 0x2F {
            out.append(b >= 0x61 && b <= 0x7A ? b - 0x20 : b)
        }
        if let prefix {
            let p = Array(prefix.utf8)
            if out.starts(with: p) { out.removeFirst(p.count) }
        }
        return out
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    static func isUpper(_ b: UInt8) -> Bool { b >= 0x41 && b <= 0x5A }
    static func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || isUpper(b) }

    private static let dniLetters = Array("TRWAGMYFPDXBNJZSQVHLCKE".utf8)

    static func esDNI(_ value: String) -> String? {
        let v = compact(value, stripPrefix: "ES")
        guard v.count == 9, v[0..<8].allSatisfy(isDigit), isUpper(v[8]) else {
            return "Spanish DNI must be 8 digits and a letter"
        }
        let n = v[0..<8].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        return dniLetters[n % 23] == v[8] ? nil : "Spanish DNI check letter does not match"
    }

    static func esNIE(_ value: String) -> String? {
        let v = compact(value, stripPrefix: "ES")
        guard v.count == 9, let lead = [UInt8(ascii: "X"), UInt8(ascii: "Y"), UInt8(ascii: "Z")].firstIndex(of: v[0]),
            v[1..<8].allSatisfy(isDigit), isUpper(v[8])
        else { return "Spanish NIE must be X, Y or Z, 7 digits and a letter" }
        let n = v[1..<8].reduce(lead) { $0 * 10 + Int($1 - 0x30) }
        return dniLetters[n % 23] == v[8] ? nil : "Spanish NIE check letter does not match"
    }

    static func esDNIorNIE(_ value: String) -> String? {
        let v = compact(value, stripPrefix: "ES")
        return v.first.map(isDigit) == true ? esDNI(value) : esNIE(value)
    }

    static func ptNIF(_ value: String) -> String? {
        let v = compact(value, stripPrefix: "PT")
        guard v.count == 9, v.allSatisfy(isDigit) else { return "Portuguese NIF must be 9 digits" }
        var sum = 0
        for i in 0..<8 { sum += Int(v[i] - 0x30) * (9 - i) }
        let check = 11 - sum % 11
        return (check >= 10 ? 0 : check) == Int(v[8] - 0x30) ? nil : "Portuguese NIF check digit does not match"
    }

    // Codice fiscale: odd positions (1-based) use this table, even positions the plain value.
    private static let cfOdd: [Int] = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]
    private static let cfMonths = Array("ABCDEHLMPRST".utf8)
    // Omocodia: digits in positions 7,8,10,11,13,14,15 may be replaced by these letters.
    private static let cfOmocodia = Array("LMNPQRSTUV".utf8)

    static func itCodiceFiscale(_ value: String) -> String? {
        let v = compact(value, stripPrefix: nil)
        if v.count == 11, v.allSatisfy(isDigit) { return itCompanyNumber(v) }
        guard v.count == 16, v.allSatisfy(isAlnum) else { return "codice fiscale must be 16 letters and digits" }
        let digitPositions: Set<Int> = [6, 7, 9, 10, 12, 13, 14]
        var plain = v
        for i in 0..<15 {
            if digitPositions.contains(i) {
                if let k = cfOmocodia.firstIndex(of: v[i]) { plain[i] = UInt8(0x30 + k) }
                guard isDigit(plain[i]) else { return "codice fiscale has a letter where a digit belongs" }
            } else if i < 6 || i == 8 || i == 11 {
                guard isUpper(v[i]) else { return "codice fiscale has a digit where a letter belongs" }
            }
        }
        guard cfMonths.contains(plain[8]) else { return "codice fiscale month letter is not valid" }
        let day = Int(plain[9] - 0x30) * 10 + Int(plain[10] - 0x30)
        guard (1...31).contains(day) || (41...71).contains(day) else { return "codice fiscale birth day is not valid" }
        var sum = 0
        for i in 0..<15 {
            let c = v[i]
            let value = isDigit(c) ? Int(c - 0x30) : Int(c - 0x41)
            sum += i % 2 == 0 ? cfOdd[value] : value
        }
        return UInt8(0x41 + sum % 26) == v[15] ? nil : "codice fiscale check character does not match"
    }

    private static func itCompanyNumber(_ v: [UInt8]) -> String? {
        var sum = 0
        for i in 0..<10 {
            var d = Int(v[i] - 0x30)
            if i % 2 == 1 {
                d *= 2
                if d > 9 { d -= 9 }
            }
            sum += d
        }
        return (10 - sum % 10) % 10 == Int(v[10] - 0x30) ? nil : "Italian company number check digit does not match"
    }

    /// German identity card (Personalausweis) serial: 9 letters/digits and the ICAO 9303 7-3-1 check digit.
    static func deIDCard(_ value: String) -> String? {
        let v = compact(value)
        guard v.count == 10, v.allSatisfy(isAlnum), isDigit(v[9]) else {
            return "German ID card number must be 9 letters or digits and a check digit"
        }
        return icaoCheckDigit(v[0..<9]) == Int(v[9] - 0x30) ? nil : "German ID card check digit does not match"
    }

    /// ICAO 9303 check digit: weights 7, 3, 1 repeating, digits as themselves, A=10 … Z=35, `<` = 0.
    public static func icaoCheckDigit<C: Collection>(_ chars: C) -> Int where C.Element == UInt8 {
        let weights = [7, 3, 1]
        var sum = 0
        for (i, c) in chars.enumerated() {
            let v = isDigit(c) ? Int(c - 0x30) : isUpper(c) ? Int(c - 0x41) + 10 : 0
            sum += v * weights[i % 3]
        }
        return sum % 10
    }

    static func email(_ value: String) -> String? {
        let v = Array(value.utf8)
        guard v.count <= 254, let at = v.firstIndex(of: 0x40), at > 0, at == v.lastIndex(of: 0x40) else {
            return "email must have one @ with a local part before it"
        }
        let domain = v[(at + 1)...]
        guard domain.count >= 3, domain.contains(0x2E), domain.first != 0x2E, domain.last != 0x2E,
            !v.contains(where: { $0 <= 0x20 || $0 == 0x2C || $0 == 0x3B || $0 == 0x3C || $0 == 0x3E })
        else { return "email domain is not valid" }
        return nil
    }

    static func isoCountry(_ value: String) -> String? {
        isoCountries.contains(value) ? nil : "not an ISO 3166-1 alpha-2 country code"
    }

    /// Shape only (ISO 3779): 17 characters, digits and capitals without I, O and Q. The North
    /// American check digit is deliberately not checked: European VINs do not carry it.
    static func vinShape(_ value: String) -> String? {
        let v = Array(value.utf8)
        guard v.count == 17 else { return "VIN must be 17 characters" }
        for c in v where !(isDigit(c) || (isUpper(c) && c != 0x49 && c != 0x4F && c != 0x51)) {
            return "VIN may only hold digits and capitals other than I, O and Q"
        }
        return nil
    }

    static let isoCountries: Set<String> = Set(
        """
        AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
        CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
        GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO \
        JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR \
        MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO \
        RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV \
        TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
        """.split(separator: " ").map(String.init))
}
