import HTTPTransport
import TestSupport
import Testing

/// Replies as RouterOS (or something in front of it) sends them, by scenario name. Shapes and texts
/// from docs/sources.md A2–A6.1; key order deliberately varies, as it does on real routers.
enum Fixtures {
    static func response(_ scenario: String) -> HTTPResponse {
        guard let (status, contentType, body) = all[scenario] else {
            Issue.record("no fixture named \(scenario)")
            return HTTPResponse(status: 599)
        }
        var headers: [String: String] = [:]
        if let contentType { headers["content-type"] = contentType }
        return HTTPResponse(status: status, headers: headers, body: Array(body.utf8))
    }

    private static let json = "application/json"
    private static let html = "text/html; charset=utf-8"

    static let all: [String: (status: Int, contentType: String?, body: String)] = [
        "user-print-one": (
            200, json,
            #"""
            [{".id":"*1A","name":"PAY-8F3K2Q","profile":"1hora","server":"hotspot1","disabled":"true","comment":"order 42","mac-address":"AA:BB:CC:DD:EE:FF"}]
            """#
        ),
        "user-print-none": (200, json, "[]"),
        "user-print-two-names": (
            200, json,
            #"""
            [{".id":"*1","name":"PAY-8F3K2Qx","server":"hotspot1"},{".id":"*2","name":"PAY-8F3K2Q","server":"hotspot1","disabled":"false"}]
            """#
        ),
        // A raw ESC and newline inside a string, as RouterOS emits them (docs/sources.md A2).
        "user-print-control-characters": (
            200, json,
            "[{\".id\":\"*3\",\"name\":\"PAY-8F3K2Q\",\"server\":\"hotspot1\",\"comment\":\"caf\u{1B}[0m\n\\\"ok\\\"\"}]"
        ),
        "user-add-created": (
            200, json,
            #"""
            {".id":"*1B","name":"PAY-8F3K2Q","password":"s3cret","profile":"1hora","server":"hotspot1","disabled":"true","comment":"order 42","limit-uptime":"1h","limit-bytes-total":"1073741824","uptime":"0s","bytes-in":"0","bytes-out":"0","dynamic":"false"}
            """#
        ),
        "user-add-duplicate": (
            400, json,
            #"""
            {"detail":"failure: already have user with this name for this server","error":400,"message":"Bad Request"}
            """#
        ),
        // Not a RouterOS text: the same refusal reworded, as another version might word it.
        "user-add-duplicate-reworded": (
            400, json,
            #"""
            {"detail":"failure: already have such name","error":400,"message":"Bad Request"}
            """#
        ),
        "user-add-profile-unknown": (
            400, json,
            #"""
            {"error":400,"message":"Bad Request","detail":"input does not match any value of profile"}
            """#
        ),
        "user-add-profile-ambiguous": (
            400, json,
            #"""
            {"error":400,"message":"Bad Request","detail":"ambiguous value of profile, more than one possible value matches input"}
            """#
        ),
        "user-add-unknown-parameter": (
            400, json,
            #"""
            {"error":400,"message":"Bad Request","detail":"unknown parameter limit-uptme"}
            """#
        ),
        "user-add-bad-time": (
            400, json,
            #"""
            {"error":400,"message":"Bad Request","detail":"invalid time value for argument limit-uptime"}
            """#
        ),
        "user-add-echoes-password": (
            400, json,
            #"""
            {"error":400,"message":"Bad Request","detail":"invalid value s3cret for argument password"}
            """#
        ),
        "user-set-updated": (200, json, #"{".id":"*1B","name":"PAY-8F3K2Q","disabled":"false"}"#),
        "user-set-empty-list": (200, json, "[]"),
        "not-found": (404, json, #"{"error":404,"message":"Not Found"}"#),
        "no-such-item": (400, json, #"{"detail":"no such item","error":400,"message":"Bad Request"}"#),
        "deleted": (204, nil, ""),
        "deleted-200": (200, json, ""),
        "session-closed": (400, json, #"{"error":400,"message":"Bad Request","detail":"Session closed"}"#),
        "not-acceptable": (
            406, json,
            #"""
            {"error":406,"message":"Not Acceptable","detail":"no such command or directory (remove)"}
            """#
        ),
        "unauthorized": (401, json, #"{"error":401,"message":"Unauthorized"}"#),
        "unauthorized-html": (401, html, "<html><body>401 Unauthorized</body></html>"),
        "bad-gateway": (502, html, "<html><body>502 Bad Gateway</body></html>"),
        "webfig-login": (
            200, html, "<!DOCTYPE html><html><head><title>RouterOS router configuration page</title></head></html>"
        ),
        "html-not-found": (404, html, "<html><body>Not Found</body></html>"),
        "no-content-type": (200, nil, "[]"),
        "malformed-json": (200, json, #"{".id":"*1B","name":"#),
        "profile-print": (
            200, json,
            #"""
            [{".id":"*0","name":"default","shared-users":"1","session-timeout":"0s","default":"true"},{".id":"*2","name":"1hora","rate-limit":"2M/5M","session-timeout":"1h","shared-users":"1"}]
            """#
        ),
        "profile-print-one": (
            200, json,
            #"""
            [{".id":"*2","name":"1hora","rate-limit":"2M/5M","session-timeout":"1h","shared-users":"1"}]
            """#
        ),
        "host-print-one": (
            200, json,
            #"""
            [{".id":"*5","mac-address":"AA:BB:CC:DD:EE:FF","address":"10.5.50.23","to-address":"10.5.50.23","server":"hotspot1","authorized":"false"}]
            """#
        ),
        "host-print-two": (
            200, json,
            #"""
            [{".id":"*5","mac-address":"AA:BB:CC:DD:EE:FF","address":"10.5.50.23"},{".id":"*6","mac-address":"AA:BB:CC:DD:EE:FF","address":"10.5.50.23"}]
            """#
        ),
        "active-login-ok": (200, json, "[]"),
        "active-login-unknown-host": (
            400, json, #"{"error":400,"message":"Bad Request","detail":"unknown host IP 10.5.50.99"}"#
        ),
        "active-login-bad-password": (
            400, json, #"{"error":400,"message":"Bad Request","detail":"invalid username or password"}"#
        ),
        "active-login-wrong-mac": (400, json, #"{"error":400,"message":"Bad Request","detail":"wrong MAC provided"}"#),
        "active-print-one": (
            200, json,
            #"""
            [{".id":"*9","user":"PAY-8F3K2Q","address":"10.5.50.23","mac-address":"AA:BB:CC:DD:EE:FF","server":"hotspot1","login-by":"http-chap","uptime":"12m3s"}]
            """#
        ),
    ]
}

extension FakeTransport {
    /// Serves the recorded fixtures named `scenarios`, in order.
    convenience init(fixtures scenarios: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        self.init(scenarios.map { .success(Fixtures.response($0)) }, sourceLocation: sourceLocation)
    }
}
