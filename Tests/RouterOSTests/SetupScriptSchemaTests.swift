import Domain
import Foundation
import RouterOS
import TestSupport
import Testing

/// Every command and argument `hotspotctl router setup-script` writes exists in RouterOS 7.9 and
/// 7.22: the script is parsed as the console reads it (docs/sources.md A9: comments, line joining,
/// strings, `[…]` substitutions, `{…}` blocks, `(…)` expressions) and each command is looked up in
/// the trimmed argument trees `sandbox/routeros-inspect-<version>-setup.json`.
@Suite struct SetupScriptSchemaTests {
    static let versions = ["7.9", "7.22"]
    private static let root = SandboxProcess.repositoryRoot()

    static func tree(_ version: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent("sandbox/routeros-inspect-\(version)-setup.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func loginPage() throws -> String {
        try String(contentsOf: root.appendingPathComponent("deploy/portal/mikrotik/login.html"), encoding: .utf8)
    }

    static let hubKey = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="

    static func plan(
        server: String = "hotspot1", wireGuard: Bool = false, routerMakesKey: Bool = false, page: String? = nil,
        password: RouterSetupPlan.Password = .placeholder, zone: String? = "America/Mexico_City"
    ) -> RouterSetupPlan {
        RouterSetupPlan(
            routerID: 7, routerName: "Terraza \"norte\"", restHost: wireGuard ? "10.99.0.7" : "192.0.2.10", restPort: 443,
            apiUser: "hotspot-pay", password: password, hotspotServer: server,
            serverAddress: wireGuard ? "10.99.0.1" : "203.0.113.10", portalHost: "pay.example.com", loginPage: page,
            timeZone: zone,
            wireGuard: wireGuard
                ? RouterSetupPlan.WireGuard(
                    routerAddress: "10.99.0.7", prefixLength: 24, hubAddress: "10.99.0.1", hubEndpointHost: "hub.example.net",
                    hubEndpointPort: 51820, hubPublicKey: hubKey,
                    routerPrivateKey: routerMakesKey ? nil : "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
                    routerPublicKey: routerMakesKey ? nil : "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=")
                : nil,
            printedAt: "2026-11-25T15:42:04Z")
    }

    static func plans() throws -> [(String, RouterSetupPlan)] {
        let page = try loginPage()
        return [
            ("plain", plan(page: page)),
            ("all servers, no page, stored password", plan(server: "all", password: .value(#"p4$$ "w?rd\"#), zone: nil)),
            ("wireguard", plan(wireGuard: true, page: page)),
            ("wireguard, the router's own key", plan(server: "hs lobby", wireGuard: true, routerMakesKey: true)),
        ]
    }

    @Test(arguments: versions)
    func everyCommandAndArgumentExists(version: String) throws {
        let tree = try Self.tree(version)
        for (name, plan) in try Self.plans() {
            let script = RouterSetupScript.script(plan)
            var checker = ScriptChecker(tree: tree)
            try checker.check(script)
            #expect(checker.problems == [], "RouterOS \(version), \(name)")
            #expect(checker.commands.count >= 15, "\(name): \(checker.commands)")
        }
    }

    @Test func theScriptUsesEveryCommandOfTheCopyAndNoOther() throws {
        // The copies hold what the script writes: a command dropped from it should leave them too.
        var used: Set<String> = []
        for (_, plan) in try Self.plans() {
            var checker = ScriptChecker(tree: try Self.tree("7.22"))
            try checker.check(RouterSetupScript.script(plan))
            used.formUnion(checker.commands)
        }
        var kept: Set<String> = []
        func walk(_ node: [String: Any], _ path: String) {
            for (key, value) in node {
                guard let child = value as? [String: Any] else { continue }
                switch child["_type"] as? String {
                case "dir", "path": walk(child, path.isEmpty ? key : path + "/" + key)
                case "cmd": kept.insert(path + " " + key)
                default: break
                }
            }
        }
        walk(try Self.tree("7.22"), "")
        #expect(used == kept)
    }

    @Test func theCheckerCatchesWhatRouterOSWouldRefuse() throws {
        let tree = try Self.tree("7.22")
        for (line, problem) in [
            ("/interface wireguard peers add interface=wg keepalive=25s", "interface/wireguard/peers add: keepalive"),
            ("/ip hotspot walled-gardn add dst-host=x", "ip/hotspot: walled-gardn"),
            ("/ip service set www-ssl adress=1.2.3.4/32", "ip/service set: adress"),
            (":foreach s in=[/ip hotspot find] do={ /file set [find name=$s] content=x }", "file set: content"),
            (
                ":if ([:len [/ip firewall filter find]] > 0) do={ /ip firewall filter add chain=input acton=accept }",
                "ip/firewall/filter add: acton"
            ),
            ("/user add name=x group=y passwd=z", "user add: passwd"),
        ] {
            var checker = ScriptChecker(tree: tree)
            try checker.check(line + "\n")
            #expect(checker.problems == [problem], "\(line)")
        }
    }

    @Test func theLoginPageReadsBackByteForByte() throws {
        let page = try Self.loginPage()
        let script = RouterSetupScript.script(Self.plan(page: page))
        let start = try #require(script.range(of: ":local page "))
        let literal = try #require(ScriptChecker.stringLiteral(in: script[start.upperBound...]))
        #expect(literal == page)
        // Nothing a terminal could mangle: printable ASCII only, and no `?` (the console's help key).
        let lines = script.split(separator: "\n")
        #expect(lines.allSatisfy { $0.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "?") } })
    }

    @Test func aStoredPasswordIsQuotedSoThatItReadsBackExactly() throws {
        let password = #"p4$$ "w?rd\"#
        let script = RouterSetupScript.script(Self.plan(password: .value(password)))
        let start = try #require(script.range(of: "password="))
        #expect(try #require(ScriptChecker.stringLiteral(in: script[start.upperBound...])) == password)
        #expect(RouterSetupScript.script(Self.plan()).contains("password=\"\(RouterSetupScript.passwordPlaceholder)\""))
    }

    @Test func theScriptRestrictsRESTToTheServerOrTheTunnel() {
        let plain = RouterSetupScript.script(Self.plan())
        #expect(plain.contains("/ip service set www-ssl certificate=hotspot-pay-rest port=443 address=203.0.113.10/32 disabled=no"))
        #expect(plain.contains("/user add name=hotspot-pay group=hotspot-pay address=203.0.113.10/32"))
        #expect(plain.contains("/user group add name=hotspot-pay policy=read,write,api,rest-api"))
        #expect(plain.contains("subject-alt-name=IP:192.0.2.10"))
        #expect(!plain.contains("wireguard"))
        for host in ["pay.example.com", "cdn.conekta.io", "api.conekta.io", "barcodes.conekta.com"] {
            #expect(plain.contains("/ip hotspot walled-garden ip add action=accept dst-host=\(host) server=hotspot1"))
        }

        let tunnel = RouterSetupScript.script(Self.plan(wireGuard: true))
        #expect(tunnel.contains("address=10.99.0.1/32 disabled=no"))
        #expect(tunnel.contains("in-interface=wg-hotspot-pay"))
        #expect(tunnel.contains("allowed-address=10.99.0.0/24 persistent-keepalive=25s"))
        #expect(tunnel.contains("/ip address add address=10.99.0.7/24 interface=wg-hotspot-pay"))
        #expect(tunnel.contains("private-key=\"yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\""))
        let peer = RouterSetupScript.hubPeer(Self.plan(wireGuard: true))
        #expect(peer?.contains("[Peer]\nPublicKey = HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=\nAllowedIPs = 10.99.0.7/32\n") == true)
        #expect(RouterSetupScript.hubPeer(Self.plan()) == nil)

        let ownKey = RouterSetupScript.script(Self.plan(wireGuard: true, routerMakesKey: true))
        #expect(!ownKey.contains("private-key="))
        #expect(ownKey.contains("/interface wireguard print where name=\"wg-hotspot-pay\""))
    }
}

/// Reads a RouterOS script as the console does, far enough to name every command and argument.
struct ScriptChecker {
    let tree: [String: Any]
    /// `menu command` of each command met, such as `ip/service set` (global ones: ` if`).
    var commands: Set<String> = []
    var problems: [String] = []

    init(tree: [String: Any]) { self.tree = tree }

    struct Unreadable: Error, CustomStringConvertible {
        var description: String
    }

    /// One token: bare text, a string literal, or a group with its kind and content.
    indirect enum Part {
        case text(String)
        case string(String)
        case group(Character, [Word])
        case separator
    }

    /// Parts written without white space between them (`do={…}`, `name=$file`).
    typealias Word = [Part]

    mutating func check(_ script: String) throws {
        var reader = Reader(Array(script.unicodeScalars))
        let words = try reader.words(until: nil)
        statements(words, menu: [])
    }

    /// Runs `words` as statements (separated by `;` or a line end) at `menu`.
    mutating func statements(_ words: [Word], menu: [String]) {
        var current: [Word] = []
        for word in words + [[.separator]] {
            if word.count == 1, case .separator = word[0] {
                if !current.isEmpty { command(current, menu: menu) }
                current = []
            } else {
                current.append(word)
            }
        }
    }

    /// One command line: its path and command, then its arguments.
    mutating func command(_ words: [Word], menu: [String]) {
        // A block on its own (`{ … }`) is statements.
        if words.count == 1, words[0].count == 1, case .group("{", let inner) = words[0][0] {
            statements(inner, menu: [])
            return
        }
        var path = menu
        var index = 0
        var found: (name: String, node: [String: Any])?
        // The path: an absolute `/ip` or a global `:if`, then directory words, then the command word.
        while found == nil, index < words.count, words[index].count == 1, case .text(let text) = words[index][0] {
            var parts = text
            if text.hasPrefix("/") || text.hasPrefix(":") {
                path = []
                parts = String(text.dropFirst())
            }
            for part in parts.split(separator: "/").map(String.init) where found == nil {
                guard let child = Self.node(tree, path)?[part] as? [String: Any] else {
                    problems.append("\(path.joined(separator: "/")): \(part)")
                    return
                }
                if child["_type"] as? String == "cmd" {
                    found = (part, child)
                } else {
                    path.append(part)
                }
            }
            index += 1
        }
        guard let (name, node) = found else {
            problems.append("\(path.joined(separator: "/")): no command")
            return
        }
        let label = path.joined(separator: "/") + " " + name
        commands.insert(label)
        let arguments = Set(node.compactMap { key, value in (value as? [String: Any])?["_type"] as? String == "arg" ? key : nil })
        // `find` and `print … where` take property names, not arguments.
        var names = name != "find"
        for word in words[index...] {
            if case .text(let text) = word.first, let equals = text.firstIndex(of: "=") {
                let argument = String(text[..<equals])
                if names, !arguments.contains(argument) { problems.append("\(label.trimmingCharacters(in: .whitespaces)): \(argument)") }
            } else if word.count == 1, case .text("where") = word[0] {
                names = false
            }
            for part in word { nested(part, menu: path) }
        }
    }

    /// Commands inside a value: `[…]` at this menu, `{…}` from the root, `(…)` scanned.
    mutating func nested(_ part: Part, menu: [String]) {
        guard case .group(let kind, let words) = part else { return }
        switch kind {
        case "[": statements(words, menu: menu)
        case "{": statements(words, menu: [])
        default:
            for word in words { for inner in word { nested(inner, menu: menu) } }
        }
    }

    static func node(_ tree: [String: Any], _ path: [String]) -> [String: Any]? {
        var node: [String: Any]? = tree
        for part in path { node = node?[part] as? [String: Any] }
        return node
    }

    static func text(_ word: Word) -> String {
        word.map {
            if case .text(let text) = $0 { return text }
            return ""
        }.joined()
    }

    /// The value of the string literal that starts `text` (after optional spaces).
    static func stringLiteral(in text: Substring) -> String? {
        var reader = Reader(Array(text.unicodeScalars))
        reader.skipBlanks()
        return try? reader.string()
    }

    struct Reader {
        let scalars: [Unicode.Scalar]
        var at = 0

        init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

        var current: Unicode.Scalar? { at < scalars.count ? scalars[at] : nil }

        mutating func skipBlanks() {
            while let scalar = current {
                if scalar == " " || scalar == "\t" {
                    at += 1
                } else if scalar == "\\", at + 1 < scalars.count, scalars[at + 1] == "\n" {
                    at += 2  // line joining outside a string: white space
                } else {
                    break
                }
            }
        }

        /// Words up to `close` (or the end), line ends and `;` as separators, comments dropped.
        mutating func words(until close: Unicode.Scalar?) throws -> [Word] {
            var found: [Word] = []
            var word: Word = []
            func flush() {
                if !word.isEmpty { found.append(word) }
                word = []
            }
            while true {
                guard let scalar = current else {
                    if close != nil { throw Unreadable(description: "unclosed \(close!)") }
                    flush()
                    return found
                }
                switch scalar {
                case _ where scalar == close:
                    at += 1
                    flush()
                    return found
                case " ", "\t":
                    flush()
                    skipBlanks()
                case "\\" where at + 1 < scalars.count && scalars[at + 1] == "\n":
                    flush()
                    skipBlanks()
                case "\n", ";":
                    at += 1
                    flush()
                    found.append([.separator])
                case "#" where word.isEmpty:
                    while let next = current, next != "\n" { at += 1 }
                case "\"":
                    word.append(.string(try string()))
                case "[", "{", "(":
                    at += 1
                    let end: Unicode.Scalar = scalar == "[" ? "]" : scalar == "{" ? "}" : ")"
                    word.append(.group(Character(scalar), try words(until: end)))
                case "]", "}", ")":
                    throw Unreadable(description: "unexpected \(scalar)")
                default:
                    var text = ""
                    while let next = current, !" \t\n;\"[]{}()".unicodeScalars.contains(next) {
                        if next == "\\", at + 1 < scalars.count, scalars[at + 1] == "\n" { break }
                        text.unicodeScalars.append(next)
                        at += 1
                    }
                    if case .text(let before)? = word.last {
                        word[word.count - 1] = .text(before + text)
                    } else {
                        word.append(.text(text))
                    }
                }
            }
        }

        /// A string literal: escapes, and a line joined by `\` with the next line's indentation dropped.
        mutating func string() throws -> String {
            guard current == "\"" else { throw Unreadable(description: "not a string") }
            at += 1
            var bytes: [UInt8] = []
            while let scalar = current {
                at += 1
                switch scalar {
                case "\"": return String(decoding: bytes, as: UTF8.self)
                case "\\":
                    guard let next = current else { throw Unreadable(description: "a string ends in \\") }
                    at += 1
                    switch next {
                    case "\n":
                        while let blank = current, blank == " " || blank == "\t" { at += 1 }
                    case "n": bytes.append(0x0A)
                    case "r": bytes.append(0x0D)
                    case "t": bytes.append(0x09)
                    case "_": bytes.append(0x20)
                    case "\"", "\\", "$", "?": bytes.append(UInt8(next.value))
                    default:
                        guard let high = Self.hex(next), let low = current.flatMap(Self.hex) else {
                            throw Unreadable(description: "unknown escape \\\(next)")
                        }
                        at += 1
                        bytes.append(high << 4 | low)
                    }
                default:
                    bytes.append(contentsOf: Array(String(scalar).utf8))
                }
            }
            throw Unreadable(description: "unclosed string")
        }

        /// RouterOS's hex escapes are capital (docs/sources.md A9).
        static func hex(_ scalar: Unicode.Scalar) -> UInt8? {
            switch scalar {
            case "0"..."9": UInt8(scalar.value - 48)
            case "A"..."F": UInt8(scalar.value - 55)
            default: nil
            }
        }
    }
}
