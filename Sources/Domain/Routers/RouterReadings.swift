/// A RouterOS version as `/system/resource` prints it: `7.16.2 (stable)`, `7.1beta4
/// (development)`, `6.49.17 (long-term)`.
public struct RouterOSVersion: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int
    /// `beta4`, `rc2`; empty for a release.
    public var prerelease: String
    /// The whole text as printed, channel included.
    public var text: String

    /// nil when the text does not start with `major.minor`.
    public init?(_ text: String) {
        self.text = text
        let head = text.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
        var numbers: [Int] = []
        var current = ""
        var rest = Substring(head)
        while let character = rest.first {
            if character.isASCII, character.isNumber {
                current.append(character)
            } else if character == ".", !current.isEmpty {
                numbers.append(Int(current) ?? 0)
                current = ""
            } else {
                break
            }
            rest = rest.dropFirst()
        }
        if !current.isEmpty { numbers.append(Int(current) ?? 0) }
        guard numbers.count >= 2 else { return nil }
        major = numbers[0]
        minor = numbers[1]
        patch = numbers.count > 2 ? numbers[2] : 0
        prerelease = String(rest)
    }

    /// REST exists from 7.1 (its betas included: 7.1beta4 was the first, docs/sources.md A1).
    public var servesREST: Bool { major > 7 || (major == 7 && minor >= 1) }

    /// The version without the channel: `7.16.2`, `7.1beta4`.
    public var number: String {
        text.split(separator: " ", maxSplits: 1).first.map(String.init) ?? text
    }

    public var description: String { text }

    public static func < (lhs: RouterOSVersion, rhs: RouterOSVersion) -> Bool {
        if (lhs.major, lhs.minor, lhs.patch) != (rhs.major, rhs.minor, rhs.patch) {
            return (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
        }
        // A pre-release comes before its release.
        if lhs.prerelease.isEmpty != rhs.prerelease.isEmpty { return !lhs.prerelease.isEmpty }
        return lhs.prerelease < rhs.prerelease
    }
}

/// A user group's `policy` as RouterOS prints it: granted policies, and the ones it does not
/// grant prefixed with `!` (`read,write,api,rest-api,!ftp,!policy`).
public struct RouterPolicies: Sendable, Equatable {
    /// What hotspot-pay's API user needs: `read` and `write` for the hotspot menus, `api` and
    /// `rest-api` to log in over REST (docs/sources.md A1, A9).
    public static let required = ["read", "write", "api", "rest-api"]

    /// RouterOS's policies in the order it prints them (docs/sources.md A9).
    public static let known = [
        "local", "telnet", "ssh", "ftp", "reboot", "read", "write", "policy", "test", "winbox", "password", "web", "sniff",
        "sensitive", "api", "romon", "rest-api", "dude", "tikapp",
    ]

    public var granted: [String]
    public var denied: [String]

    public init(_ text: String) {
        var granted: [String] = []
        var denied: [String] = []
        for item in text.split(separator: ",") {
            let word = item.trimmedSpaces()
            if word.hasPrefix("!") {
                denied.append(String(word.dropFirst()))
            } else if !word.isEmpty {
                granted.append(String(word))
            }
        }
        self.granted = granted
        self.denied = denied
    }

    /// Required policies the group lacks. `rest-api` is required only where the router knows it:
    /// a router that prints its denied policies (`!ftp`) and neither grants nor denies `rest-api`
    /// predates that policy, and its REST login goes by `api` alone.
    public var missing: [String] {
        let knowsRESTPolicy = denied.isEmpty || granted.contains("rest-api") || denied.contains("rest-api")
        return Self.required.filter { !granted.contains($0) && ($0 != "rest-api" || knowsRESTPolicy) }
    }

    /// Granted policies hotspot-pay does not need, in RouterOS's order.
    public var extra: [String] {
        let extra = granted.filter { !Self.required.contains($0) }
        return extra.sorted { (Self.known.firstIndex(of: $0) ?? .max, $0) < (Self.known.firstIndex(of: $1) ?? .max, $1) }
    }
}

/// Reading RouterOS's clock (`/system/clock`) as a moment.
public enum RouterClockReading {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Unix seconds of the router's clock; nil when its text cannot be read. The date is
    /// `YYYY-MM-DD` from 7.10 and `mmm/DD/YYYY` before (docs/sources.md A2, A9), the time
    /// `HH:MM:SS`, both local: the `gmt-offset` (`+02:00`, `-06:00`, or seconds) is taken off.
    public static func unixSeconds(_ clock: RouterClock) -> Int64? {
        guard let (year, month, day) = date(clock.date), let seconds = timeOfDay(clock.time) else { return nil }
        let offset: Int64
        if let text = clock.gmtOffset, !text.isEmpty {
            guard let parsed = offsetSeconds(text) else { return nil }
            offset = parsed
        } else {
            offset = 0
        }
        return daysFromCivil(year: year, month: month, day: day) * 86_400 + seconds - offset
    }

    static func date(_ text: String) -> (Int64, Int64, Int64)? {
        let dashed = text.split(separator: "-", omittingEmptySubsequences: false)
        if dashed.count == 3, let year = Int64(dashed[0]), let month = Int64(dashed[1]), let day = Int64(dashed[2]) {
            return valid(year, month, day)
        }
        let slashed = text.split(separator: "/", omittingEmptySubsequences: false)
        if slashed.count == 3, let index = months.firstIndex(of: slashed[0].lowercased()), let day = Int64(slashed[1]),
            let year = Int64(slashed[2])
        {
            return valid(year, Int64(index + 1), day)
        }
        return nil
    }

    private static func valid(_ year: Int64, _ month: Int64, _ day: Int64) -> (Int64, Int64, Int64)? {
        guard (1970...9999).contains(year), (1...12).contains(month), (1...31).contains(day) else { return nil }
        return (year, month, day)
    }

    static func timeOfDay(_ text: String) -> Int64? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let hours = Int64(parts[0]), let minutes = Int64(parts[1]), let seconds = Int64(parts[2]),
            (0...24).contains(hours), (0...59).contains(minutes), (0...60).contains(seconds)
        else { return nil }
        return hours * 3600 + minutes * 60 + seconds
    }

    static func offsetSeconds(_ text: String) -> Int64? {
        if let seconds = Int64(text) { return seconds }
        guard let sign = text.first, sign == "+" || sign == "-" else { return nil }
        let parts = text.dropFirst().split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let hours = Int64(parts[0]), (0...14).contains(hours) else { return nil }
        let minutes = parts.count == 2 ? Int64(parts[1]) : 0
        guard let minutes, (0...59).contains(minutes) else { return nil }
        return (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension Substring {
    fileprivate func trimmedSpaces() -> Substring {
        var slice = self
        while let first = slice.first, first == " " { slice = slice.dropFirst() }
        while let last = slice.last, last == " " { slice = slice.dropLast() }
        return slice
    }
}
