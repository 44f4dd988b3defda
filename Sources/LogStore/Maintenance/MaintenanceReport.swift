import Foundation

/// What retention and compaction did.
public struct MaintenanceReport: Sendable, Codable, Equatable {
    /// Segments (`YYYY-MM-DD`) dropped by retention.
    public var dropped: [String] = []
    /// Bytes of the dropped files.
    public var freedBytes: Int = 0
    /// True when the disk cap could not be met without dropping the current day.
    public var capUnmet = false
    /// Segments compaction went through (rewritten or kept), and the sum of their bytes on
    /// disk (data file and lock file, as `du -sb` counts them) before and after, the catalog's
    /// included.
    public var compacted: [String] = []
    public var bytesBefore: Int = 0
    public var bytesAfter: Int = 0
    /// Small blocks merged by compaction, and the blocks they became.
    public var blocksMerged: Int = 0
    public var blocksWritten: Int = 0
    /// Each day compaction went through, in `compacted`'s order.
    public var days: [CompactedDay] = []
    /// The catalog (`catalog.mdb` and its lock file; named so), rewritten or kept after the days.
    public var catalog: CompactedDay?
    /// `du -sb` of the whole data directory when compaction started and when it ended.
    public var directoryBytesBefore: Int = 0
    public var directoryBytesAfter: Int = 0

    public init() {}

    /// Adds a compaction's figures to this (retention's) report.
    public mutating func add(compaction: MaintenanceReport) {
        compacted += compaction.compacted
        bytesBefore += compaction.bytesBefore
        bytesAfter += compaction.bytesAfter
        blocksMerged += compaction.blocksMerged
        blocksWritten += compaction.blocksWritten
        days += compaction.days
        if let other = compaction.catalog { catalog = other }
        directoryBytesBefore = compaction.directoryBytesBefore
        directoryBytesAfter = compaction.directoryBytesAfter
    }
}

/// What compaction did to one day (or to the catalog).
public struct CompactedDay: Sendable, Codable, Equatable {
    /// `YYYY-MM-DD`.
    public var name: String
    /// The day's data file and lock file (`du -sb`) when compaction took it up and when it left it.
    public var bytesBefore: Int
    public var bytesAfter: Int
    /// True when the day was not rewritten: the rewrite would not have been smaller (or
    /// there was nothing to rewrite), so the file stayed as it was.
    public var kept: Bool
    /// Small blocks merged, and the blocks they became.
    public var blocksMerged: Int
    public var blocksWritten: Int

    public init(name: String, bytesBefore: Int, bytesAfter: Int, kept: Bool, blocksMerged: Int = 0, blocksWritten: Int = 0) {
        self.name = name
        self.bytesBefore = bytesBefore
        self.bytesAfter = bytesAfter
        self.kept = kept
        self.blocksMerged = blocksMerged
        self.blocksWritten = blocksWritten
    }
}
