import CLibPQ

/// Why a statement failed. `description` is log-safe: the server's primary message and
/// SQLSTATE, never the parameters.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// No connection could be opened (or we are backing off); nothing ran.
        case unavailable
        /// The connection broke during the statement; it may or may not have run.
        case connectionLost
        /// The server refused the statement (constraint, syntax, timeout…).
        case statementFailed
    }

    public var kind: Kind
    public var sqlState: String?
    public var message: String

    public static let uniqueViolation = "23505"
    public static let foreignKeyViolation = "23503"
    public static let checkViolation = "23514"
    public static let serializationFailure = "40001"
    public static let deadlockDetected = "40P01"
    public static let queryCanceled = "57014"

    init(kind: Kind, sqlState: String? = nil, message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    init(result: borrowing PostgresResult, connection: OpaquePointer) {
        let state = result.errorField(clibpq_diag_sqlstate)
        let primary = result.errorField(Int32(UInt8(ascii: "M"))) ?? Self.firstLine(String(cString: PQerrorMessage(connection)))
        if PQstatus(connection) == CONNECTION_BAD {
            self.init(kind: .connectionLost, sqlState: state, message: primary)
        } else {
            self.init(kind: .statementFailed, sqlState: state, message: primary)
        }
    }

    public var description: String {
        "PostgresError(\(kind.rawValue)\(sqlState.map { ", \($0)" } ?? ""): \(message))"
    }

    static func firstLine(_ text: String) -> String {
        String(text.split(separator: "\n", maxSplits: 1).first ?? "")
    }
}
