import Foundation

/// A full-text search: which lines, in which window, how many, which way.
public struct SearchRequest: Sendable {
    public var query: Query
    /// Only lines with `from ≤ timestamp < to` (nanoseconds), when set.
    public var from: Int64?
    public var to: Int64?
    public var limit: Int
    /// `.descending` (default): most recently stored first, by LSN.
    public var order: ReadOrder
    /// Continue after this LSN (the `next` of the previous page).
    public var cursor: LSN?
    /// Stops the search when it passes (`Storage.queryDeadline()` when nil).
    public var deadline: QueryDeadline?

    public init(
        query: Query, from: Int64? = nil, to: Int64? = nil, limit: Int = 100, order: ReadOrder = .descending, cursor: LSN? = nil,
        deadline: QueryDeadline? = nil
    ) {
        self.query = query
        self.from = from
        self.to = to
        self.limit = limit
        self.order = order
        self.cursor = cursor
        self.deadline = deadline
    }
}
