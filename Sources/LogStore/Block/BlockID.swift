import Synchronization

/// A sealed block as stored: which segment file (its path names the compaction generation),
/// its key, and its stored header's crc and payload size. A block rewritten under the same key
/// (compaction merging in place) or copied into a new generation gets another identity, so a
/// cache keyed by it never answers from a stale entry: stale entries are simply never asked
/// for again and age out.
public struct BlockID: Hashable, Sendable {
    let segment: String
    let key: [UInt8]
    let crc: UInt32
    let payloadSize: Int

    /// Bytes this identity costs as a cache key.
    public var memorySize: Int { segment.utf8.count + key.count + 64 }
}
