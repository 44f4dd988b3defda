import LogStore

/// IngestPipeline is the one way documents go from a decoded body into the store, shared by the
/// server's ingest endpoints and `logstore import`: the body is parsed into one `LineBatch`
/// (``BulkParser`` or ``LineFormatParser``), keyed by a `ChunkKey` of its bytes and what it was
/// sent to, and appended in one call, so a body stored before (a FluentBit retry, a file
/// imported twice) is recognised and not stored again.
///
/// Parsing borrows the body and returns owned values; storing is a separate, asynchronous step,
/// so callers can keep the body's buffer only as long as the parse.
public struct IngestPipeline: Sendable {
    /// The store the lines go to.
    public let storage: Storage
    /// The parser of `_bulk` bodies.
    public let bulkParser: BulkParser
    /// The parser of `http`-output bodies and plain NDJSON.
    public let lineParser: LineFormatParser

    /// Creates a pipeline into `storage` whose parsers share `documentParser`.
    public init(storage: Storage, documentParser: DocumentParser) {
        self.storage = storage
        bulkParser = BulkParser(documentParser: documentParser)
        lineParser = LineFormatParser(documentParser: documentParser)
    }

    /// Parses a `_bulk` body; `defaultIndex` is the index from the URL (or the importer's), used
    /// when an action names none. Returns the parse and the key the body is stored under.
    public func parseBulk(
        _ body: UnsafeBufferPointer<UInt8>, defaultIndex: String?, arrivalTime: Int64
    ) -> (BulkResult, ChunkKey) {
        let parsed = bulkParser.parseBatch(body, defaultIndex: defaultIndex, arrivalTime: arrivalTime)
        return (parsed, ChunkKey(body: UnsafeRawBufferPointer(body), context: "bulk:\(defaultIndex ?? "")"))
    }

    /// Parses a body in one of the ``LineFormat``s, every document into `index`. Returns the
    /// parse and the key the body is stored under.
    public func parseLines(
        _ body: UnsafeBufferPointer<UInt8>, format: LineFormat, index: String, arrivalTime: Int64
    ) -> (LineFormatResult, ChunkKey) {
        let parsed = lineParser.parseBatch(body, format: format, index: index, arrivalTime: arrivalTime)
        return (parsed, ChunkKey(body: UnsafeRawBufferPointer(body), context: "ingest:\(index):\(format.rawValue)"))
    }

    /// Makes `batch` durable (the call returns after the commit); nil for an empty batch. When
    /// `chunk` was stored before, nothing is stored and the receipt says `duplicateChunk`.
    public func store(_ batch: LineBatch, chunk: ChunkKey) async throws -> AppendReceipt? {
        guard batch.count > 0 else { return nil }
        return try await storage.append(batch, chunk: chunk)
    }
}
