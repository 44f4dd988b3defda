import Synchronization

/// QueryDeadline bounds the work of one read request (a search, a `hits` count, a filtered
/// log-order read or the pages of a count): `check()` throws `StorageError.queryTimeout` once
/// `limit` has passed since the deadline was made, and `StorageError.queryCancelled` once
/// `cancel()` was called (the client went away) or the calling task is cancelled.
///
/// Reads check it between units of work (a segment, a block, a stream's head lines) and every
/// 128 lines inside one (`check(counting:)`: a block of a thousand lines matched against a
/// thousand clauses is a second of work), never on every line. A nil `limit` only cancels.
public final class QueryDeadline: Sendable {
    /// The time the work may take; nil for no limit.
    public let limit: Duration?
    /// When the work must stop (nil: never by time).
    public let end: ContinuousClock.Instant?
    private let cancelled = Atomic<Bool>(false)

    /// A deadline `limit` from `start` (no time limit when `limit` is nil).
    public init(limit: Duration?, from start: ContinuousClock.Instant = .now) {
        self.limit = limit
        end = limit.map { start.advanced(by: $0) }
    }

    /// Makes every later `check()` throw `StorageError.queryCancelled`. Safe from any thread.
    public func cancel() { cancelled.store(true, ordering: .relaxed) }

    /// True once `cancel()` was called.
    public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    /// Throws when the work must stop: cancelled (`queryCancelled`) or past the limit
    /// (`queryTimeout`).
    public func check() throws(StorageError) {
        if isCancelled || Task.isCancelled { throw .queryCancelled }
        if let end, let limit, ContinuousClock.now >= end { throw .queryTimeout(limit: limit) }
    }

    /// `check()` on every 128th call (`count` counts the calls): for loops over lines, where a
    /// clock read per line would be measurable.
    @inline(__always)
    public func check(counting count: inout Int) throws(StorageError) {
        count &+= 1
        if count & 127 == 0 { try check() }
    }
}
