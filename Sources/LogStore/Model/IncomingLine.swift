/// IncomingLine is one line handed to `Storage.append`, before it has an LSN (a batch of them
/// becomes a ``LineBatch``; the ingest path builds the batch directly).
public struct IncomingLine: Sendable, Equatable {
    public var stream: StreamKey
    /// Event time, nanoseconds since the Unix epoch, UTC.
    public var timestamp: Int64
    /// The message (`log` field), UTF-8.
    public var message: [UInt8]
    /// The document's other fields as a compact JSON object (`{}` when none).
    public var fields: [UInt8]
    /// The document id the sender gave (bulk `_id`): a line whose id is stored in its index
    /// already is refused (a conflict), or replaces it when `overwrite` is set.
    public var id: String?
    /// True for bulk `index` (replace a stored document with the same id), false for `create`.
    public var overwrite: Bool

    public init(
        stream: StreamKey, timestamp: Int64, message: [UInt8], fields: [UInt8] = Array("{}".utf8), id: String? = nil,
        overwrite: Bool = false
    ) {
        self.stream = stream
        self.timestamp = timestamp
        self.message = message
        self.fields = fields
        self.id = id
        self.overwrite = overwrite
    }

    public init(stream: StreamKey, timestamp: Int64, message: String, fields: String = "{}") {
        self.init(stream: stream, timestamp: timestamp, message: Array(message.utf8), fields: Array(fields.utf8))
    }

    /// Bytes this line counts as in "raw bytes" statistics.
    public var rawSize: Int { message.count + fields.count }

    /// The message as a String (invalid UTF-8 repaired).
    public var messageString: String { String(decoding: message, as: UTF8.self) }
    /// The fields object as a String.
    public var fieldsString: String { String(decoding: fields, as: UTF8.self) }
}
