/// An amount in integer minor units (cents) with its ISO 4217 currency. Only JSON shows decimals.
public struct Money: Sendable, Hashable {
    public var cents: Int64
    public var currency: String

    public init(cents: Int64, currency: String) {
        self.cents = cents
        self.currency = currency
    }

    /// Parses decimal text such as `15`, `15.5` or `15.50` into cents; nil for anything else
    /// (more than two decimals, signs, exponents, separators).
    public static func parseCents(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = parts.first, !whole.isEmpty, whole.count <= 12,
            whole.allSatisfy({ $0.isASCII && $0.isNumber })
        else { return nil }
        var cents = Int64(whole)! * 100
        if parts.count == 2 {
            let fraction = parts[1]
            guard (1...2).contains(fraction.count), fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                return nil
            }
            cents += Int64(fraction.count == 1 ? String(fraction) + "0" : String(fraction))!
        }
        return cents
    }

    /// `1500` → `"15.00"`.
    public static func decimalText(cents: Int64) -> String {
        let sign = cents < 0 ? "-" : ""
        let magnitude = cents.magnitude
        let fraction = magnitude % 100
        return "\(sign)\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
