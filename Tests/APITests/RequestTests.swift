import API
import Testing

/// A request as nginx hands it over FastCGI, and the CGI response the server writes back.
@Suite struct RequestTests {
    @Test func fromFastCGIParameters() {
        let request = Request(
            parameters: [
                "REQUEST_METHOD": "POST", "DOCUMENT_URI": "/api/v1/payments/pagar-conekta", "QUERY_STRING": "a=1",
                "CONTENT_TYPE": "application/json", "HTTP_X_API_KEY": "jwt_x", "HTTP_X_REQUEST_ID": "abc-123",
                "HTTP_IDEMPOTENCY_KEY": "k1", "REMOTE_ADDR": "10.0.0.9",
            ],
            body: Array("{}".utf8))
        #expect(request.method == "POST")
        #expect(request.path == "/api/v1/payments/pagar-conekta")
        #expect(request.query == "a=1")
        #expect(request.headers["x-api-key"] == "jwt_x")
        #expect(request.headers["idempotency-key"] == "k1")
        #expect(request.requestID == "abc-123")
        #expect(request.contentType == "application/json")
        #expect(request.remoteAddress == "10.0.0.9")
        #expect(request.body == Array("{}".utf8))
    }

    @Test func carriesOnlyTheParametersTheServerReads() {
        var cgi = CGIParameters()
        for (index, name) in CGIParameters.names.enumerated() {
            cgi[name] = "v\(index)"
            #expect(cgi[index: index] == "v\(index)" && cgi[name] == "v\(index)")
        }
        cgi["HTTP_COOKIE"] = "session=1"
        #expect(cgi["HTTP_COOKIE"] == nil)
        let request = Request(
            parameters: ["REQUEST_METHOD": "GET", "HTTP_COOKIE": "session=1", "HTTP_AUTHORIZATION": "Bearer jwt_y"], body: [])
        #expect(request.headers == ["authorization": "Bearer jwt_y"])
        #expect(request.requestID == "-")
    }

    @Test func fallsBackToRequestURI() {
        let request = Request(parameters: ["REQUEST_METHOD": "GET", "REQUEST_URI": "/health?x=1"], body: [])
        #expect(request.path == "/health")
        #expect(request.query == "x=1")
    }

    @Test func refusesOddRequestIDs() {
        #expect(Request.validRequestID("abc\r\nx") == nil)
        #expect(Request.validRequestID(String(repeating: "a", count: 65)) == nil)
        #expect(Request.validRequestID("") == nil)
        #expect(Request.validRequestID("0f9a-B_c.1") == "0f9a-B_c.1")
    }

    @Test func serializesACGIHead() {
        let response = Response.json(404, ErrorResponse.body("No", "x", "r1"), codigo: "x")
        let text = String(decoding: response.serialized(), as: UTF8.self)
        #expect(text.hasPrefix("Status: 404 Not Found\r\nContent-Type: application/json; charset=utf-8\r\nX-Hotspot-Codigo: x\r\n"))
        #expect(text.hasSuffix("\r\n\r\n{\"detail\":\"No\",\"codigo\":\"x\",\"request_id\":\"r1\"}"))
    }

    @Test func documentURIWinsOverRequestURIAndQueryStringOverItsQuery() {
        let both = Request(parameters: ["DOCUMENT_URI": "/health", "REQUEST_URI": "/other?y=2", "QUERY_STRING": "x=1"], body: [])
        #expect(both.path == "/health")
        #expect(both.query == "x=1")
        let fallback = Request(parameters: ["REQUEST_URI": "/health?y=2", "QUERY_STRING": "x=1"], body: [])
        #expect(fallback.path == "/health")
        #expect(fallback.query == "x=1")
        let bare = Request(parameters: ["REQUEST_URI": "/health?"], body: [])
        #expect(bare.path == "/health")
        #expect(bare.query == "")
    }

    @Test func whatNginxLeftOutHasADefault() {
        let request = Request(parameters: ["CONTENT_TYPE": ""], body: [])
        #expect(request.method == "GET")
        #expect(request.path == "")
        #expect(request.query == "")
        #expect(request.contentType == nil)
        #expect(request.remoteAddress == nil)
        #expect(request.headers.isEmpty)
        #expect(request.requestID == "-")
    }

    @Test func anOddRequestIDIsNotTheExchangesButStaysAHeader() {
        let request = Request(parameters: ["HTTP_X_REQUEST_ID": "abc\r\nx"], body: [])
        #expect(request.requestID == "-")
        #expect(request.headers == ["x-request-id": "abc\r\nx"])
    }

    @Test func parametersBeyondTheNamedOnesAreNotKept() {
        var cgi = CGIParameters()
        #expect(cgi[index: -1] == nil)
        #expect(cgi[index: CGIParameters.names.count] == nil)
        cgi[index: CGIParameters.names.count] = "x"
        #expect(cgi == CGIParameters())
    }
}

@Suite struct ResponseTests {
    @Test(arguments: [
        (200, "OK"), (201, "Created"), (400, "Bad Request"), (401, "Unauthorized"), (402, "Payment Required"),
        (403, "Forbidden"), (404, "Not Found"), (405, "Method Not Allowed"), (409, "Conflict"), (413, "Payload Too Large"),
        (415, "Unsupported Media Type"), (422, "Unprocessable Content"), (429, "Too Many Requests"),
        (500, "Internal Server Error"), (503, "Service Unavailable"), (418, "Status"),
    ])
    func everyStatusTheServiceSendsHasItsReason(status: Int, reason: String) {
        #expect(Response.reason(status) == reason)
    }

    @Test func theCGIFormCountsTheBodyInBytes() {
        let response = Response(status: 200, headers: [("X-A", "1")], body: Array("é".utf8))
        #expect(String(decoding: response.serialized(), as: UTF8.self) == "Status: 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n\r\né")
    }

    @Test func aHeaderIsFoundWhateverItsCase() {
        let response = Response(status: 204, headers: [("Content-Type", "text/plain"), ("content-type", "later")], body: [])
        #expect(response.header("CONTENT-TYPE") == "text/plain")
        #expect(response.header("Allow") == nil)
    }
}
