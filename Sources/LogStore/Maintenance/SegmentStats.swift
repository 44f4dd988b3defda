import Foundation

/// What `logstore stats` shows about one day segment.
public struct SegmentStats: Sendable, Codable, Equatable {
    public var name: String
    public var fileBytes: Int
    public var usedBytes: Int
    public var mapBytes: Int
    public var streams: Int
    public var lines: UInt64
    public var rawBytes: UInt64
    public var blocks: Int
    public var blockBytes: Int
    /// Lines in the head (not yet sealed into blocks).
    public var headLines: Int
    /// Lines in sealed blocks (`headLines + blockLines == lines`).
    public var blockLines: Int = 0
    public var maxLSN: UInt64
    /// Bytes of the full-text index (postings and block directory pages).
    public var indexBytes: Int
    /// Sealed blocks whose postings are still only in memory (flushed by the writer).
    public var pendingIndexBlocks: Int
    /// Bytes of LMDB's free pages inside the file (freed by deletes, reused by later writes;
    /// a compacted segment has none).
    public var freeBytes: Int = 0
    /// Bytes of LMDB's lock file beside the segment (`YYYY-MM-DD….mdb-lock`), and of both
    /// files: what the day costs on disk as `du -sb` counts it.
    public var lockBytes: Int = 0
    public var diskBytes: Int = 0
    /// Compactions this segment went through (its file is `YYYY-MM-DD.gN.mdb`).
    public var generation: Int
    /// `active` (today: receiving lines), `finished` (an earlier day), `compacted`.
    public var state: String
    /// False for a day compaction left without a token index (`--min-indexed-day`): searches
    /// read all of it.
    public var tokenIndex = true
}
