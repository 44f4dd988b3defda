import Foundation

/// What retention and compaction did.
public struct MaintenanceReport: Sendable, Codable, Equatable {
    /// Segments (`YYYY-MM-DD`) dropped by retention.
    public var dropped: [String] = []
    /// Bytes of the dropped files.
    public var freedBytes: Int = 0
    /// True when the disk cap could not be met without dropping the current day.
    public var capUnmet = false
    /// Segments rewritten by compaction, with their sizes before and after.
    public var compacted: [String] = []
    public var bytesBefore: Int = 0
    public var bytesAfter: Int = 0
    /// Small blocks merged by compaction, and the blocks they became.
    public var blocksMerged: Int = 0
    public var blocksWritten: Int = 0

    public init() {}
}
