/// A stored line as read back.
public struct LogLine: Sendable, Equatable {
    public var lsn: LSN
    public var timestamp: Int64
    public var stream: StreamID
    public var message: String
    public var fields: String

    public init(lsn: LSN, timestamp: Int64, stream: StreamID, message: String, fields: String) {
        self.lsn = lsn
        self.timestamp = timestamp
        self.stream = stream
        self.message = message
        self.fields = fields
    }

    /// The line's position in log order.
    public var position: LogPosition { LogPosition(timestamp: timestamp, lsn: lsn) }
}
