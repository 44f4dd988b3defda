/// Line counts and time range of a stream (in one segment, or in all of them).
public struct StreamStats: Sendable, Equatable {
    public var lines: UInt64 = 0
    public var rawBytes: UInt64 = 0
    public var firstTimestamp: Int64 = .max
    public var lastTimestamp: Int64 = .min
    public var lastLSN: LSN = 0

    public init() {}

    public mutating func add(timestamp: Int64, lsn: LSN, rawBytes: Int) {
        lines += 1
        self.rawBytes += UInt64(rawBytes)
        firstTimestamp = min(firstTimestamp, timestamp)
        lastTimestamp = max(lastTimestamp, timestamp)
        lastLSN = max(lastLSN, lsn)
    }

    public mutating func merge(_ other: StreamStats) {
        lines += other.lines
        rawBytes += other.rawBytes
        firstTimestamp = min(firstTimestamp, other.firstTimestamp)
        lastTimestamp = max(lastTimestamp, other.lastTimestamp)
        lastLSN = max(lastLSN, other.lastLSN)
    }
}
