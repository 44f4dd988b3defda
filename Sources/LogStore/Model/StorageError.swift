/// Errors the engine reports to its callers.
public enum StorageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Another process holds the data directory's lock.
    case locked(path: String, owner: String)
    /// The directory was written by a newer, incompatible format.
    case unsupportedFormat(found: UInt32, supported: UInt32)
    /// The writer queue is full; retry later (HTTP 503).
    case overloaded(queuedLines: Int)
    /// The store was closed.
    case closed
    /// The store is open read-only.
    case readOnly
    /// A line was refused before anything was stored.
    case invalidLine(String)
    /// A file or directory operation failed.
    case io(String)
    /// A read ran past its time limit (`QueryDeadline`, `StorageOptions.queryTimeout`) and was
    /// stopped; nothing partial is returned.
    case queryTimeout(limit: Duration)
    /// A read was cancelled (its client went away) and stopped.
    case queryCancelled
    /// A read would hold more than `limit` bytes of lines for its answer
    /// (`StorageOptions.maxReadBytes`) and was stopped; nothing partial is returned.
    case answerTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .locked(let path, let owner):
            return "data directory \(path) is in use by another logstore process (\(owner)); stop it or use its HTTP API"
        case .unsupportedFormat(let found, let supported):
            return "data directory has format version \(found); this logstore reads version \(supported) (export with the logstore that wrote it, or re-import)"
        case .overloaded(let queued): return "writer queue is full (\(queued) lines waiting); retry later"
        case .closed: return "the store is closed"
        case .readOnly: return "the store is open read-only"
        case .invalidLine(let why): return "invalid line: \(why)"
        case .io(let why): return why
        case .queryTimeout(let limit):
            return "the query ran longer than the time limit of \(Self.seconds(limit)) s and was stopped; narrow it (a time window, fewer clauses, one job)"
        case .queryCancelled: return "the query was cancelled (the client went away)"
        case .answerTooLarge(let limit):
            let size = limit >= 1 << 20 && limit % (1 << 20) == 0 ? "\(limit >> 20) MiB" : "\(limit) bytes"
            return "the answer would hold more than \(size) of log lines (the limit of one read, serve --max-read-bytes); ask for fewer lines (size) or narrow the query"
        }
    }

    /// `limit` in seconds, with up to three decimals.
    private static func seconds(_ limit: Duration) -> String {
        let ms = limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)" : "\(Double(ms) / 1000)"
    }
}
