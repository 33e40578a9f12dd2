import Domain
import HTTPTransport

/// The reads of a router's check (CONTRACT §13): what it runs, who may call it, what it serves.
/// Each is one GET with a `.proplist`; none changes anything.
extension RouterOSClient: RouterInspection {
    public func systemResource() throws(RouterProbeFailure) -> RouterResource {
        let call = Call(
            operation: "resource.print", method: .get, root: "system/", path: "resource",
            query: [(".proplist", "version,board-name,architecture-name,uptime")])
        let record = try probe(call) { () throws(RouterOSError) in try single(call) }
        guard let version = record["version"] else { throw .other("/system/resource without a version") }
        return RouterResource(
            version: version, boardName: record["board-name"], architecture: record["architecture-name"], uptime: record["uptime"])
    }

    public func groupOfUser(named name: String) throws(RouterProbeFailure) -> (group: String, policy: String)? {
        let users = Call(
            operation: "user.print", method: .get, root: "", path: "user", query: [("name", name), (".proplist", "name,group")])
        guard let user = try probe(users, { () throws(RouterOSError) in try list(users) }).first(where: { $0["name"] == name }),
            let group = user["group"]
        else { return nil }
        let groups = Call(
            operation: "group.print", method: .get, root: "", path: "user/group",
            query: [("name", group), (".proplist", "name,policy")])
        let found = try probe(groups) { () throws(RouterOSError) in try list(groups) }.first { $0["name"] == group }
        return (group, found?["policy"] ?? "")
    }

    public func services() throws(RouterProbeFailure) -> [RouterService] {
        let call = Call(
            operation: "service.print", method: .get, root: "ip/", path: "service",
            query: [(".proplist", "name,port,address,certificate,disabled")])
        return try probe(call) { () throws(RouterOSError) in try list(call) }.compactMap { record in
            record["name"].map {
                RouterService(
                    name: $0, port: record["port"], address: record["address"] ?? "", certificate: record["certificate"],
                    disabled: record.flag("disabled"))
            }
        }
    }

    public func hotspotServers() throws(RouterProbeFailure) -> [HotspotServer] {
        let call = Call(
            operation: "server.print", method: .get, root: "ip/", path: "hotspot",
            query: [(".proplist", "name,interface,profile,disabled")])
        return try probe(call) { () throws(RouterOSError) in try list(call) }.compactMap { record in
            record["name"].map {
                HotspotServer(name: $0, interface: record["interface"], profile: record["profile"], disabled: record.flag("disabled"))
            }
        }
    }

    public func profileNames() throws(RouterProbeFailure) -> [String] {
        let call = Call(
            operation: "profile.print", method: .get, path: "user/profile", query: [(".proplist", "name")])
        return try probe(call) { () throws(RouterOSError) in try list(call) }.compactMap { $0["name"] }
    }

    public func clock() throws(RouterProbeFailure) -> RouterClock {
        let call = Call(
            operation: "clock.print", method: .get, root: "system/", path: "clock",
            query: [(".proplist", "date,time,gmt-offset,time-zone-name")])
        let record = try probe(call) { () throws(RouterOSError) in try single(call) }
        guard let date = record["date"], let time = record["time"] else { throw .other("/system/clock without date or time") }
        return RouterClock(date: date, time: time, gmtOffset: record["gmt-offset"], timeZoneName: record["time-zone-name"])
    }

    /// `perform` for a menu of one item (`/system/resource`, `/system/clock`): an object, or a
    /// list of one as MikroTik's own example prints it (docs/sources.md A9).
    func single(_ call: Call) throws(RouterOSError) -> RouterOSRecord {
        switch try perform(call) {
        case .item(let record): return record
        case .list(let records) where records.count == 1: return records[0]
        default: throw call.failure(.malformedReply, status: 200, detail: "expected one object")
        }
    }

    private func probe<T>(_ call: Call, _ body: () throws(RouterOSError) -> T) throws(RouterProbeFailure) -> T {
        do {
            return try body()
        } catch {
            throw error.probeFailure
        }
    }
}

extension RouterOSError {
    /// What a diagnosis needs to know about this failure: how far the connection got.
    public var probeFailure: RouterProbeFailure {
        let text = detail ?? kind.rawValue
        switch kind {
        case .unreachable:
            switch transport {
            case .couldNotResolve: return .unresolvable(text)
            case .couldNotConnect: return .refused(text)
            case .timedOut: return .connectTimedOut(text)
            case .pinMismatch: return .pinMismatch(text)
            case .tlsFailure: return .tlsFailed(text)
            default: return .other(text)
            }
        case .timedOut, .connectionLost: return .timedOut(text)
        case .authenticationFailed: return .unauthorized
        case .notJSON:
            // `detail` is the reply's media type here.
            return .notREST(status: status ?? 0, mediaType: detail == "no content type" ? nil : detail)
        case .serverError, .unexpectedStatus, .badRequest:
            // RouterOS's words for a command the user's group may not run (docs/sources.md A9).
            if status == 403 || text.contains("not allowed") || text.contains("not enough permissions") {
                return .notPermitted(text)
            }
            return .other(description)
        default:
            return .other(description)
        }
    }
}
