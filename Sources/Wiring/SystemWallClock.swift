import Domain
import Glibc

/// The system clock.
struct SystemWallClock: WallClock {
    func nowMicroseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1_000
    }

    func sleep(milliseconds: Int) {
        usleep(useconds_t(milliseconds * 1_000))
    }
}
