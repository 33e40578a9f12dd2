import CCurl

/// `HTTPTransport` over one libcurl easy handle.
///
/// One instance per worker thread: the handle's connection cache gives keep-alive reuse to every
/// host the thread talks to, and a handle must never be used by two threads at once
/// (https://curl.se/libcurl/c/threadsafe.html). Never retries by itself.
public final class CurlTransport: HTTPTransport {
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let accumulator = ResponseAccumulator()

    /// Call once from the main thread before any thread creates a `CurlTransport`.
    /// The corresponding C function is `curl_global_init`.
    public static func globalInit() {
        let code = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        precondition(code == CURLE_OK, "curl_global_init failed: \(code.rawValue)")
    }

    public init() {
        // curl_easy_init returns NULL only when it cannot allocate; nothing sensible follows.
        guard let handle = curl_easy_init() else { preconditionFailure("curl_easy_init returned NULL") }
        self.handle = handle
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    public func send(_ request: HTTPRequest) throws(TransportError) -> HTTPResponse {
        accumulator.reset(limit: request.maxResponseBytes)
        // Reset keeps the connection cache (keep-alive) and drops every option of the last request.
        curl_easy_reset(handle)
        errorBuffer[0] = 0

        var headerList = CurlHeaderList()
        for header in request.headers { headerList.append("\(header.name): \(header.value)") }
        // curl adds "Expect: 100-continue" to bodies over 1 KiB and then waits up to a second for
        // a 100 that RouterOS and many servers never send.
        headerList.append("Expect:")

        var code = configure(request, headers: headerList)
        if code == CURLE_OK {
            code = perform(body: request.body)
        }
        withExtendedLifetime(headerList) {}

        if code != CURLE_OK {
            throw transportError(for: code)
        }
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: accumulator.headers, body: accumulator.body)
    }

    private func configure(_ request: HTTPRequest, headers: borrowing CurlHeaderList) -> CURLcode {
        var code = CURLE_OK
        func set(_ option: CURLoption, _ value: Int) {
            if code == CURLE_OK { code = ccurl_setopt_long(handle, option, value) }
        }
        func set(_ option: CURLoption, _ value: String) {
            // String options are copied by libcurl (since 7.17.0), so the scope may end here.
            if code == CURLE_OK { code = value.withCString { ccurl_setopt_string(handle, option, $0) } }
        }

        set(CURLOPT_URL, request.url)
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_TCP_KEEPALIVE, 1)
        set(CURLOPT_MAXAGE_CONN, 30)
        set(CURLOPT_FOLLOWLOCATION, 0)
        set(CURLOPT_PROTOCOLS_STR, "http,https")
        set(CURLOPT_CONNECTTIMEOUT_MS, request.timeouts.connectMilliseconds)
        set(CURLOPT_TIMEOUT_MS, request.timeouts.totalMilliseconds)
        if code == CURLE_OK { code = ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer) }

        if request.method == .get {
            set(CURLOPT_HTTPGET, 1)
        } else {
            set(CURLOPT_CUSTOMREQUEST, request.method.rawValue)
        }
        if !request.resendable {
            // When a reused connection dies before any byte of the reply, libcurl sends the same
            // request again on another connection, POST included ("Connection died, retrying a fresh
            // connect": Curl_retry_request, https://github.com/curl/curl/blob/curl-7_88_1/lib/transfer.c).
            // A server that acted on the first copy then acts twice (a second order, say). A fresh
            // connection is never retried that way.
            set(CURLOPT_FRESH_CONNECT, 1)
        }

        if let auth = request.basicAuth {
            set(CURLOPT_HTTPAUTH, ccurl_auth_basic)
            set(CURLOPT_USERNAME, auth.user)
            set(CURLOPT_PASSWORD, auth.password)
        }

        switch request.tls {
        case .systemDefault:
            set(CURLOPT_SSL_VERIFYPEER, 1)
            set(CURLOPT_SSL_VERIFYHOST, 2)
        case .caFile(let path):
            set(CURLOPT_CAINFO, path)
            set(CURLOPT_SSL_VERIFYPEER, 1)
            set(CURLOPT_SSL_VERIFYHOST, 2)
        case .pinnedPublicKey(let pin):
            // The pin is checked even with peer verification off; routers present self-signed
            // certificates whose name rarely matches the address used.
            // https://curl.se/libcurl/c/CURLOPT_PINNEDPUBLICKEY.html
            set(CURLOPT_PINNEDPUBLICKEY, pin)
            set(CURLOPT_SSL_VERIFYPEER, 0)
            set(CURLOPT_SSL_VERIFYHOST, 0)
        case .insecure:
            set(CURLOPT_SSL_VERIFYPEER, 0)
            set(CURLOPT_SSL_VERIFYHOST, 0)
        }

        if code == CURLE_OK { code = headers.withUnsafeList { ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, $0) } }

        let context = Unmanaged.passUnretained(accumulator).toOpaque()
        if code == CURLE_OK { code = ccurl_setopt_write_function(handle, curlTransportWriteBody) }
        if code == CURLE_OK { code = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context) }
        if code == CURLE_OK { code = ccurl_setopt_header_function(handle, curlTransportWriteHeader) }
        if code == CURLE_OK { code = ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context) }
        return code
    }

    private func perform(body: [UInt8]?) -> CURLcode {
        guard let body else { return curl_easy_perform(handle) }
        var code = ccurl_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        guard code == CURLE_OK else { return code }
        // COPYPOSTFIELDS, not POSTFIELDS: curl keeps POSTFIELDS' pointer after the call returns.
        code = body.withUnsafeBytes { bytes in
            ccurl_setopt_pointer(
                handle, CURLOPT_COPYPOSTFIELDS,
                UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start)))
        }
        guard code == CURLE_OK else { return code }
        return curl_easy_perform(handle)
    }

    private func transportError(for code: CURLcode) -> TransportError {
        var requestSize = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_REQUEST_SIZE, &requestSize)
        let sent = requestSize > 0
        let detail = String(cString: errorBuffer)
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        let kind: TransportError.Kind
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            kind = .couldNotResolve
        case CURLE_COULDNT_CONNECT:
            kind = .couldNotConnect
        case CURLE_OPERATION_TIMEDOUT:
            kind = .timedOut
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            kind = .pinMismatch
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_ISSUER_ERROR:
            kind = .tlsFailure
        case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE:
            kind = .connectionLost
        case CURLE_WRITE_ERROR where accumulator.overflowed:
            kind = .responseTooLarge
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT:
            kind = .invalidRequest
        default:
            kind = .other
        }
        return TransportError(kind: kind, requestSent: sent, code: Int32(code.rawValue), message: message)
    }
}

@available(*, unavailable, message: "a CURL handle belongs to one thread")
extension CurlTransport: Sendable {}

/// Collects one reply's headers and body; reused across requests to keep its capacity.
private final class ResponseAccumulator {
    var body: [UInt8] = []
    var headers: [String: String] = [:]
    var limit = 0
    var overflowed = false

    func reset(limit: Int) {
        body.removeAll(keepingCapacity: true)
        headers.removeAll(keepingCapacity: true)
        self.limit = limit
        overflowed = false
    }
}

/// libcurl's CURLOPT_WRITEFUNCTION. Returning less than it was given aborts the transfer with
/// CURLE_WRITE_ERROR, which is how the size limit is enforced.
private func curlTransportWriteBody(
    _ data: UnsafeMutablePointer<CChar>, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let context else { return 0 }
    let accumulator = Unmanaged<ResponseAccumulator>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    if accumulator.body.count + length > accumulator.limit {
        accumulator.overflowed = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: length) {
        accumulator.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
    }
    return length
}

/// libcurl's CURLOPT_HEADERFUNCTION: one call per header line, status lines included.
///
/// Read as bytes: header names are ASCII tokens and the white space around a value is spaces,
/// tabs and the line's CRLF (RFC 9110 §5.5, https://www.rfc-editor.org/rfc/rfc9110#section-5.5).
/// Read as `Character`s (Unicode white space, Unicode lower-casing) this callback cost more
/// instructions than everything else a router call does in this process.
private func curlTransportWriteHeader(
    _ data: UnsafeMutablePointer<CChar>, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let context else { return 0 }
    let accumulator = Unmanaged<ResponseAccumulator>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    data.withMemoryRebound(to: UInt8.self, capacity: length) { start in
        let line = UnsafeBufferPointer(start: start, count: length)
        if line.starts(with: "HTTP/".utf8) {
            // A new status line (after a 100 Continue, say) starts a new header block.
            accumulator.headers.removeAll(keepingCapacity: true)
        } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            var name = [UInt8](line[..<colon])
            for index in name.indices where name[index] >= UInt8(ascii: "A") && name[index] <= UInt8(ascii: "Z") {
                name[index] += 0x20
            }
            var first = colon + 1
            var end = length
            while first < end, isHeaderWhitespace(line[first]) { first += 1 }
            while end > first, isHeaderWhitespace(line[end - 1]) { end -= 1 }
            accumulator.headers[String(decoding: name, as: UTF8.self)] = String(
                decoding: UnsafeBufferPointer(rebasing: line[first..<end]), as: UTF8.self)
        }
    }
    return length
}

private func isHeaderWhitespace(_ byte: UInt8) -> Bool {
    byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
}

/// Owns a `curl_slist`; freed exactly once when the owner goes away.
struct CurlHeaderList: ~Copyable {
    private var list: UnsafeMutablePointer<curl_slist>?

    init() {}

    mutating func append(_ line: String) {
        // curl_slist_append copies the string.
        guard let appended = line.withCString({ curl_slist_append(list, $0) }) else {
            preconditionFailure("curl_slist_append could not allocate")
        }
        list = appended
    }

    func withUnsafeList<R>(_ body: (UnsafeMutablePointer<curl_slist>?) -> R) -> R {
        body(list)
    }

    deinit {
        curl_slist_free_all(list)
    }
}
