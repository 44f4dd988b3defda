import CLMDB

/// An error returned by an LMDB call, carrying LMDB's own message.
public struct LMDBError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The raw return code (an `errno` value or one of LMDB's `MDB_*` codes).
    public let code: Int32
    /// What was being done when the call failed, e.g. `"mdb_put(head)"`.
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// LMDB's description of `code` (`mdb_strerror`).
    public var message: String { String(cString: mdb_strerror(code)) }

    public var description: String { "\(operation): \(message) (\(code))" }

    /// The map is full: the environment must grow before the transaction is retried.
    public var isMapFull: Bool { code == MDB_MAP_FULL }
    /// Another process grew the map: adopt the new size and retry.
    public var isMapResized: Bool { code == MDB_MAP_RESIZED }
    /// The disk is full (`ENOSPC`) or over quota.
    public var isDiskFull: Bool { code == 28 || code == 122 }
}

@inline(__always)
func lmdbCheck(_ rc: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    if rc != 0 { throw LMDBError(code: rc, operation: operation()) }
}
