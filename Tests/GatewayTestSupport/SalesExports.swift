import Foundation

/// Intranet sales exports (namespace `urn:caas:intranet:sales:2`) written for a test: the sales of
/// a story that goes on after the partner pack's, or a variation of one.
public enum SalesExports {
    public struct Sale {
        public var ref: String
        public var at: String
        /// `<StockVehicle vin="…"/>`: a vehicle already in dealership stock.
        public var stockVIN: String?
        /// Its DNI's number; the check letter is computed, so every sale is a customer of its own.
        public var dni: Int
        public var delivery = "DEALERSHIP"
        public var total = "45990.00"
        public var deposit = "3000.00"

        public init(ref: String, at: String, stockVIN: String? = nil, dni: Int) {
            self.ref = ref
            self.at = at
            self.stockVIN = stockVIN
            self.dni = dni
        }
    }

    /// A valid Spanish DNI for the number.
    public static func dni(_ n: Int) -> String {
        let letters = Array("TRWAGMYFPDXBNJZSQVHLCKE")
        return String(format: "%08d", n) + String(letters[n % 23])
    }

    public static func export(dealer: String = "ES-MAD-01", exportedAt: String, _ sales: [Sale]) -> String {
        let body = sales.map { s in
            """
              <Sale id="\(s.ref)" registeredAt="\(s.at)">
                <Customer>
                  <GivenName>Lucía</GivenName>
                  <FamilyName>Ortega Ruiz</FamilyName>
                  <Email>cliente.\(s.dni)@example.es</Email>
                  <Phone>+34 611 000 \(String(format: "%03d", s.dni % 1000))</Phone>
                  <NationalId type="DNI">\(dni(s.dni))</NationalId>
                  <Address><Street>Calle de Alcalá 100</Street><PostalCode>28009</PostalCode><City>Madrid</City><Country>ES</Country></Address>
                </Customer>
                <Plan code="BASE-SPORT"/>
            \(s.stockVIN.map { "    <StockVehicle vin=\"\($0)\"/>\n" } ?? "")    <Options/>
                <Price currency="EUR"><Total>\(s.total)</Total><Deposit>\(s.deposit)</Deposit></Price>
                <Delivery mode="\(s.delivery)"/>
                <SalesRep employeeId="E-4411"/>
              </Sale>
            """
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <SalesExport xmlns="urn:caas:intranet:sales:2" dealerCode="\(dealer)" exportedAt="\(exportedAt)" count="\(sales.count)">
            \(body.joined(separator: "\n"))
            </SalesExport>

            """
    }

    /// The export's file name as the intranet writes it, for `exportedAt` as yyyyMMddHHmmss.
    public static func name(dealer: String = "ES-MAD-01", stamp: String) -> String { "SALES_\(dealer)_\(stamp).xml" }
}
