import Foundation

/// Options of a store; defaults come from `Limits`.
public struct StorageOptions: Sendable {
    public var readOnly = false
    public var sealLines = Limits.sealLines
    public var sealBytes = Limits.sealBytes
    public var sealAge = Limits.sealAge
    public var compressionLevel = Limits.compressionLevel
    /// zlib level of the blocks a compaction rewrites (`Limits.compactionLevel`).
    public var compactionLevel = Limits.compactionLevel
    /// Most lines and raw bytes of a block compaction merges; by default
    /// `Limits.compactedBlockFactor` × `sealLines` / `sealBytes`.
    public var compactedBlockLines: Int?
    public var compactedBlockBytes: Int?
    public var segmentMapSize = Limits.segmentMapSize
    public var maxQueuedLines = Limits.maxQueuedLines
    public var maxLinesPerCommit = Limits.maxLinesPerCommit
    public var maxBytesPerCommit = Limits.maxBytesPerCommit
    public var dedupWindow = Limits.dedupWindow
    /// Index sealed blocks for full-text search (off only to measure what indexing costs:
    /// without it every search scans).
    public var fullTextIndex = true
    /// A compacted day with fewer raw bytes of log text than this keeps no token index
    /// (`Limits.minIndexedDayBytes`; 0 indexes every day). Decided at each compaction of a day.
    public var minIndexedDayBytes = Limits.minIndexedDayBytes
    /// Compaction writes a day's tables as key ranges of one LMDB table (`Keys.segmentShared`),
    /// and a new catalog keeps its tables in one (`Keys.catalogShared`); false writes a table
    /// each, as format 3 did (tests of reading such files).
    public var sharedTables = true
    /// Pending blocks that make the writer flush a segment's postings (`Limits.indexFlushBlocks`);
    /// `Int.max` never flushes (tests of the rebuild at open).
    public var indexFlushBlocks = Limits.indexFlushBlocks
    /// Memory of all segments' pending postings that makes the writer flush them (`Limits.indexFlushBytes`).
    public var indexFlushBytes = Limits.indexFlushBytes
    /// How often the writer gives back the free pages of days mostly made of them
    /// (`Limits.freePagesCheck`; zero never does).
    public var freePagesCheck = Limits.freePagesCheck
    /// Free bytes a day needs (besides being half free) to give them back (`Limits.releaseFreeBytes`).
    public var releaseFreeBytes = Limits.releaseFreeBytes
    /// An idle writer flushes the pending postings after this long (`Limits.indexFlushIdle`).
    public var indexFlushIdle = Limits.indexFlushIdle
    /// Tokens written per transaction of a flush (`Limits.indexFlushTokens`).
    public var indexFlushTokens = Limits.indexFlushTokens
    /// Bytes of decoded blocks kept for repeated reads (`Limits.blockCacheBytes`); 0 turns the cache off.
    public var blockCacheBytes = Limits.blockCacheBytes
    /// Day segments kept open at once (`Limits.maxOpenSegments`); idle ones past it are closed
    /// and reopened by their next read or write.
    public var maxOpenSegments = Limits.maxOpenSegments
    /// The time limit of a read that brings no `QueryDeadline` of its own (nil: none, the
    /// engine's default for tools; the server sets `Limits.queryTimeout`).
    public var queryTimeout: Duration?
    /// Bytes of lines one read may hold for its answer (`Limits.maxReadBytes`).
    public var maxReadBytes = Limits.maxReadBytes

    /// When an append is acknowledged (`Durability`); `.fsync` unless asked otherwise.
    public var durability = Durability.fsync

    public init(readOnly: Bool = false) { self.readOnly = readOnly }

    /// Most lines and raw bytes of a block compaction merges.
    var mergedBlockLines: Int { compactedBlockLines ?? Limits.compactedBlockFactor * sealLines }
    var mergedBlockBytes: Int { compactedBlockBytes ?? Limits.compactedBlockFactor * sealBytes }

    /// The wall-clock time (ns) before which a chunk record is past `dedupWindow`: no resend
    /// is compared with it any more.
    func dedupCutoff() -> Int64 {
        Writer.wallClock() - Int64(dedupWindow.components.seconds) * 1_000_000_000
    }
}

/// When `append` returns (when the server acknowledges a request).
public enum Durability: Sendable, Equatable, CustomStringConvertible {
    /// After the lines are on disk (each commit synced): nothing acknowledged is lost to a
    /// crash of the process, of the operating system or of the power.
    case fsync
    /// After the commit reaches the operating system (written, not synced); the writer syncs
    /// what it committed at least every `syncEvery`. Survives the process being killed like
    /// `.fsync`; a power loss or kernel crash can lose what was acknowledged in the last
    /// `syncEvery`.
    case written(syncEvery: Duration)

    public var description: String {
        switch self {
        case .fsync: return "fsync"
        case .written(let every):
            let ms = every.components.seconds * 1000 + every.components.attoseconds / 1_000_000_000_000_000
            return "written:\(ms)ms"
        }
    }
}
