/// One log document, reduced to what the store keeps.
public struct ParsedDocument: Sendable, Equatable {
    /// The index it was sent to (bulk `_index`, or the request's default index).
    public var index: String
    /// The workflow id ("" when the mapping found none).
    public var workflow: String
    /// The job name ("" when the mapping found none).
    public var job: String
    /// Event time, nanoseconds since the Unix epoch, UTC (arrival time when the document has none).
    public var timestamp: Int64
    /// The decoded UTF-8 message; the raw JSON text when the message is not a string; empty if absent.
    public var message: [UInt8]
    /// A compact JSON object of every top-level member except the message and timestamp members
    /// used, values spliced as received (`{"stream":"stdout"}`); `{}` when none.
    public var fields: [UInt8]
    /// The bulk `_id`, when the action line gave one.
    public var id: String?

    /// Creates a document.
    public init(
        index: String, workflow: String, job: String, timestamp: Int64, message: [UInt8], fields: [UInt8],
        id: String? = nil
    ) {
        self.index = index
        self.workflow = workflow
        self.job = job
        self.timestamp = timestamp
        self.message = message
        self.fields = fields
        self.id = id
    }

    /// The message as a String.
    public var messageString: String { String(decoding: message, as: UTF8.self) }
    /// The fields object as a String.
    public var fieldsString: String { String(decoding: fields, as: UTF8.self) }
}
