/// A stream as the store knows it.
public struct StreamInfo: Sendable, Equatable {
    public var id: StreamID
    public var key: StreamKey
    public var stats: StreamStats
    /// The days (UTC, days since the epoch) holding lines of this stream, ascending.
    public var days: [Int32]
}
