/// How long a sold access lasts on the wall clock (`vigencia`, CONTRACT §11), on top of RouterOS's
/// own `limit-uptime` and `limit-bytes-total`: a "1 day" pass ends a day after it starts, however
/// little of it was used.
public struct AccessValidity: Sendable, Equatable {
    /// When the validity starts to run.
    public enum Start: String, Sendable, CaseIterable {
        /// The user's first login (as the sweeper first sees it used).
        case firstLogin = "first_login"
        /// The purchase: the moment the access was delivered.
        case purchase
    }

    /// Whole seconds, more than 0.
    public var seconds: Int64
    public var from: Start

    public init(seconds: Int64, from: Start) {
        self.seconds = seconds
        self.from = from
    }

    /// The validity as RouterOS interval text (`1d`, `1w2d`).
    public var text: String { RouterOSInterval.text(seconds: seconds) }

    /// When the access ends (unix seconds), given when it was delivered and first used; nil while
    /// it has not started (counted from a first login that has not happened).
    public func endsAt(deliveredAt: Int64?, firstLoginAt: Int64?) -> Int64? {
        let start: Int64? =
            switch from {
            case .purchase: deliveredAt
            case .firstLogin: firstLoginAt
            }
        guard let start else { return nil }
        let (end, overflow) = start.addingReportingOverflow(seconds)
        return overflow ? .max : end
    }
}
