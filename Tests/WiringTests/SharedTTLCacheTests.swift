import Domain
import Foundation
import Synchronization
import Testing

@testable import Wiring

@Suite struct SharedTTLCacheTests {
    @Test func manyThreadsShareOneLoadWithinTheTTL() throws {
        let cache = SharedTTLCache<Int64, String>(ttlSeconds: 60)
        let loads = Atomic<Int>(0)
        _ = try cache.value(for: 1) { () throws(StoreFailure) in
            loads.add(1, ordering: .relaxed)
            return "uno"
        }
        DispatchQueue.concurrentPerform(iterations: 64) { _ in
            let value = try? cache.value(for: 1) { () throws(StoreFailure) in
                loads.add(1, ordering: .relaxed)
                return "otro"
            }
            #expect(value == "uno")
        }
        #expect(loads.load(ordering: .relaxed) == 1)
    }

    @Test func aZeroTTLAlwaysLoadsAndAFailedLoadIsNotCached() throws {
        let uncached = SharedTTLCache<Int64, Int>(ttlSeconds: 0)
        var loads = 0
        for _ in 0..<3 {
            _ = try uncached.value(for: 1) { () throws(StoreFailure) in
                loads += 1
                return loads
            }
        }
        #expect(loads == 3)
        let cache = SharedTTLCache<Int64, Int>(ttlSeconds: 60)
        #expect(throws: StoreFailure.unavailable) {
            try cache.value(for: 2) { () throws(StoreFailure) -> Int in throw .unavailable }
        }
        #expect(try cache.value(for: 2) { () throws(StoreFailure) in 7 } == 7)
    }

    @Test func itStaysBoundedWhenFull() throws {
        let cache = SharedTTLCache<Int64, Int64>(ttlSeconds: 60, capacity: 4)
        for key in Int64(0)..<10 { _ = try cache.value(for: key) { () throws(StoreFailure) in key } }
        var reloaded: [Int64] = []
        for key: Int64 in [9, 0] {
            _ = try cache.value(for: key) { () throws(StoreFailure) in
                reloaded.append(key)
                return key
            }
        }
        #expect(reloaded == [0], "the newest entry stays; the oldest was dropped when the cache filled")
    }
}

@Suite struct ThreadCacheTests {
    @Test func aThreadKeepsAnEntryOnlyAsLongAsTheSharedOne() throws {
        let shared = SharedTTLCache<Int64, String>(ttlSeconds: 0.2)
        let local = ThreadCache(shared)
        var loads = 0
        func read() throws -> String {
            try local.value(for: 1) { () throws(StoreFailure) in
                loads += 1
                return "v\(loads)"
            }
        }
        #expect(try read() == "v1")
        #expect(try read() == "v1")
        // Another thread sees the shared entry without loading.
        #expect(try ThreadCache(shared).value(for: 1) { () throws(StoreFailure) in "other" } == "v1")
        Thread.sleep(forTimeInterval: 0.25)
        #expect(try read() == "v2")
        #expect(loads == 2)
    }

    @Test func nothingIsKeptWhenTheSharedCacheIsOff() throws {
        let local = ThreadCache(SharedTTLCache<Int64, Int>(ttlSeconds: 0))
        var loads = 0
        for _ in 0..<3 {
            _ = try local.value(for: 1) { () throws(StoreFailure) in
                loads += 1
                return loads
            }
        }
        #expect(loads == 3)
    }
}

@Suite struct OncePerRouterTests {
    @Test func eachRouterIsFirstOnce() {
        let once = OncePerRouter()
        #expect(once.first(1))
        #expect(!once.first(1))
        #expect(once.first(2))
        #expect(!once.first(2) && !once.first(1))
    }
}
