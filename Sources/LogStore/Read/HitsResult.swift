import Foundation

/// Counts of matching lines per time bucket and per stream.
public struct HitsResult: Sendable {
    /// Bucket start (ns) → count, ascending.
    public var buckets: [(start: Int64, count: Int)]
    /// Stream → count.
    public var byStream: [StreamID: Int]
    public var total: Int
    /// Blocks decompressed to count (the others were counted from the index alone).
    public var blocksRead: Int = 0
}
