import Domain
import Foundation
import HTTPTransport
import RouterOS
import TestSupport
import Testing

/// Every argument name the client sends exists in RouterOS 7.22's own command tree
/// (`sandbox/routeros-inspect-7.22-hotspot.json`, trimmed from tikoci/restraml), and every
/// property it filters on or asks for is one the menu prints (`sandbox/routeros-properties-7.json`).
@Suite struct InspectTreeTests {
    /// One request as RouterOS sees it: a command of a menu and the names it carries.
    struct Command: Hashable {
        var menu: String
        var command: String
    }

    private static let root = SandboxProcess.repositoryRoot().appendingPathComponent("sandbox")

    private static func loadJSON(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent(name))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The argument names of `menu`'s `command` in the inspect tree; nil when there is no such command.
    private static func arguments(_ tree: [String: Any], _ command: Command) -> Set<String>? {
        var node: Any? = (tree["ip"] as? [String: Any])?["hotspot"]
        for part in command.menu.split(separator: "/") + [Substring(command.command)] {
            node = (node as? [String: Any])?[String(part)]
        }
        guard let cmd = node as? [String: Any], cmd["_type"] as? String == "cmd" else { return nil }
        return Set(
            cmd.compactMap { name, value in (value as? [String: Any])?["_type"] as? String == "arg" ? name : nil })
    }

    /// The RouterOS command a REST request runs (docs/sources.md A3: GET print, PUT add, PATCH set,
    /// DELETE remove, POST <command>).
    static func command(of request: HTTPRequest) throws -> Command {
        let url = try #require(URLComponents(string: request.url))
        let prefix = "/rest/ip/hotspot/"
        #expect(url.percentEncodedPath.hasPrefix(prefix))
        var parts = url.percentEncodedPath.dropFirst(prefix.count).split(separator: "/").map(String.init)
        if parts.last?.hasPrefix("*") == true { parts.removeLast() }  // an .id
        switch request.method {
        case .get: return Command(menu: parts.joined(separator: "/"), command: "print")
        case .put: return Command(menu: parts.joined(separator: "/"), command: "add")
        case .patch: return Command(menu: parts.joined(separator: "/"), command: "set")
        case .delete: return Command(menu: parts.joined(separator: "/"), command: "remove")
        case .post:
            let verb = parts.popLast() ?? ""
            return Command(menu: parts.joined(separator: "/"), command: verb)
        }
    }

    /// The names in `request` that RouterOS 7.22 would not know, as `command: name`.
    static func unknownNames(in request: HTTPRequest) throws -> [String] {
        let tree = try loadJSON("routeros-inspect-7.22-hotspot.json")
        let properties = try loadJSON("routeros-properties-7.json")
        let command = try command(of: request)
        let label = "\(command.menu) \(command.command)"
        guard let arguments = arguments(tree, command) else { return ["\(label): no such command"] }
        let readable = Set(properties[command.menu] as? [String] ?? [])
        var unknown: [String] = []

        if let body = request.body {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
            for (name, value) in object {
                if name == ".proplist" {
                    // A print's body names its properties as `.proplist` (docs/sources.md A8).
                    if !arguments.contains("proplist") { unknown.append("\(label): .proplist") }
                    let names = (value as? [String]) ?? (value as? String)?.split(separator: ",").map(String.init) ?? []
                    unknown += names.filter { !readable.contains($0) }.map { "\(label) .proplist: \($0)" }
                } else if !arguments.contains(name) {
                    unknown.append("\(label): \(name)")
                }
            }
        }
        for item in URLComponents(string: request.url)?.queryItems ?? [] {
            if item.name == ".proplist" {
                if !arguments.contains("proplist") { unknown.append("\(label): .proplist") }
                unknown += (item.value ?? "").split(separator: ",").map(String.init)
                    .filter { !readable.contains($0) }.map { "\(label) .proplist: \($0)" }
            } else if !readable.contains(item.name) {
                unknown.append("\(label) filter: \(item.name)")
            }
        }
        return unknown
    }

    @Test func everyNameTheClientSendsExistsInTheInspectTree() throws {
        let transport = FakeTransport { request throws(TransportError) in
            switch request.method {
            case _ where request.method == .get || request.url.hasSuffix("/print"):
                return HTTPResponse(status: 200, headers: ["content-type": "application/json"], body: Array("[]".utf8))
            case .delete:
                return HTTPResponse(status: 204)
            default:
                let created = #"{".id":"*1","name":"PAY-8F3K2Q"}"#
                return HTTPResponse(
                    status: 200, headers: ["content-type": "application/json"], body: Array(created.utf8))
            }
        }
        let router = RouterOSClient(
            configuration: Sample.configuration(), transport: transport, limiter: RouterConcurrencyLimiter())
        _ = try router.findUser(named: "PAY-8F3K2Q")
        _ = try router.createUser(Sample.newUser(mac: Sample.mac))
        try router.setUserDisabled(id: "*1", disabled: false)
        try router.deleteUser(id: "*1")
        _ = try router.findProfile(named: "1hora")
        _ = try router.listProfiles()
        _ = try router.findHost(mac: Sample.mac, address: Sample.address)
        try router.login(user: "PAY-8F3K2Q", password: Sample.password, address: Sample.address, mac: Sample.mac)
        _ = try router.activeSessions(user: "PAY-8F3K2Q")
        _ = try router.listUsage()
        _ = try router.listActiveSessions()

        let commands = try Set(transport.requests.map(Self.command(of:)))
        #expect(
            commands == [
                Command(menu: "user", command: "print"), Command(menu: "user", command: "add"),
                Command(menu: "user", command: "set"), Command(menu: "user", command: "remove"),
                Command(menu: "user/profile", command: "print"), Command(menu: "host", command: "print"),
                Command(menu: "active", command: "login"), Command(menu: "active", command: "print"),
            ])
        for request in transport.requests {
            #expect(try Self.unknownNames(in: request) == [], "\(request.method.rawValue) \(request.url)")
        }
    }

    /// The check itself catches the mistakes it exists for (docs/sources.md A6.1: `name` and `server` are
    /// not arguments of active/login).
    @Test func theCheckRejectsNamesRouterOSDoesNotKnow() throws {
        func request(_ method: HTTPRequest.Method, _ path: String, _ body: String? = nil) -> HTTPRequest {
            HTTPRequest(
                method: method, url: "https://10.0.0.1/rest/ip/hotspot/" + path, body: body.map { Array($0.utf8) })
        }
        #expect(
            try Self.unknownNames(
                in: request(.post, "active/login", #"{"name":"u","server":"hotspot1","ip":"10.5.50.23"}"#)
            ).sorted()
                == ["active login: name", "active login: server"])
        #expect(
            try Self.unknownNames(in: request(.put, "user", #"{"name":"u","limit-uptme":"1h"}"#)) == [
                "user add: limit-uptme"
            ])
        #expect(
            try Self.unknownNames(in: request(.get, "host?mac_address=AA&.proplist=.id,hostname")) == [
                "host print filter: mac_address", "host print .proplist: hostname",
            ])
        #expect(try Self.unknownNames(in: request(.put, "host", "{}")) == ["host add: no such command"])
        #expect(
            try Self.unknownNames(in: request(.post, "user/print", #"{".proplist":[".id","uptime","bytes"],"where":"x"}"#)).sorted()
                == ["user print .proplist: bytes"])
    }
}
