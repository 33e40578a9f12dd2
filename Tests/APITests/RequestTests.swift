import API
import Testing

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
}
