import API
import CFastCGI
import Foundation

/// One worker thread's `FCGX_Request`. libfcgi keeps pointers back into the struct across
/// calls, so it lives at a stable heap address for the thread's lifetime and is freed once.
struct FastCGIRequest: ~Copyable {
    private let request: UnsafeMutablePointer<FCGX_Request>
    /// Whether requests come over a unix socket (see `finish`).
    private let unixSocket: Bool

    init(listening descriptor: Int32) {
        request = .allocate(capacity: 1)
        let status = FCGX_InitRequest(request, descriptor, 0)
        // FCGX_InitRequest only fails for a NULL request pointer, which allocate never returns.
        precondition(status == 0, "FCGX_InitRequest failed")
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        unixSocket = named == 0 && address.ss_family == sa_family_t(AF_UNIX)
    }

    deinit {
        FCGX_Free(request, 0)
        request.deallocate()
    }

    /// Waits for the next request. False when the listening socket was shut down.
    /// The corresponding C function is `FCGX_Accept_r`.
    func accept() -> Bool {
        FCGX_Accept_r(request) >= 0
    }

    /// `CGIParameters.names` as UTF-8, to compare names in place (many CGI names are longer than a
    /// small string, so making a `String` of each one to look it up allocated).
    private static let keptNames: [[UInt8]] = CGIParameters.names.map { Array($0.utf8) }

    /// The request's parameters the server reads, copied: libfcgi's pointers die at the next
    /// finish or accept.
    func parameters() -> CGIParameters {
        var result = CGIParameters()
        guard var cursor = request.pointee.envp else { return result }
        // Split on the first "=" in the C string itself: this runs for every parameter of every
        // request.
        while let entry = cursor.pointee {
            if let equals = strchr(entry, 0x3D) {
                let nameLength = entry.distance(to: equals)
                if let index = Self.keptNames.firstIndex(where: { $0.count == nameLength && memcmp($0, entry, nameLength) == 0 }) {
                    result[index: index] = String(cString: equals + 1)
                }
            }
            cursor += 1
        }
        return result
    }

    /// Reads up to `count` bytes of the body (fewer when the stream ends first).
    func readBody(count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        var body = [UInt8](repeating: 0, count: count)
        var filled = 0
        body.withUnsafeMutableBytes { buffer in
            while filled < count {
                let pointer = buffer.baseAddress!.advanced(by: filled).assumingMemoryBound(to: CChar.self)
                let read = FCGX_GetStr(pointer, Int32(count - filled), request.pointee.in)
                if read <= 0 { break }
                filled += Int(read)
            }
        }
        body.removeSubrange(filled...)
        return body
    }

    /// Writes the response. False when nginx went away (EPIPE; libfcgi ignores SIGPIPE).
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return true }
            return FCGX_PutStr(base.assumingMemoryBound(to: CChar.self), Int32(buffer.count), request.pointee.out) == Int32(buffer.count)
        }
    }

    /// Flushes and ends the request so the response leaves before the next accept.
    ///
    /// libfcgi closes a connection with `shutdown(SHUT_WR)` and then waits in `poll` for nginx to
    /// hang up, reading whatever it still sends (`OS_Close`, up to LIBFCGI_OS_CLOSE_POLL_TIMEOUT):
    /// on TCP, closing with input unread sends a reset that can destroy a response nginx has not
    /// read yet. A unix socket has no resets, only an ECONNRESET that the peer reads after all the
    /// data when the closing side left input unread (`unix_release_sock`). So on a unix socket,
    /// when the body was read (`bodyRead`), the rest of the input already queued (nginx buffers
    /// the request, `fastcgi_request_buffering on`, and sends it whole before it reads the
    /// answer) is read without waiting, and the request is
    /// detached, which makes libfcgi close at once: each request is spared a sleep and a wake-up.
    /// A body left unread (too large) still gets libfcgi's drain, so nginx can finish sending it;
    /// so does a kept connection (`fastcgi_keep_conn`, not in deploy/nginx.conf), since libfcgi
    /// clears the detached mark only when it closes.
    func finish(bodyRead: Bool) {
        if unixSocket, bodyRead, request.pointee.keepConnection == 0, request.pointee.ipcFd >= 0 {
            let descriptor = request.pointee.ipcFd
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer in
                while recv(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT)) > 0 {}
            }
            FCGX_Detach(request)
        }
        FCGX_Finish_r(request)
    }
}
