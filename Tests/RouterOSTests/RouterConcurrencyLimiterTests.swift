import Dispatch
import Domain
import Synchronization
import Testing

@testable import RouterOS

@Suite(.timeLimit(.minutes(5)))
struct RouterConcurrencyLimiterTests {
    /// Runs `body` on another thread holding one of `router`'s permits until `release` is signalled.
    private func holdPermit(
        _ limiter: RouterConcurrencyLimiter, router: String, release: DispatchSemaphore
    )
        -> DispatchSemaphore
    {
        let held = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = try? limiter.withPermit(router: router, operation: "test.hold") { () throws(RouterOSError) in
                held.signal()
                release.wait()
            }
            finished.signal()
        }
        held.wait()
        return finished
    }

    @Test func aFullRouterAnswersBusyAfterTheBoundedWait() throws {
        let limiter = RouterConcurrencyLimiter(maxConcurrentCallsPerRouter: 2, maxWait: .milliseconds(150))
        let release = DispatchSemaphore(value: 0)
        let first = holdPermit(limiter, router: "r1", release: release)
        let second = holdPermit(limiter, router: "r1", release: release)
        #expect(limiter.callsInFlight(router: "r1") == 2)

        let clock = ContinuousClock()
        let start = clock.now
        let error = routerOSError {
            try limiter.withPermit(router: "r1", operation: "user.print") { () throws(RouterOSError) in 1 }
        }
        let waited = clock.now - start
        #expect(error?.kind == .busy)
        #expect(error?.operation == "user.print")
        #expect(error?.routerFailure == .busy)
        #expect(waited >= .milliseconds(150))
        #expect(waited < .seconds(1))

        // Another router is not affected.
        #expect(try limiter.withPermit(router: "r2", operation: "user.print") { () throws(RouterOSError) in 7 } == 7)

        release.signal()
        release.signal()
        first.wait()
        second.wait()
        #expect(limiter.callsInFlight(router: "r1") == 0)
    }

    @Test func aWaiterGetsThePermitWhenItFreesUpInTime() throws {
        let limiter = RouterConcurrencyLimiter(maxConcurrentCallsPerRouter: 1, maxWait: .seconds(5))
        let release = DispatchSemaphore(value: 0)
        let holder = holdPermit(limiter, router: "r1", release: release)
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(100)) { release.signal() }
        let clock = ContinuousClock()
        let start = clock.now
        #expect(
            try limiter.withPermit(router: "r1", operation: "user.add") { () throws(RouterOSError) in "ok" } == "ok")
        #expect(clock.now - start < .seconds(4))
        holder.wait()
    }

    @Test func thePermitIsReturnedWhenTheBodyThrows() {
        let limiter = RouterConcurrencyLimiter(maxConcurrentCallsPerRouter: 1, maxWait: .milliseconds(10))
        let thrown = routerOSError {
            try limiter.withPermit(router: "r1", operation: "user.add") { () throws(RouterOSError) in
                throw RouterOSError(kind: .timedOut, operation: "user.add", maybeApplied: true)
            }
        }
        #expect(thrown?.kind == .timedOut)
        #expect(limiter.callsInFlight(router: "r1") == 0)
        #expect(
            (try? limiter.withPermit(router: "r1", operation: "user.add") { () throws(RouterOSError) in true }) == true)
    }

    @Test func neverMoreThanTheCapInFlight() {
        let limiter = RouterConcurrencyLimiter(maxConcurrentCallsPerRouter: 1, maxWait: .seconds(10))
        let peak = Mutex((current: 0, highest: 0))
        DispatchQueue.concurrentPerform(iterations: 24) { _ in
            _ = try? limiter.withPermit(router: "r1", operation: "user.print") { () throws(RouterOSError) in
                peak.withLock {
                    $0.current += 1; $0.highest = max($0.highest, $0.current)
                }
                usleepMilliseconds(5)
                peak.withLock { $0.current -= 1 }
            }
        }
        #expect(peak.withLock { $0.highest } == 1)
        #expect(limiter.callsInFlight(router: "r1") == 0)
    }
}

private func usleepMilliseconds(_ milliseconds: Int) {
    let semaphore = DispatchSemaphore(value: 0)
    _ = semaphore.wait(timeout: .now() + .milliseconds(milliseconds))
}
