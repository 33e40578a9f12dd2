import Testing

@testable import Domain

@Suite struct VerifiedProfilesTests {
    @Test func anExpiredProfileIsRecheckedByOneCallerWhileTheOthersKeepTrustingIt() {
        let profiles = VerifiedProfiles()
        #expect(!profiles.trusts("1hora", routerID: 7, now: 100))
        profiles.found("1hora", routerID: 7, until: 160)
        #expect(profiles.trusts("1hora", routerID: 7, now: 159))
        #expect(!profiles.trusts("1dia", routerID: 7, now: 159))
        #expect(!profiles.trusts("1hora", routerID: 8, now: 159))
        // The period ends: the first caller looks again, the others trust it for the grace.
        #expect(!profiles.trusts("1hora", routerID: 7, now: 160, recheckSeconds: 5))
        #expect(profiles.trusts("1hora", routerID: 7, now: 161, recheckSeconds: 5))
        #expect(profiles.trusts("1hora", routerID: 7, now: 164, recheckSeconds: 5))
        // Nobody confirmed it within the grace: the next caller looks again.
        #expect(!profiles.trusts("1hora", routerID: 7, now: 165, recheckSeconds: 5))
        profiles.found("1hora", routerID: 7, until: 225)
        #expect(profiles.trusts("1hora", routerID: 7, now: 200))
        // A check that finds it missing ends the trust at once.
        profiles.forget("1hora", routerID: 7)
        #expect(!profiles.trusts("1hora", routerID: 7, now: 200))
    }
}
