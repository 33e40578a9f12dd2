import Domain
import HTTPTransport

/// A MikroTik router's hotspot menus over RouterOS v7 REST (`/rest/ip/hotspot/…`).
///
/// Build one per request from the router's `Configuration`, the calling thread's transport and the
/// process's `RouterConcurrencyLimiter`; it is not `Sendable` because the transport is per thread.
/// Every call holds one of the router's permits while it runs, never retries, and throws only
/// `RouterOSError`. The Domain uses it through `HotspotUserDirectory`.
public struct RouterOSClient {
    /// How to reach and talk to one router.
    public struct Configuration: Sendable {
        /// The router's key in the concurrency limiter; any stable name.
        public var routerID: String
        /// Scheme, host and optional port, such as `https://10.0.0.1` or `https://10.0.0.1:8443`.
        public var baseURL: String
        /// A RouterOS user with the `rest-api` (and read/write) policies.
        public var credentials: BasicAuth
        /// How the router's certificate is checked: `.caFile` or `.pinnedPublicKey`.
        /// `.insecure` must come only from an explicit operator flag; see `isInsecure`.
        public var tls: TLSTrust
        /// Connect and total timeouts, kept well under RouterOS's 60 s cut-off (docs/sources.md A1).
        public var timeouts: Timeouts
        /// The hotspot server users are looked up on (`all` for every server).
        public var hotspotServer: String
        /// Larger replies fail; a hotspot print of a few records is a few KiB.
        public var maxResponseBytes: Int
        /// Timeouts of the two listings of a whole router (`listUsage`, `listActiveSessions`): a
        /// router with tens of thousands of users takes seconds to print them all.
        public var listingTimeouts: Timeouts
        /// Larger listings fail: about 200 bytes a user, so 64 MiB holds some 300,000.
        public var maxListingBytes: Int

        /// 2 s to connect, 8 s in total.
        public static let defaultTimeouts = Timeouts(connectMilliseconds: 2_000, totalMilliseconds: 8_000)

        /// - Parameter listingTimeouts: by default `timeouts`' connect timeout and at least 30 s in
        ///   all, half of RouterOS's 60 s cut-off (docs/sources.md A1).
        public init(
            routerID: String, baseURL: String, credentials: BasicAuth, tls: TLSTrust,
            timeouts: Timeouts = Configuration.defaultTimeouts, hotspotServer: String = "all",
            maxResponseBytes: Int = 1 << 20, listingTimeouts: Timeouts? = nil, maxListingBytes: Int = 64 << 20
        ) {
            self.routerID = routerID
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.credentials = credentials
            self.tls = tls
            self.timeouts = timeouts
            self.hotspotServer = hotspotServer
            self.maxResponseBytes = maxResponseBytes
            self.listingTimeouts =
                listingTimeouts
                ?? Timeouts(
                    connectMilliseconds: timeouts.connectMilliseconds, totalMilliseconds: max(timeouts.totalMilliseconds, 30_000))
            self.maxListingBytes = maxListingBytes
        }

        /// True when the router's identity is not verified (`.insecure`) or the API is plain HTTP:
        /// the wiring (`PaymentWiring`) logs a warning for such a router.
        public var isInsecure: Bool { tls == .insecure || !baseURL.lowercased().hasPrefix("https://") }
    }

    public let configuration: Configuration
    private let transport: any HTTPTransport
    private let limiter: RouterConcurrencyLimiter

    public init(configuration: Configuration, transport: any HTTPTransport, limiter: RouterConcurrencyLimiter) {
        self.configuration = configuration
        self.transport = transport
        self.limiter = limiter
    }

    // MARK: Users

    /// The user with exactly `name` on the configured hotspot server, or nil
    /// (`GET /rest/ip/hotspot/user?name=…&server=…`). The password is not requested.
    public func printUser(named name: String) throws(RouterOSError) -> HotspotUser? {
        let call = Call(
            operation: "user.print", method: .get, path: "user",
            query: [("name", name), ("server", configuration.hotspotServer), (".proplist", Properties.user)])
        // Filter again here: a filter the router ignored must not turn into "the first user".
        let matches = try list(call).filter { $0["name"] == name && $0["server"] == configuration.hotspotServer }
        guard matches.count <= 1 else {
            throw call.failure(.malformedReply, detail: "\(matches.count) users with one name")
        }
        return try matches.first.map { record throws(RouterOSError) in try Self.user(from: record, call) }
    }

    /// Creates a user (`PUT /rest/ip/hotspot/user`) and returns it as the router stored it.
    ///
    /// RouterOS resolves `profile` by unique prefix, so compare the returned profile with the one
    /// asked for (docs/sources.md A4).
    public func addUser(_ user: NewHotspotUser) throws(RouterOSError) -> HotspotUser {
        var fields: [(name: String, value: String)] = [
            ("name", user.name), ("password", user.password), ("profile", user.profile),
            ("server", user.server), ("disabled", user.disabled ? "true" : "false"), ("comment", user.comment),
        ]
        if let mac = user.macAddress { fields.append(("mac-address", mac.value)) }
        if let uptime = user.limitUptime { fields.append(("limit-uptime", uptime)) }
        if let bytes = user.limitBytesTotal { fields.append(("limit-bytes-total", String(bytes))) }
        // Another copy of the create is harmless: RouterOS refuses a second user of the same name
        // on a server ("already have user with this name", `.duplicateName`), and the saga then
        // finds its own user by its comment. So a create may reuse a kept-alive connection (no TCP
        // and TLS handshake per payment) although libcurl may send it again there.
        let call = Call(
            operation: "user.add", method: .put, path: "user", body: fields, secret: user.password, resendable: true)
        let record: RouterOSRecord
        switch try perform(call) {
        case .item(let item): record = item
        case .list(let items) where items.count == 1: record = items[0]
        default:
            throw call.failure(
                .malformedReply, status: 200, detail: "no created object in the reply", maybeApplied: true)
        }
        return try Self.user(from: record, call)
    }

    /// Enables or disables a user (`PATCH /rest/ip/hotspot/user/*ID`).
    /// - Throws: `.noSuchItem` when no user has that `.id`.
    public func setUser(id: String, disabled: Bool) throws(RouterOSError) {
        let call = Call(
            operation: "user.set", method: .patch, path: "user/" + (try Self.checked(id, "user.set")),
            body: [("disabled", disabled ? "true" : "false")])
        // The reply is the updated object or, per one report, `[]` (docs/sources.md A3); either will do.
        _ = try perform(call)
    }

    /// Deletes a user (`DELETE /rest/ip/hotspot/user/*ID`); a user that is already gone counts as
    /// deleted.
    public func removeUser(id: String) throws(RouterOSError) {
        let call = Call(
            operation: "user.remove", method: .delete, path: "user/" + (try Self.checked(id, "user.remove")))
        do throws(RouterOSError) {
            _ = try perform(call)
        } catch  where error.kind == .noSuchItem {
            return
        }
    }

    // MARK: Profiles

    /// The user profile named exactly `name`, or nil (`GET …/user/profile?name=…`).
    public func printProfile(named name: String) throws(RouterOSError) -> HotspotProfile? {
        let call = Call(
            operation: "profile.print", method: .get, path: "user/profile",
            query: [("name", name), (".proplist", Properties.profile)])
        return try list(call).first { $0["name"] == name }.map { record throws(RouterOSError) in
            try Self.profile(from: record, call)
        }
    }

    /// Every user profile (`GET …/user/profile`).
    public func printProfiles() throws(RouterOSError) -> [HotspotProfile] {
        let call = Call(
            operation: "profile.print", method: .get, path: "user/profile", query: [(".proplist", Properties.profile)])
        var profiles: [HotspotProfile] = []
        for record in try list(call) { profiles.append(try Self.profile(from: record, call)) }
        return profiles
    }

    // MARK: Hosts and sessions

    /// The hotspot host with this MAC and/or address (both must match when both are given), or nil
    /// (`GET …/host?mac-address=…&address=…`).
    /// - Throws: `.invalidArgument` when neither is given; `.malformedReply` when several match.
    public func printHost(mac: MACAddress?, address: IPv4Address?) throws(RouterOSError) -> HotspotHost? {
        var query: [(String, String)] = []
        if let mac { query.append(("mac-address", mac.value)) }
        if let address { query.append(("address", address.value)) }
        guard !query.isEmpty else {
            throw RouterOSError(kind: .invalidArgument, operation: "host.print", detail: "neither MAC nor address")
        }
        query.append((".proplist", Properties.host))
        let call = Call(operation: "host.print", method: .get, path: "host", query: query)
        let matches = try list(call).filter {
            (mac == nil || $0["mac-address"] == mac?.value) && (address == nil || $0["address"] == address?.value)
        }
        guard matches.count <= 1 else { throw call.failure(.malformedReply, detail: "\(matches.count) hosts match") }
        return try matches.first.map { record throws(RouterOSError) in try Self.host(from: record, call) }
    }

    /// Logs a device in server-side (`POST /rest/ip/hotspot/active/login`, arguments `user`,
    /// `password`, `ip`, `mac-address`; there is no `name` nor `server`, docs/sources.md A6.1).
    /// - Throws: `.unknownHost` when the router has no host with that address; `.loginRejected`
    ///   with the router's reason for any other refusal.
    public func activeLogin(
        user: String, password: String, address: IPv4Address, mac: MACAddress?
    )
        throws(RouterOSError)
    {
        var fields: [(name: String, value: String)] = [("user", user), ("password", password), ("ip", address.value)]
        if let mac { fields.append(("mac-address", mac.value)) }
        let call = Call(operation: "active.login", method: .post, path: "active/login", body: fields, secret: password)
        _ = try perform(call)
    }

    /// The active sessions of `user` (`GET …/active?user=…`).
    public func printActive(user: String) throws(RouterOSError) -> [ActiveSession] {
        let call = Call(
            operation: "active.print", method: .get, path: "active",
            query: [("user", user), (".proplist", Properties.active)])
        var sessions: [ActiveSession] = []
        for record in try list(call) where record["user"] == user {
            guard let id = record[".id"], let address = record["address"], let mac = record["mac-address"] else {
                throw call.failure(.malformedReply, detail: "active session without .id, address or mac-address")
            }
            sessions.append(
                ActiveSession(id: id, user: user, address: address, macAddress: mac, server: record["server"]))
        }
        return sessions
    }

    // MARK: Whole-router listings

    /// Every hotspot user with its usage, whatever its server (`POST /rest/ip/hotspot/user/print`
    /// with a `.proplist`): one call for the whole table, never a password. RouterOS's REST has
    /// no pattern filter, so the caller picks its users by comment (docs/sources.md A8).
    public func printUsage() throws(RouterOSError) -> [HotspotUserUsage] {
        let call = Call(
            operation: "user.list", method: .post, path: "user/print", proplist: Properties.usage, listing: true)
        var users: [HotspotUserUsage] = []
        let records = try list(call)
        users.reserveCapacity(records.count)
        for record in records { users.append(try Self.usage(from: record, call)) }
        return users
    }

    /// Every active session of the router (`POST /rest/ip/hotspot/active/print` with a
    /// `.proplist`), with its uptime.
    public func printActiveSessions() throws(RouterOSError) -> [ActiveSession] {
        let call = Call(
            operation: "active.list", method: .post, path: "active/print", proplist: Properties.activeUsage, listing: true)
        var sessions: [ActiveSession] = []
        for record in try list(call) {
            guard let id = record[".id"], let user = record["user"] else {
                throw call.failure(.malformedReply, detail: "active session without .id or user")
            }
            sessions.append(
                ActiveSession(
                    id: id, user: user, address: record["address"] ?? "", macAddress: record["mac-address"] ?? "",
                    server: record["server"], uptimeSeconds: record["uptime"].flatMap(RouterOSInterval.seconds)))
        }
        return sessions
    }

    /// Ends an active session (`DELETE /rest/ip/hotspot/active/*ID`); a session that has ended
    /// already (404) counts as ended, as a user already deleted does for `removeUser`.
    public func removeActive(id: String) throws(RouterOSError) {
        let call = Call(
            operation: "active.remove", method: .delete, path: "active/" + (try Self.checked(id, "active.remove")))
        do throws(RouterOSError) {
            _ = try perform(call)
        } catch  where error.kind == .noSuchItem {
            return
        }
    }
}

// MARK: - One exchange

extension RouterOSClient {
    /// One REST call: what to send and how to name it in errors.
    struct Call {
        var operation: String
        var method: HTTPRequest.Method
        /// The menu the path is under: `ip/hotspot/` for the hotspot's, `system/`, `ip/`, or empty.
        var root = "ip/hotspot/"
        /// Under `/rest/` + `root`, with `.id`s literal (`user/*1A`).
        var path: String
        var query: [(String, String)] = []
        var body: [(name: String, value: String)]? = nil
        /// A password in the body, never to appear in an error's detail.
        var secret: String? = nil
        /// Whether the call may go on a kept-alive connection (`HTTPRequest.resendable`); nil for
        /// the method's default.
        var resendable: Bool? = nil
        /// For a `POST …/print`: the properties asked for, sent as the body's `.proplist` array.
        var proplist: [String]? = nil
        /// A whole-router listing: the listing timeouts and size limit apply.
        var listing = false

        /// A `POST …/print` changes nothing; every other verb but GET may.
        var isMutation: Bool { method != .get && proplist == nil }

        func failure(
            _ kind: RouterOSError.Kind, status: Int? = nil, detail: String? = nil, maybeApplied: Bool = false
        )
            -> RouterOSError
        {
            RouterOSError(
                kind: kind, operation: operation, status: status,
                detail: detail.map { RouterOSError.loggable($0, redacting: [secret].compactMap { $0 }) },
                maybeApplied: maybeApplied)
        }
    }

    /// The properties each print asks for (`.proplist`): only what the Domain reads, and never a
    /// user's password, which a full GET returns in clear (docs/sources.md A4).
    enum Properties {
        static let user = ".id,name,profile,server,disabled,comment,mac-address"
        static let profile = ".id,name,rate-limit,session-timeout,shared-users"
        static let host = ".id,mac-address,address,to-address,server,authorized"
        static let active = ".id,user,address,mac-address,server"
        /// What the sweep reads of every user: who it is, whose it is, what it used and may use.
        static let usage = [
            ".id", "name", "comment", "disabled", "uptime", "bytes-in", "bytes-out", "limit-uptime", "limit-bytes-total",
        ]
        static let activeUsage = [".id", "user", "address", "mac-address", "server", "uptime"]
    }

    func request(for call: Call) -> HTTPRequest {
        var url = configuration.baseURL + "/rest/" + call.root + call.path
        if !call.query.isEmpty {
            let pairs = call.query.map { name, value in
                // `.proplist` keeps its commas, as in MikroTik's own examples (docs/sources.md A3).
                name + "=" + QueryEncoding.encode(value, keeping: name == ".proplist" ? [UInt8(ascii: ",")] : [])
            }
            url += "?" + pairs.joined(separator: "&")
        }
        var headers = [Header("Accept", "application/json")]
        var body: [UInt8]?
        if let fields = call.body {
            headers.append(Header("Content-Type", "application/json"))
            body = RouterOSJSON.object(fields)
        } else if let proplist = call.proplist {
            headers.append(Header("Content-Type", "application/json"))
            body = RouterOSJSON.object([(".proplist", proplist)])
        }
        return HTTPRequest(
            method: call.method, url: url, headers: headers, body: body, basicAuth: configuration.credentials,
            tls: configuration.tls, timeouts: call.listing ? configuration.listingTimeouts : configuration.timeouts,
            maxResponseBytes: call.listing ? configuration.maxListingBytes : configuration.maxResponseBytes,
            resendable: call.resendable ?? (call.isMutation ? nil : true))
    }

    /// Sends `call` holding a permit and returns the reply's JSON; nil for an empty 2xx body.
    func perform(_ call: Call) throws(RouterOSError) -> RouterOSPayload? {
        let request = request(for: call)
        let response = try limiter.withPermit(router: configuration.routerID, operation: call.operation) {
            () throws(RouterOSError) -> HTTPResponse in
            do throws(TransportError) {
                return try transport.send(request)
            } catch {
                throw Self.failure(error, call)
            }
        }
        return try Self.interpret(response, call)
    }

    /// `perform` for a print: the reply must be a list.
    func list(_ call: Call) throws(RouterOSError) -> [RouterOSRecord] {
        switch try perform(call) {
        case .list(let records): return records
        case .item, nil: throw call.failure(.malformedReply, status: 200, detail: "expected a JSON array")
        }
    }

    static func failure(_ error: TransportError, _ call: Call) -> RouterOSError {
        var failure: RouterOSError
        if error.requestSent {
            let kind: RouterOSError.Kind = error.kind == .timedOut ? .timedOut : .connectionLost
            failure = call.failure(kind, detail: "\(error.kind.rawValue): \(error.message)", maybeApplied: call.isMutation)
        } else {
            failure = call.failure(.unreachable, detail: "\(error.kind.rawValue): \(error.message)")
        }
        failure.transport = error.kind
        return failure
    }

    static func interpret(_ response: HTTPResponse, _ call: Call) throws(RouterOSError) -> RouterOSPayload? {
        let status = response.status
        let isJSON = response.mediaType == "application/json"
        if (200..<300).contains(status) {
            if response.body.isEmpty { return nil }
            // A 2xx HTML page is WebFig or a captive portal, not the REST API (docs/sources.md A2).
            guard isJSON else {
                throw call.failure(.notJSON, status: status, detail: response.mediaType ?? "no content type")
            }
            guard let payload = RouterOSPayload.decode(from: response.body) else {
                throw call.failure(
                    .malformedReply, status: status, detail: "undecodable JSON", maybeApplied: call.isMutation)
            }
            return payload
        }
        if (500..<600).contains(status) {
            // RouterOS itself answers 2xx/400/401/404/406 (docs/sources.md A3); a 5xx comes from something
            // in between, so a mutation's fate is unknown. One RouterOS 500 is known, a read its user's
            // group may not make (docs/sources.md A9): its detail is kept.
            let detail = isJSON ? RouterOSErrorBody.decode(from: response.body)?.detail : nil
            throw call.failure(.serverError, status: status, detail: detail, maybeApplied: call.isMutation)
        }
        if status == 401 { throw call.failure(.authenticationFailed, status: status) }
        guard isJSON, let body = RouterOSErrorBody.decode(from: response.body) else {
            // An HTML 404 from a wrong URL must not read as "no such item" (and so as deleted).
            throw call.failure(.notJSON, status: status, detail: response.mediaType ?? "no content type")
        }
        let detail = body.detail ?? body.message
        switch status {
        case 404: throw call.failure(.noSuchItem, status: status, detail: detail)
        case 400:
            throw call.failure(
                kind(of: detail ?? "", call), status: status, detail: detail,
                maybeApplied: call.isMutation && detail == "Session closed")
        default: throw call.failure(.unexpectedStatus, status: status, detail: detail)
        }
    }

    /// The typed meaning of a 400's `detail` (docs/sources.md A1, A4, A6.1).
    static func kind(of detail: String, _ call: Call) -> RouterOSError.Kind {
        // "failure: already have user with this name for this server"; matched loosely for a
        // create, whose copies libcurl may resend (addUser): a reworded refusal must still read as
        // "the name exists", so that the saga looks its own user up.
        if detail.contains("already have user with this name") || (call.operation == "user.add" && detail.contains("already have")) {
            return .duplicateName
        }
        if detail.hasPrefix("input does not match any value of profile") { return .profileNotFound }
        if detail.hasPrefix("ambiguous value of profile") { return .profileAmbiguous }
        if detail == "no such item" { return .noSuchItem }
        if detail.hasPrefix("unknown parameter") { return .unknownParameter }
        if detail == "Session closed" { return .sessionClosed }
        if call.operation == "active.login" {
            return detail.hasPrefix("unknown host IP") ? .unknownHost : .loginRejected
        }
        return .badRequest
    }

    /// `.id`s go into paths literally (`*1A`, not `%2A1A`, docs/sources.md A2), so anything else is refused.
    static func checked(_ id: String, _ operation: String) throws(RouterOSError) -> String {
        let digits = id.utf8.dropFirst()
        guard id.utf8.first == UInt8(ascii: "*"), !digits.isEmpty,
            digits.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 70) || ($0 >= 97 && $0 <= 102) })
        else {
            throw RouterOSError(kind: .invalidArgument, operation: operation, detail: "not a RouterOS .id")
        }
        return id
    }

    // MARK: Records to Domain values

    static func user(from record: RouterOSRecord, _ call: Call) throws(RouterOSError) -> HotspotUser {
        guard let id = record[".id"], let name = record["name"] else {
            throw call.failure(.malformedReply, detail: "user without .id or name", maybeApplied: call.isMutation)
        }
        return HotspotUser(
            id: id, name: name, profile: record["profile"] ?? "default", server: record["server"] ?? "all",
            disabled: record.flag("disabled"), comment: record["comment"] ?? "", macAddress: record["mac-address"])
    }

    /// A user's usage. A counter that is absent or unreadable is nil (never guessed as 0 or as
    /// used up); a limit of 0 is no limit (docs/sources.md A4).
    static func usage(from record: RouterOSRecord, _ call: Call) throws(RouterOSError) -> HotspotUserUsage {
        guard let id = record[".id"], let name = record["name"] else {
            throw call.failure(.malformedReply, detail: "user without .id or name")
        }
        return HotspotUserUsage(
            id: id, name: name, comment: record["comment"] ?? "", disabled: record.flag("disabled"),
            uptimeSeconds: record["uptime"].flatMap(RouterOSInterval.seconds), bytesIn: record["bytes-in"].flatMap(count),
            bytesOut: record["bytes-out"].flatMap(count),
            limitUptimeSeconds: record["limit-uptime"].flatMap(RouterOSInterval.seconds).flatMap { $0 > 0 ? $0 : nil },
            limitBytesTotal: record["limit-bytes-total"].flatMap(count).flatMap { $0 > 0 ? $0 : nil })
    }

    /// A byte count as RouterOS prints it: decimal digits (docs/sources.md A2).
    static func count(_ text: String) -> Int64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int64(text)
    }

    static func profile(from record: RouterOSRecord, _ call: Call) throws(RouterOSError) -> HotspotProfile {
        guard let id = record[".id"], let name = record["name"] else {
            throw call.failure(.malformedReply, detail: "profile without .id or name")
        }
        return HotspotProfile(
            id: id, name: name, rateLimit: record["rate-limit"], sessionTimeout: record["session-timeout"],
            sharedUsers: record["shared-users"])
    }

    static func host(from record: RouterOSRecord, _ call: Call) throws(RouterOSError) -> HotspotHost {
        guard let id = record[".id"], let mac = record["mac-address"], let address = record["address"] else {
            throw call.failure(.malformedReply, detail: "host without .id, mac-address or address")
        }
        return HotspotHost(
            id: id, macAddress: mac, address: address, toAddress: record["to-address"], server: record["server"],
            authorized: record.flag("authorized"))
    }
}
