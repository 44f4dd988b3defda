import Foundation

/// DayWrite is everything one write transaction of a day segment stores, settled before the
/// transaction opens (so the closure depends only on it and runs again after a map resize).
struct DayWrite {
    /// Streams whose new lines go to the head.
    var toHead: [StreamID] = []
    /// Their new lines in LSN order, each with its stream: plain records (a line points into
    /// the commit's arena), so neither sorting nor writing them counts references.
    var headLines: [(stream: StreamID, line: LineView)] = []
    /// Streams sealed, their blocks, and the last head LSN each had (its new `sealed` mark;
    /// nil when it had no head lines).
    var toSeal: [StreamID] = []
    var blocks: [[Writer.SealedBlock]] = []
    var sealedThrough: [LSN?] = []
    /// Head entries below this LSN are deleted (all sealed), when set.
    var truncateBelow: LSN?
    /// Statistics the new lines add per stream, and the highest new LSN.
    var deltas: [StreamID: StreamStats] = [:]
    var maxLSN: LSN = 0
    /// Streams already recorded in the segment; keys of those that are not.
    var members: Set<StreamID> = []
    var keyOf: [StreamID: StreamKey] = [:]
    /// Document ids to record, and chunk records.
    var documents: [(key: [UInt8], lsn: LSN, stream: StreamID)] = []
    var chunks: [Writer.ChunkWrite] = []
    var arrival: Int64 = 0
}
