import CLibPQ
import Domain
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Owns one libpq connection (`PGconn`), used by one thread at a time.
///
/// Connects lazily and reconnects after a failure with backoff (250 ms doubling to 5 s): while
/// the server is down every call fails fast with `.unavailable` instead of reconnecting on each
/// request. The backoff ends early when another connection of the same `ReconnectGate` reaches
/// the server. Parameters are always sent separately from the SQL text.
///
/// Each distinct statement is prepared once per connection (`PQprepare`) and then only executed
/// (`PQexecPrepared`): parsing and planning were half of PostgreSQL's CPU per payment.
public final class PostgresConnection {
    private var connection: OpaquePointer?
    /// Statement names by SQL text, for the current connection only.
    private var prepared: [SQLText: String] = [:]
    private static let maxPrepared = 256
    private let conninfo: String
    private let applicationName: String
    private var backoffMilliseconds: Int64 = 0
    private var nextAttemptAt: ContinuousClock.Instant?
    private let clock = ContinuousClock()
    private let gate: ReconnectGate?
    /// The gate's count of connects when this connection last failed to connect.
    private var connectsAtFailure: UInt64 = 0

    /// - Parameters:
    ///   - url: a libpq connection string or `postgresql://` URL.
    ///   - statementTimeoutMilliseconds: the server cancels statements running longer.
    ///   - gate: shared with the other connections to the same server (a pool's).
    public init(
        url: String, applicationName: String = "hotspot-pay", statementTimeoutMilliseconds: Int = 5_000,
        gate: ReconnectGate? = nil
    ) {
        self.conninfo = url
        self.applicationName = applicationName
        self.statementTimeout = statementTimeoutMilliseconds
        self.gate = gate
    }

    private let statementTimeout: Int

    deinit {
        if let connection { PQfinish(connection) }
    }

    /// Runs one statement with text parameters (`$1`, `$2`, …; nil is SQL NULL) and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> PostgresRows {
        try query(sql, parameters, preparedAgain: false)
    }

    private func query(_ sql: String, _ parameters: [String?], preparedAgain: Bool) throws(PostgresError) -> PostgresRows {
        let connection = try connected()
        let name = try statement(sql, parameterCount: parameters.count, on: connection)
        let result = PostgresResult(execute(connection, name, parameters))
        let status = result.status
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let error = PostgresError(result: result, connection: connection)
            if PQstatus(connection) == CONNECTION_BAD { dropConnection() }
            // 26000: the server forgot the statement (a pooler's reset, DISCARD ALL). Nothing ran.
            if error.sqlState == "26000", !preparedAgain {
                prepared = [:]
                return try query(sql, parameters, preparedAgain: true)
            }
            throw error
        }
        return result.rows()
    }

    /// The name `sql` is prepared under on this connection, preparing it first if needed.
    private func statement(_ sql: String, parameterCount: Int, on connection: OpaquePointer) throws(PostgresError) -> String {
        if let name = prepared[SQLText(sql)] { return name }
        if prepared.count >= Self.maxPrepared {
            _ = PostgresResult(PQexec(connection, "DEALLOCATE ALL"))
            prepared = [:]
        }
        let name = "hp\(prepared.count)"
        let result = PostgresResult(PQprepare(connection, name, sql, Int32(parameterCount), nil))
        guard result.status == PGRES_COMMAND_OK else {
            let error = PostgresError(result: result, connection: connection)
            if PQstatus(connection) == CONNECTION_BAD { dropConnection() }
            throw error
        }
        prepared[SQLText(sql)] = name
        return name
    }

    /// Runs a trusted multi-statement script with no parameters (the compiled-in migrations only;
    /// the extended protocol behind `query` allows one statement per call).
    func executeScript(_ sql: String) throws(PostgresError) {
        let connection = try connected()
        let result = PostgresResult(PQexec(connection, sql))
        guard result.status == PGRES_COMMAND_OK || result.status == PGRES_TUPLES_OK else {
            let error = PostgresError(result: result, connection: connection)
            if PQstatus(connection) == CONNECTION_BAD { dropConnection() }
            throw error
        }
    }

    /// Runs `body` inside BEGIN … COMMIT; rolls back when it throws.
    public func transaction<T>(_ body: () throws(PostgresError) -> T) throws(PostgresError) -> T {
        try query("BEGIN")
        do {
            let value = try body()
            try query("COMMIT")
            return value
        } catch {
            rollbackIfNeeded()
            throw error
        }
    }

    /// Issues ROLLBACK when a transaction was left open (after an error inside one).
    public func rollbackIfNeeded() {
        guard let connection, PQtransactionStatus(connection) != PQTRANS_IDLE else { return }
        _ = try? query("ROLLBACK")
    }

    /// Whether a connection is open now (does not connect).
    public var isConnected: Bool {
        guard let connection else { return false }
        return PQstatus(connection) == CONNECTION_OK
    }

    private func execute(_ connection: OpaquePointer, _ name: String, _ parameters: [String?]) -> OpaquePointer? {
        // Every C string must outlive PQexecPrepared: duplicate them and free after the call.
        let values: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { values.forEach { free($0) } }
        return values.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(values.count, 1)) { pointer in
                PQexecPrepared(connection, name, Int32(values.count), values.isEmpty ? nil : pointer, nil, nil, 0)
            }
        }
    }

    private func connected() throws(PostgresError) -> OpaquePointer {
        if let connection {
            // An idle connection has nothing to read. If it does, the server closed it (a restart,
            // an administrator's terminate): reading lets libpq notice, so the first query after a
            // restart runs on a new connection instead of failing.
            if PQstatus(connection) == CONNECTION_OK, PQtransactionStatus(connection) == PQTRANS_IDLE {
                var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
                if poll(&descriptor, 1, 0) > 0 { _ = PQconsumeInput(connection) }
            }
            if PQstatus(connection) == CONNECTION_OK { return connection }
            dropConnection()
        }
        if let nextAttemptAt, clock.now < nextAttemptAt, gate?.connects.load(ordering: .relaxed) ?? 0 == connectsAtFailure {
            throw PostgresError(kind: .unavailable, message: "waiting before reconnecting")
        }
        let keywords = ["dbname", "connect_timeout", "application_name", "options"]
        let values = [conninfo, "3", applicationName, "-c statement_timeout=\(statementTimeout) -c TimeZone=UTC -c DateStyle=ISO"]
        let keywordPointers = keywords.map { strdup($0) }
        let valuePointers = values.map { strdup($0) }
        defer {
            keywordPointers.forEach { free($0) }
            valuePointers.forEach { free($0) }
        }
        let opened: OpaquePointer? =
            (keywordPointers.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { keys in
                (valuePointers.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { vals in
                    // expand_dbname = 1: the first value may be a whole connection string or URL.
                    PQconnectdbParams(keys.baseAddress, vals.baseAddress, 1)
                }
            }
        guard let opened, PQstatus(opened) == CONNECTION_OK else {
            let message = opened.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            if let opened { PQfinish(opened) }
            backoffMilliseconds = min(max(backoffMilliseconds * 2, 250), 5_000)
            nextAttemptAt = clock.now.advanced(by: .milliseconds(backoffMilliseconds))
            connectsAtFailure = gate?.connects.load(ordering: .relaxed) ?? 0
            throw PostgresError(kind: .unavailable, message: PostgresError.firstLine(message))
        }
        // libpq prints server notices to stderr by default; they are not ours to print.
        PQsetNoticeProcessor(opened, { _, _ in }, nil)
        backoffMilliseconds = 0
        nextAttemptAt = nil
        gate?.connects.add(1, ordering: .relaxed)
        connection = opened
        return opened
    }

    private func dropConnection() {
        if let connection { PQfinish(connection) }
        connection = nil
        prepared = [:]
    }
}

@available(*, unavailable, message: "a PGconn is used by one thread at a time")
extension PostgresConnection: Sendable {}

/// A statement's text as a dictionary key hashed by its length and its last 64 bytes. Hashing the
/// whole text (SipHash over 1–2 KiB, for every statement run) was most of the cost of finding its
/// prepared name; keys that hash alike are told apart by `==`, which for the same string literal
/// compares no bytes.
private struct SQLText: Hashable {
    let text: String

    init(_ text: String) { self.text = text }

    func hash(into hasher: inout Hasher) {
        hasher.combine(text.utf8.count)
        _ = text.utf8.withContiguousStorageIfAvailable { bytes in
            hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes.suffix(64))))
        }
    }
}

/// What the connections to one server know together: how many times one of them has connected.
/// A connection that failed to connect backs off only until another one gets through, so after a
/// restart the whole pool comes back with its first connection, instead of each connection
/// answering `.unavailable` until its own backoff (up to 5 s) runs out.
public final class ReconnectGate: Sendable {
    let connects = Atomic<UInt64>(0)

    public init() {}
}

/// Owns one `PGresult`; `PQclear` runs exactly once.
struct PostgresResult: ~Copyable {
    private let result: OpaquePointer?

    init(_ result: OpaquePointer?) {
        self.result = result
    }

    deinit {
        PQclear(result)
    }

    var status: ExecStatusType {
        guard let result else { return PGRES_FATAL_ERROR }
        return PQresultStatus(result)
    }

    func errorField(_ field: Int32) -> String? {
        guard let result, let value = PQresultErrorField(result, field) else { return nil }
        return String(cString: value)
    }

    func rows() -> PostgresRows {
        guard let result else { return PostgresRows(columns: [], rows: []) }
        let columnCount = PQnfields(result)
        let rowCount = PQntuples(result)
        let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        var rows: [[String?]] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            rows.append(
                (0..<columnCount).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                })
        }
        let affected = String(cString: PQcmdTuples(result))
        return PostgresRows(columns: columns, rows: rows, affectedRows: Int(affected) ?? 0)
    }
}

/// A statement's rows, copied out of libpq as text.
public struct PostgresRows: Sendable {
    public let columns: [String]
    public let rows: [[String?]]
    /// For INSERT/UPDATE/DELETE: how many rows were touched.
    public let affectedRows: Int

    init(columns: [String], rows: [[String?]], affectedRows: Int = 0) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    public var count: Int { rows.count }
    public var first: PostgresRow? { rows.isEmpty ? nil : PostgresRow(rows: self, index: 0) }
    public subscript(index: Int) -> PostgresRow { PostgresRow(rows: self, index: index) }
    public var all: [PostgresRow] { (0..<rows.count).map { PostgresRow(rows: self, index: $0) } }
}

public struct PostgresRow {
    let rows: PostgresRows
    let index: Int

    /// The text value of a column (nil for NULL or an unknown column).
    public subscript(_ column: String) -> String? {
        guard let position = rows.columns.firstIndex(of: column) else { return nil }
        return rows.rows[index][position]
    }

    public func int64(_ column: String) -> Int64? { self[column].flatMap { Int64($0) } }
    public func int(_ column: String) -> Int? { self[column].flatMap { Int($0) } }
    public func bool(_ column: String) -> Bool? { self[column].map { $0 == "t" } }
    /// A `bytea` column (text format `\x…`).
    public func bytes(_ column: String) -> [UInt8]? { self[column].flatMap(PostgresBytes.decode) }
}

/// `bytea` in PostgreSQL's hex text format.
public enum PostgresBytes {
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        out.reserveCapacity(2 + bytes.count * 2)
        Hex.append(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x") else { return nil }
        return Hex.decode(utf8.dropFirst(2))
    }
}
