import LogStore

/// BulkResult is a parsed bulk body: the lines to store and the outcome of each action.
public struct BulkResult: Sendable {
    /// The documents that parsed, as the engine stores them.
    public var batch = LineBatch(bytes: [], lines: [], streams: [])
    /// One entry per action, in request order.
    public var items: [Item] = []
    /// How many items failed.
    public var failures = 0

    /// The outcome of one action.
    public struct Item: Sendable, Equatable {
        /// The operation; `.index` when the action line was too malformed to tell.
        public var op: BulkOp
        /// 1-based line number (as in ``BulkItem/line``).
        public var line: Int
        /// Index of the document in `batch.lines`, or -1 on failure.
        public var document: Int32
        /// Why the item is not stored, or nil.
        public var error: IngestError?
    }

    public init() {}

    mutating func fail(_ op: BulkOp, line: Int, _ error: IngestError) {
        items.append(Item(op: op, line: line, document: -1, error: error))
        failures += 1
    }
}
