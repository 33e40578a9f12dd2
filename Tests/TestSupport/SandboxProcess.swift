import Foundation
import HTTPTransport

/// A sandbox server (`sandbox/router.py` or `sandbox/conekta.py`) started for a test on a free
/// loopback port, stopped when the value goes away.
public final class SandboxProcess: @unchecked Sendable {
    // @unchecked: every stored property is a `let` set in init; `Process` is only touched from
    // init and deinit.
    public let url: String
    public let port: Int
    /// The self-signed certificate (trust it with `.caFile`) and its public key pin.
    public let caFile: String?
    public let pin: String?
    /// Where the control API answers: the router's own port may close (its REST service turned off).
    public let controlURL: String
    private let process: Process
    private let stateDirectory: URL

    public enum Kind: String, Sendable { case router, conekta, echo }

    public init(_ kind: Kind, tls: Bool = true, arguments: [String] = []) throws {
        let root = SandboxProcess.repositoryRoot()
        stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        let readyFile = stateDirectory.appendingPathComponent("ready.json").path

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var args = [
            "python3", root.appendingPathComponent("sandbox/\(kind.rawValue).py").path,
            "--port", "0", "--state-dir", stateDirectory.path, "--ready-file", readyFile,
        ]
        if !tls { args.append("--no-tls") }
        process.arguments = args + arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process

        let deadline = Date().addingTimeInterval(20)
        var line: Data?
        while Date() < deadline {
            if let data = FileManager.default.contents(atPath: readyFile), !data.isEmpty { line = data; break }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        guard let line, let info = try JSONSerialization.jsonObject(with: line) as? [String: Any],
            let url = info["url"] as? String, let port = info["port"] as? Int
        else {
            process.terminate()
            throw SandboxError.didNotStart(kind.rawValue)
        }
        self.url = url
        self.port = port
        self.caFile = info["ca_file"] as? String
        self.pin = info["pin"] as? String
        self.controlURL = info["control_url"] as? String ?? url
    }

    deinit {
        // SIGKILL, not terminate(): a child can inherit a mask that blocks SIGTERM from the test
        // process, and the sandbox keeps no state worth a clean exit.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: stateDirectory)
    }

    /// Trust for this sandbox's certificate by CA file.
    public var caTrust: TLSTrust { caFile.map { .caFile($0) } ?? .systemDefault }

    /// Calls the control API (`/_sandbox/<path>`) and returns the decoded JSON reply.
    @discardableResult
    public func control(_ method: HTTPRequest.Method, _ path: String, json: Any? = nil) throws -> Any {
        let transport = CurlTransport()
        var request = HTTPRequest(method: method, url: controlURL + "/_sandbox/" + path, tls: caTrust)
        // Set-up, not the product: creating 65,000 orders takes seconds on a busy 2-core machine.
        request.timeouts = Timeouts(connectMilliseconds: 2_000, totalMilliseconds: 60_000)
        if let json {
            request.body = Array(try JSONSerialization.data(withJSONObject: json))
            request.headers.append(Header("Content-Type", "application/json"))
        }
        let response = try transport.send(request)
        guard response.status == 200 else { throw SandboxError.control(path, response.status) }
        return try JSONSerialization.jsonObject(with: Data(response.body), options: [.fragmentsAllowed])
    }

    /// Arms one fault (see `sandbox/common.py` `Faults`).
    public func arm(_ fault: [String: Any]) throws { try control(.post, "faults", json: fault) }

    /// Clears faults, recorded calls and the sandbox's own state.
    public func reset() throws { try control(.post, "reset", json: [String: Any]()) }

    public func state() throws -> [String: Any] { (try control(.get, "state") as? [String: Any]) ?? [:] }

    /// The repository root, found from this source file's location.
    public static func repositoryRoot(file: String = #filePath) -> URL {
        URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

public enum SandboxError: Error {
    case didNotStart(String)
    case control(String, Int)
}
