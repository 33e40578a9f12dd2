import Testing

@testable import Domain

/// The reconciler's scheduling (issue 21 §2): which attempts go next, each router within its share,
/// and a router that is slow or does not answer holding nobody else.
@Suite struct ReconcileScheduleTests {
    typealias Schedule = ReconcileSchedule<String>

    func schedule(perRouter: Int = 2, queueTarget: Int = 8, refillBelow: Int = 4) -> Schedule {
        Schedule(
            settings: .init(
                perRouter: perRouter, queueTarget: queueTarget, refillBelow: refillBelow, holdBaseSeconds: 1, holdCeilingSeconds: 4,
                idleClaimSeconds: 2))
    }

    func jobs(_ router: Int64, _ count: Int, from first: Int = 1) -> [(routerID: Int64, job: String)] {
        (first..<(first + count)).map { (router, "r\(router)-\($0)") }
    }

    /// Hands out tickets until none is runnable.
    func drain(_ schedule: inout Schedule, now: Double = 0) -> [Schedule.Ticket] {
        var tickets: [Schedule.Ticket] = []
        while let ticket = schedule.next(now: now) { tickets.append(ticket) }
        return tickets
    }

    /// `startClaim`, which must ask for one.
    func startClaim(_ schedule: inout Schedule, now: Double) throws -> DueClaim {
        let claim = schedule.startClaim(now: now)
        return try #require(claim)
    }

    /// `finished`, which must withdraw the router's attempts.
    func withdrawn(_ schedule: inout Schedule, _ ticket: Schedule.Ticket, routerAnswered: Bool, now: Double) throws -> Schedule.Withdrawal {
        let withdrawal = schedule.finished(ticket, routerAnswered: routerAnswered, now: now)
        return try #require(withdrawal)
    }

    @Test func attemptsGoRoundTheRoutersInTheOrderTheyWereClaimed() {
        var schedule = schedule()
        schedule.add(jobs(1, 3) + jobs(2, 3) + jobs(3, 1))
        #expect(drain(&schedule).map(\.job) == ["r1-1", "r2-1", "r3-1", "r1-2", "r2-2"])
        #expect(schedule.waiting == 2 && schedule.running == 5)
    }

    @Test func aRouterRunsNoMoreThanItsShareAndTheNextGoesWhenOneEnds() {
        var schedule = schedule(perRouter: 2)
        schedule.add(jobs(1, 5))
        let first = drain(&schedule)
        #expect(first.map(\.job) == ["r1-1", "r1-2"])
        #expect(schedule.load(of: 1) == (waiting: 3, running: 2))
        #expect(schedule.finished(first[0], routerAnswered: true, now: 1) == nil)
        #expect(drain(&schedule, now: 1).map(\.job) == ["r1-3"])
        #expect(schedule.load(of: 1) == (waiting: 2, running: 2))
    }

    @Test func aThreadKeepsToItsRouterWhileThatRouterMayRunMore() {
        var schedule = schedule(perRouter: 3)
        schedule.add(jobs(1, 2) + jobs(2, 3))
        #expect(schedule.next(now: 0, preferring: 2)?.job == "r2-1")
        #expect(schedule.next(now: 0, preferring: 2)?.job == "r2-2")
        #expect(schedule.next(now: 0, preferring: 2)?.job == "r2-3")
        // Router 2 has nothing left: the ring goes on.
        #expect(schedule.next(now: 0, preferring: 2)?.job == "r1-1")
    }

    @Test func aClaimTopsTheQueueUpAndAsksNoMoreOfARouterThanItsShareLeaves() throws {
        var schedule = schedule(perRouter: 2, queueTarget: 8, refillBelow: 4)
        let first = try startClaim(&schedule, now: 0)
        #expect(first == DueClaim(limit: 8, perRouter: 2, allowances: [:]))
        // One claim at a time.
        #expect(schedule.startClaim(now: 0) == nil)
        schedule.claimed(jobs(1, 2) + jobs(2, 1) + jobs(3, 2) + jobs(4, 2) + jobs(5, 1), asked: first, now: 0)
        // Enough wait: no claim until fewer than four do.
        #expect(schedule.startClaim(now: 0) == nil)
        let running = drain(&schedule)
        #expect(running.count == 8 && schedule.waiting == 0)
        let second = try startClaim(&schedule, now: 0)
        // Routers 1, 3 and 4 run their share; 2 and 5 may take one more.
        #expect(second == DueClaim(limit: 8, perRouter: 2, allowances: [1: 0, 2: 1, 3: 0, 4: 0, 5: 1]))
    }

    @Test func aClaimThatFoundLessThanItAskedForIsNotRepeatedUntilTheIntervalOrAShareFreesUp() throws {
        var schedule = schedule(perRouter: 1, queueTarget: 4, refillBelow: 4)
        let claim = try startClaim(&schedule, now: 0)
        schedule.claimed(jobs(1, 1) + jobs(2, 1), asked: claim, now: 0)
        let tickets = drain(&schedule)
        #expect(tickets.count == 2)
        // Nothing more was due: the next claim waits out the interval...
        #expect(schedule.startClaim(now: 1) == nil)
        // ...unless a router that ran its whole share (so the claim left its other attempts) frees up.
        _ = schedule.finished(tickets[0], routerAnswered: true, now: 1)
        let again = try startClaim(&schedule, now: 1)
        #expect(again.allowances == [2: 0])
        schedule.claimed([], asked: again, now: 1)
        #expect(schedule.startClaim(now: 2.5) == nil)
        #expect(schedule.startClaim(now: 3) != nil)
    }

    @Test func aShareFreedWhileAClaimIsUnderWayIsClaimedForRightAfterIt() throws {
        var schedule = schedule(perRouter: 2, queueTarget: 4, refillBelow: 4)
        schedule.add(jobs(1, 2))
        let running = drain(&schedule)
        let claim = try startClaim(&schedule, now: 0)
        #expect(claim.allowances == [1: 0])
        // Router 1's runs end while the claim is out; the claim finds nothing else due.
        for ticket in running { _ = schedule.finished(ticket, routerAnswered: true, now: 0.1) }
        schedule.claimed([], asked: claim, now: 0.2)
        #expect(try startClaim(&schedule, now: 0.2).allowances.isEmpty)
    }

    @Test func aFailedClaimWaitsTheIntervalBeforeTheNext() {
        var schedule = schedule()
        #expect(schedule.startClaim(now: 0) != nil)
        schedule.claimFailed(now: 0)
        #expect(schedule.startClaim(now: 1.9) == nil)
        #expect(schedule.startClaim(now: 2) != nil)
    }

    @Test func aSlowRouterHoldsItsShareAndNoMoreWhileTheOthersFinish() throws {
        // Four threads; router 9 answers after ten rounds, the others in one.
        var schedule = schedule(perRouter: 2, queueTarget: 40, refillBelow: 40)
        schedule.add(jobs(9, 10) + jobs(1, 10) + jobs(2, 10))
        var running: [(ticket: Schedule.Ticket, endsAt: Int)] = []
        var finished: [Int64: Int] = [:]
        var round = 0
        while finished[1, default: 0] + finished[2, default: 0] < 20 {
            round += 1
            for (ticket, _) in running.filter({ $0.endsAt <= round }) {
                #expect(schedule.finished(ticket, routerAnswered: true, now: Double(round)) == nil)
                finished[ticket.routerID, default: 0] += 1
            }
            running.removeAll { $0.endsAt <= round }
            while running.count < 4, let ticket = schedule.next(now: Double(round)) {
                running.append((ticket, round + (ticket.routerID == 9 ? 10 : 1)))
            }
            #expect(schedule.load(of: 9).running <= 2)
            if let claim = schedule.startClaim(now: Double(round)) {
                #expect(claim.allowances[9] == 0, "a claim takes none of the slow router's while it runs its share")
                schedule.claimed([], asked: claim, now: Double(round))
            }
            try #require(round < 100)
        }
        // Two threads held by the slow router, two working through the others: 20 attempts in ~11 rounds.
        #expect(round <= 12)
        let slow = schedule.load(of: 9)
        #expect(finished[9, default: 0] <= 2 && slow.waiting + slow.running == 10 - finished[9, default: 0])
    }

    @Test func aRouterThatDoesNotAnswerIsHeldBackAndItsWaitingAttemptsWithdrawn() throws {
        var schedule = schedule(perRouter: 2)
        schedule.add(jobs(7, 5) + jobs(8, 2))
        let tickets = drain(&schedule, now: 10)
        #expect(tickets.map(\.job) == ["r7-1", "r8-1", "r7-2", "r8-2"])
        let held = try withdrawn(&schedule, tickets[0], routerAnswered: false, now: 10)
        #expect(held.routerID == 7 && held.jobs == ["r7-3", "r7-4", "r7-5"] && held.heldForSeconds == 1)
        #expect(schedule.waiting == 0 && schedule.isHeld(7, now: 10.5) && !schedule.isHeld(8, now: 10.5))
        // Router 8 is not affected.
        #expect(schedule.finished(tickets[1], routerAnswered: true, now: 10) == nil)
        // The other run on 7 gets no answer either: the hold doubles.
        let again = try withdrawn(&schedule, tickets[2], routerAnswered: false, now: 10.5)
        #expect(again.jobs.isEmpty && again.heldForSeconds == 2)
        var claim = try startClaim(&schedule, now: 12)
        #expect(claim.allowances[7] == 0)
        schedule.claimed([], asked: claim, now: 12)
        // Once the hold is over, one of its attempts at a time until it answers.
        claim = try startClaim(&schedule, now: 14.5)
        #expect(claim.allowances[7] == 1)
        schedule.claimed(jobs(7, 3, from: 6), asked: claim, now: 14.5)
        let probe = drain(&schedule, now: 14.5)
        #expect(probe.filter { $0.routerID == 7 }.map(\.job) == ["r7-6"])
        #expect(schedule.finished(probe[0], routerAnswered: true, now: 15) == nil)
        #expect(drain(&schedule, now: 15).map(\.job) == ["r7-7", "r7-8"])
    }

    @Test func theHoldStopsAtItsCeiling() throws {
        var schedule = schedule(perRouter: 1)
        var now = 0.0
        var holds: [Double] = []
        for attempt in 1...5 {
            schedule.add(jobs(3, 1, from: attempt))
            let ticket = try #require(drain(&schedule, now: now).first)
            holds.append(try withdrawn(&schedule, ticket, routerAnswered: false, now: now).heldForSeconds)
            now += holds.last!
        }
        #expect(holds == [1, 2, 4, 4, 4])
    }

    @Test func everythingWaitingIsWithdrawnWhenTheProcessStops() {
        var schedule = schedule()
        schedule.add(jobs(1, 3) + jobs(2, 1))
        let running = schedule.next(now: 0)
        #expect(running?.job == "r1-1")
        #expect(schedule.withdrawAll().sorted() == ["r1-2", "r1-3", "r2-1"])
        #expect(schedule.waiting == 0 && schedule.running == 1 && schedule.next(now: 0) == nil)
    }
}
