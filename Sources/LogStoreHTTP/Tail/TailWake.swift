import LogStore
import Synchronization

/// Why a waiting tail request was resumed.
enum TailWake: Sendable, Equatable {
    /// A commit touched one of its streams (or a new stream it may select appeared).
    case commit
    /// Its deadline passed.
    case timeout
    /// Its client closed the connection.
    case clientGone
    /// The server is shutting down.
    case shutdown
}
