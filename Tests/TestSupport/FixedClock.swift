import Domain

/// A clock stopped at `nowMicroseconds` (by default 2023-11-14T22:13:20Z); `sleep` returns at once.
public struct FixedClock: WallClock {
    public var microseconds: Int64

    public init(microseconds: Int64 = 1_700_000_000_000_000) {
        self.microseconds = microseconds
    }

    public func nowMicroseconds() -> Int64 { microseconds }
    public func sleep(milliseconds: Int) {}
}
