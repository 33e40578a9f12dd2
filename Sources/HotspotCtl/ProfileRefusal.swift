import Domain

/// Why a product's profile cannot be sold on a router, in one line; nil when the router has a
/// profile of exactly that name. RouterOS resolves `profile=` by unique prefix, so `1h` would
/// silently bind users to `1hora` (docs/sources.md A4): only the exact name counts.
func profileRefusal(_ profile: String, routerID: Int64, among profiles: [HotspotProfile]) -> String? {
    let names = profiles.map(\.name)
    if names.contains(profile) { return nil }
    let similar = names.filter { $0.hasPrefix(profile) || $0.lowercased() == profile.lowercased() }.sorted()
    if !similar.isEmpty {
        return "router \(routerID) has no hotspot user profile named exactly \"\(profile)\"; "
            + "profiles that start with it: \(similar.joined(separator: ", ")) (use the exact name)"
    }
    let shown = names.sorted().prefix(20)
    return "router \(routerID) has no hotspot user profile named \"\(profile)\"; its profiles: "
        + (shown.isEmpty ? "none" : shown.joined(separator: ", ") + (names.count > shown.count ? ", …" : ""))
}
