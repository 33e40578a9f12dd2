import Foundation

/// The socket nginx connects to: one systemd passed (socket activation), a unix socket path this
/// process creates (and removes), or an IPv4 `host:port`. Created here rather than by
/// `FCGX_OpenSocket`, which calls `exit()` when bind fails and binds every interface for `:port`.
struct ListeningSocket {
    let descriptor: Int32
    /// The unix socket path this process created and removes at shutdown; nil for TCP and for a
    /// socket it was given.
    let path: String?
    /// Whether the socket was passed in (systemd keeps its own copy: this process must neither
    /// remove nor shut it down, so connections queue for the next instance).
    var isInherited = false

    enum Failure: Error, CustomStringConvertible {
        case invalidAddress(String)
        case system(String, Int32)

        var description: String {
            switch self {
            case .invalidAddress(let address): "cannot listen on \(address): expected a socket path or IPv4 host:port"
            case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
            }
        }
    }

    /// The listening socket systemd passed as file descriptor 3 (`sd_listen_fds(3)`), when
    /// `LISTEN_PID` is this process and `LISTEN_FDS` is 1; nil when nothing was passed. The
    /// variables are removed, as `sd_listen_fds(1)` does. Call before starting threads.
    /// https://www.freedesktop.org/software/systemd/man/latest/sd_listen_fds.html
    static func inherited() throws(Failure) -> ListeningSocket? {
        let descriptor: Int32 = 3  // SD_LISTEN_FDS_START
        guard let pid = getenv("LISTEN_PID").flatMap({ Int32(String(cString: $0)) }), pid == getpid() else { return nil }
        let count = getenv("LISTEN_FDS").map { String(cString: $0) } ?? ""
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(name) }
        guard count == "1" else { throw .invalidAddress("LISTEN_FDS=\(count): expected exactly one socket from systemd") }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw .system("fstat of the socket from systemd (fd 3)", errno) }
        var listening: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard (info.st_mode & S_IFMT) == S_IFSOCK,
            getsockopt(descriptor, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0, listening == 1
        else { throw .invalidAddress("fd 3 from systemd: not a listening socket") }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        return ListeningSocket(descriptor: descriptor, path: nil, isInherited: true)
    }

    static func open(_ address: String, mode: UInt16, group: String?, backlog: Int32 = 1024) throws(Failure) -> ListeningSocket {
        if address.hasPrefix("/") || address.hasPrefix(".") {
            return try openUnix(path: address, mode: mode, group: group, backlog: backlog)
        }
        return try openTCP(address, backlog: backlog)
    }

    private static func openUnix(path: String, mode: UInt16, group: String?, backlog: Int32) throws(Failure) -> ListeningSocket {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { throw .invalidAddress(path) }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        var info = stat()
        if lstat(path, &info) == 0 {
            // Only a stale socket is removed; refuse to delete anything else at that path.
            guard (info.st_mode & S_IFMT) == S_IFSOCK else {
                throw .system("refusing to replace \(path); it is not a socket: bind", EEXIST)
            }
            unlink(path)
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw .system("socket", errno) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let code = errno
            close(descriptor)
            throw .system("bind \(path)", code)
        }
        if let group {
            guard let entry = getgrnam(group) else {
                close(descriptor)
                unlink(path)
                throw .system("getgrnam \(group)", ENOENT)
            }
            guard chown(path, uid_t.max, entry.pointee.gr_gid) == 0 else {
                let code = errno
                close(descriptor)
                unlink(path)
                throw .system("chown \(path)", code)
            }
        }
        guard chmod(path, mode_t(mode)) == 0, listen(descriptor, backlog) == 0 else {
            let code = errno
            close(descriptor)
            unlink(path)
            throw .system("listen \(path)", code)
        }
        return ListeningSocket(descriptor: descriptor, path: path)
    }

    private static func openTCP(_ text: String, backlog: Int32) throws(Failure) -> ListeningSocket {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1]), !parts[0].isEmpty else { throw .invalidAddress(text) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, String(parts[0]), &address.sin_addr) == 1 else { throw .invalidAddress(text) }
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw .system("socket", errno) }
        var yes: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, backlog) == 0 else {
            let code = errno
            close(descriptor)
            throw .system("bind/listen \(text)", code)
        }
        return ListeningSocket(descriptor: descriptor, path: nil)
    }
}
