/// Business policies the fold depends on. Kept in the configuration; values here are the defaults.
public struct Policies: Sendable, Equatable {
    /// Calendar days to pay the rest once the vehicle is available at the dealership.
    public var finalPaymentWindowDays: Int
    /// Per-country overrides of the window, keyed by ISO country code.
    public var finalPaymentWindowDaysByCountry: [String: Int]

    public init(finalPaymentWindowDays: Int = 14, finalPaymentWindowDaysByCountry: [String: Int] = [:]) {
        self.finalPaymentWindowDays = finalPaymentWindowDays
        self.finalPaymentWindowDaysByCountry = finalPaymentWindowDaysByCountry
    }

    public func finalPaymentWindowDays(country: String?) -> Int {
        country.flatMap { finalPaymentWindowDaysByCountry[$0] } ?? finalPaymentWindowDays
    }
}
