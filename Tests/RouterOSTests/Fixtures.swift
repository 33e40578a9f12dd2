import Foundation
import HTTPTransport
import TestSupport
import Testing

/// Replies as RouterOS (or something in front of it) sends them, by scenario name, recorded in
/// Fixtures/: `replies.json` gives each one's status, content type and body file (README.md there
/// says where they come from).
enum Fixtures {
    struct Reply {
        var status: Int
        var contentType: String?
        var bodyFile: String?
    }

    static func response(_ scenario: String, sourceLocation: SourceLocation = #_sourceLocation) -> HTTPResponse {
        guard let reply = all[scenario] else {
            Issue.record("no fixture named \(scenario)", sourceLocation: sourceLocation)
            return HTTPResponse(status: 599)
        }
        var headers: [String: String] = [:]
        if let contentType = reply.contentType { headers["content-type"] = contentType }
        let body = reply.bodyFile.map { FixtureFile.bytes($0, in: .module, sourceLocation: sourceLocation) } ?? []
        return HTTPResponse(status: reply.status, headers: headers, body: body)
    }

    static let all: [String: Reply] = {
        let manifest = FixtureFile.bytes("replies.json", in: .module)
        guard let entries = try? JSONSerialization.jsonObject(with: Data(manifest)) as? [String: [String: Any]] else {
            Issue.record("Fixtures/replies.json is not an object of objects")
            return [:]
        }
        return entries.mapValues { entry in
            Reply(
                status: entry["status"] as? Int ?? 599, contentType: entry["content-type"] as? String,
                bodyFile: entry["body"] as? String)
        }
    }()
}

extension FakeTransport {
    /// Serves the recorded fixtures named `scenarios`, in order.
    convenience init(fixtures scenarios: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        self.init(scenarios.map { .success(Fixtures.response($0, sourceLocation: sourceLocation)) }, sourceLocation: sourceLocation)
    }
}
