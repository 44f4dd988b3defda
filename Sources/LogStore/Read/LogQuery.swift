import Foundation

/// A request for lines of some streams in log order.
public struct LogQuery: Sendable {
    /// The streams to read (one job, or every job of a workflow…).
    public var streams: [StreamID]
    /// Continue after (ascending) or before (descending) this position.
    public var after: LogPosition?
    /// At most this many lines.
    public var limit: Int
    public var order: ReadOrder
    /// Only lines with `from ≤ timestamp < to` (nanoseconds), when set.
    public var from: Int64?
    public var to: Int64?
    /// Only lines this query matches (full-text and field predicates), when set.
    public var filter: Query?
    /// Stops the read when it passes (`Storage.queryDeadline()` when nil). One deadline can
    /// span the pages of one request (a count reads page after page).
    public var deadline: QueryDeadline?
    /// Only lines committed at or before this LSN (a point-in-time snapshot), when set.
    public var throughLSN: LSN?
    /// When the lines reach the store's byte limit of a read (`StorageOptions.maxReadBytes`):
    /// false fails the read (`StorageError.answerTooLarge`); true ends the page early, cut and
    /// with its cursor, for callers that read page after page (`/v1/logs`).
    public var shortPages = false

    public init(
        streams: [StreamID], after: LogPosition? = nil, limit: Int = 1000, order: ReadOrder = .ascending, from: Int64? = nil,
        to: Int64? = nil, filter: Query? = nil, deadline: QueryDeadline? = nil, throughLSN: LSN? = nil
    ) {
        self.throughLSN = throughLSN
        self.streams = streams
        self.after = after
        self.limit = limit
        self.order = order
        self.from = from
        self.to = to
        self.filter = filter
        self.deadline = deadline
    }
}
