import LogStore

/// BulkItem is the outcome of one bulk action with its document as a stand-alone line (for
/// tests and tools; the ingest path uses ``BulkResult``).
public struct BulkItem: Sendable, Equatable {
    /// The operation; `.index` when the action line was too malformed to tell.
    public var op: BulkOp
    /// 1-based line number in the body: the document line, or the action line when the problem
    /// is the action itself (bad action, `delete`, missing document).
    public var line: Int
    /// The parsed document, or why this item cannot be stored.
    public var result: Result<IncomingLine, IngestError>

    /// Creates an item.
    public init(op: BulkOp, line: Int, result: Result<IncomingLine, IngestError>) {
        self.op = op
        self.line = line
        self.result = result
    }
}
