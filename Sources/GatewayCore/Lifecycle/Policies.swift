/// Business policies the fold depends on. Kept in the configuration; values here are the defaults.
public struct Policies: Sendable, Equatable {
    /// Calendar days to pay the rest once the vehicle is available at the dealership.
    public var finalPaymentWindowDays: Int
    /// Per-country overrides of the window, keyed by ISO country code.
    public var finalPaymentWindowDaysByCountry: [String: Int]
    /// Notices older than this at the as-of time are not sent: a replay of old facts, or a gateway
    /// started late, does not tell customers yesterday's news as if it were new.
    public var noticeHorizonDays = 7

    public init(finalPaymentWindowDays: Int = 14, finalPaymentWindowDaysByCountry: [String: Int] = [:]) {
        self.finalPaymentWindowDays = finalPaymentWindowDays
        self.finalPaymentWindowDaysByCountry = finalPaymentWindowDaysByCountry
    }

    public func finalPaymentWindowDays(country: String?) -> Int {
        country.flatMap { finalPaymentWindowDaysByCountry[$0] } ?? finalPaymentWindowDays
    }
}
