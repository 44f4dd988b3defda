import Foundation

/// What `logstore stats` shows about the whole store.
public struct StoreStats: Sendable, Codable, Equatable {
    public var directory: String
    public var formatVersion: UInt32
    public var segments: [SegmentStats]
    public var streams: Int
    public var lines: UInt64
    /// Bytes of message text plus fields as received.
    public var rawBytes: UInt64
    /// Bytes on disk as `du -sb` counts them: every file of the data directory (segments,
    /// catalog, their LMDB lock files, the directory lock) and the directories themselves.
    public var storedBytes: Int
    /// Bytes of LMDB pages in use (a file may hold free pages after deletes).
    public var usedBytes: Int
    /// Bytes of LMDB free pages in all segments.
    public var freeBytes: Int = 0
    public var blockBytes: Int
    /// Bytes of the full-text index in all segments.
    public var indexBytes: Int
    /// Bytes of LMDB lock files (`-lock`), included in `storedBytes`.
    public var lockBytes: Int = 0
    /// storedBytes / rawBytes.
    public var ratio: Double
    public var oldest: Int64?
    public var newest: Int64?
    public var lastLSN: UInt64
}
