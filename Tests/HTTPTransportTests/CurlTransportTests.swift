import Foundation
import HTTPTransport
import TestSupport
import Testing

@Suite(.serialized, .timeLimit(.minutes(5))) struct CurlTransportTests {
    let echo: SandboxProcess
    let transport = CurlTransport()

    init() throws {
        echo = try SandboxProcess(.echo)
    }

    func json(_ response: HTTPResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func sendsMethodHeadersBodyAndBasicAuth() throws {
        var request = HTTPRequest(method: .put, url: echo.url + "/rest/ip/hotspot/user", tls: echo.caTrust)
        request.headers = [Header("Content-Type", "application/json")]
        request.body = Array(#"{"name":"A"}"#.utf8)
        request.basicAuth = BasicAuth(user: "api", password: "secret")
        let response = try transport.send(request)
        #expect(response.status == 200)
        #expect(response.mediaType == "application/json")
        let echoed = try json(response)
        #expect(echoed["method"] as? String == "PUT")
        #expect(echoed["body"] as? String == #"{"name":"A"}"#)
        let headers = try #require(echoed["headers"] as? [String: String])
        #expect(headers["authorization"] == "Basic " + Data("api:secret".utf8).base64EncodedString())
        #expect(headers["expect"] == nil)
    }

    /// Header names in lower case, values without the spaces and tabs around them (RFC 9110 §5.5),
    /// the media type without its parameters.
    @Test func readsReplyHeaders() throws {
        let query = "X-Padded=%20%09two%20words%09%20&Content-Type=Application/JSON%20;%20charset=utf-8&X-EMPTY="
        let response = try transport.send(HTTPRequest(method: .get, url: echo.url + "/headers?" + query, tls: echo.caTrust))
        #expect(response.headers["x-padded"] == "two words")
        #expect(response.headers["content-type"] == "Application/JSON ; charset=utf-8")
        #expect(response.mediaType == "application/json")
        #expect(response.headers["x-empty"] == "")
        #expect(response.headers["content-length"] == "2")
    }

    @Test func reusesTheConnectionExceptForRequestsThatMustNotBeResent() throws {
        func port(_ method: HTTPRequest.Method, resendable: Bool? = nil) throws -> Int {
            let request = HTTPRequest(method: method, url: echo.url + "/a", tls: echo.caTrust, resendable: resendable)
            return try #require(try json(try transport.send(request))["peer_port"] as? Int)
        }
        let first = try port(.get)
        #expect(try port(.get) == first)
        #expect(try port(.patch) == first)
        #expect(try port(.delete) == first)
        // POST and PUT go on a connection of their own (libcurl would resend them on a reused one)
        let post = try port(.post)
        #expect(post != first)
        let put = try port(.put)
        #expect(put != first && put != post)
        // unless the caller says a second copy is harmless: then any kept-alive connection will do.
        let opened = [first, post, put]
        #expect(opened.contains(try port(.put, resendable: true)))
        #expect(!opened.contains(try port(.get, resendable: false)))
    }

    @Test func whetherARequestIsResendableFollowsItsMethodUnlessSet() {
        var request = HTTPRequest(method: .get, url: "http://127.0.0.1/")
        #expect(request.resendable)
        request.method = .post
        #expect(!request.resendable)
        request.resendable = true
        request.method = .put
        #expect(request.resendable)
    }

    @Test func pinnedKeyIsCheckedAndAMismatchSendsNothing() throws {
        let good = HTTPRequest(method: .get, url: echo.url + "/pinned", tls: .pinnedPublicKey(try #require(echo.pin)))
        #expect(try transport.send(good).status == 200)
        let bad = HTTPRequest(
            method: .post, url: echo.url + "/pinned", body: [1],
            tls: .pinnedPublicKey("sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
        let fresh = CurlTransport()
        #expect {
            _ = try fresh.send(bad)
        } throws: { error in
            let failure = error as? TransportError
            return failure?.kind == .pinMismatch && failure?.requestSent == false
        }
    }

    @Test func untrustedCertificateIsRefused() throws {
        let request = HTTPRequest(method: .get, url: echo.url + "/x", tls: .systemDefault)
        #expect {
            _ = try CurlTransport().send(request)
        } throws: { error in
            (error as? TransportError)?.kind == .tlsFailure && (error as? TransportError)?.requestSent == false
        }
    }

    @Test func refusedConnectionSendsNothing() throws {
        let port = try freePort()
        let request = HTTPRequest(method: .post, url: "http://127.0.0.1:\(port)/x", body: [1])
        #expect {
            _ = try transport.send(request)
        } throws: { error in
            (error as? TransportError)?.kind == .couldNotConnect && (error as? TransportError)?.requestSent == false
        }
    }

    @Test func hangIsBoundedAndMarkedSent() throws {
        try echo.arm(["op": "*", "kind": "hang", "ms": 5000, "times": 1])
        var request = HTTPRequest(method: .post, url: echo.url + "/slow", body: [1], tls: echo.caTrust)
        request.timeouts = Timeouts(connectMilliseconds: 1000, totalMilliseconds: 700)
        let started = Date()
        #expect {
            _ = try CurlTransport().send(request)
        } throws: { error in
            (error as? TransportError)?.kind == .timedOut && (error as? TransportError)?.requestSent == true
        }
        #expect(Date().timeIntervalSince(started) < 3)
        try echo.reset()
    }

    @Test func droppedReplyIsConnectionLostAfterSending() throws {
        try echo.arm(["op": "*", "kind": "drop_after", "times": 1])
        let request = HTTPRequest(method: .post, url: echo.url + "/applied", body: [1], tls: echo.caTrust)
        #expect {
            _ = try CurlTransport().send(request)
        } throws: { error in
            (error as? TransportError)?.kind == .connectionLost && (error as? TransportError)?.requestSent == true
        }
        try echo.reset()
    }

    @Test func responseSizeIsLimited() throws {
        var request = HTTPRequest(method: .get, url: echo.url + "/bytes/100000", tls: echo.caTrust)
        request.maxResponseBytes = 1000
        #expect {
            _ = try transport.send(request)
        } throws: { error in
            (error as? TransportError)?.kind == .responseTooLarge
        }
        request.maxResponseBytes = 200_000
        #expect(try transport.send(request).body.count == 100_000)
    }

    @Test func errorDescriptionsNeverCarryThePassword() throws {
        let port = try freePort()
        var request = HTTPRequest(method: .get, url: "http://127.0.0.1:\(port)/x")
        request.basicAuth = BasicAuth(user: "api", password: "hunter2-secret")
        do {
            _ = try transport.send(request)
            Issue.record("expected a failure")
        } catch {
            #expect(!error.description.contains("hunter2"))
        }
        #expect(!request.basicAuth!.description.contains("hunter2"))
    }

    func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
