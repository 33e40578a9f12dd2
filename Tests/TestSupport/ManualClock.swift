import Domain
import Synchronization

/// A clock that moves only when told to, or by what its callers sleep (each sleep is kept), so a
/// test can see a service's pacing and let time pass between its passes.
public final class ManualClock: WallClock {
    private let state: Mutex<(now: Int64, sleeps: [Int])>

    /// Starts at `seconds` (by default 2023-11-14T22:13:20Z, as `FixedClock`).
    public init(seconds: Int64 = 1_700_000_000) {
        state = Mutex((seconds * 1_000_000, []))
    }

    public func nowMicroseconds() -> Int64 { state.withLock { $0.now } }

    public func sleep(milliseconds: Int) {
        state.withLock {
            $0.now += Int64(milliseconds) * 1_000
            $0.sleeps.append(milliseconds)
        }
    }

    public func advance(seconds: Int64) {
        state.withLock { $0.now += seconds * 1_000_000 }
    }

    /// Every sleep so far, in milliseconds.
    public var sleeps: [Int] { state.withLock { $0.sleeps } }
}
