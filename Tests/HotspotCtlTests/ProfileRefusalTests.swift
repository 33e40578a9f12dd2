import Domain
import Testing

@testable import HotspotCtl

@Suite struct ProfileRefusalTests {
    let router = ["default", "1hora", "1h-premium", "5Mbps"].enumerated().map { HotspotProfile(id: "*\($0.offset)", name: $0.element) }

    @Test func theExactNameIsAccepted() {
        #expect(profileRefusal("1hora", routerID: 1, among: router) == nil)
        #expect(profileRefusal("5Mbps", routerID: 1, among: router) == nil)
    }

    @Test func aPrefixIsRefusedNamingTheProfilesThatStartWithIt() {
        #expect(
            profileRefusal("1h", routerID: 3, among: router)
                == "router 3 has no hotspot user profile named exactly \"1h\"; profiles that start with it: 1h-premium, 1hora (use the exact name)"
        )
        #expect(profileRefusal("5mbps", routerID: 3, among: router)?.contains("profiles that start with it: 5Mbps") == true)
    }

    @Test func anUnknownNameIsRefusedNamingTheRoutersProfiles() {
        #expect(
            profileRefusal("2horas", routerID: 1, among: router)
                == "router 1 has no hotspot user profile named \"2horas\"; its profiles: 1h-premium, 1hora, 5Mbps, default")
        #expect(profileRefusal("x", routerID: 1, among: []) == "router 1 has no hotspot user profile named \"x\"; its profiles: none")
    }
}
