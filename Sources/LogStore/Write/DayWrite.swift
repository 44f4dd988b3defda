import Foundation

/// DayWrite is everything one write transaction of a day segment stores, settled before the
/// transaction opens (so the closure depends only on it and runs again after a map resize).
struct DayWrite {
    /// Streams whose new lines go to the head, and those lines.
    var toHead: [StreamID] = []
    var headGroups: [[LineView]] = []
    /// The head lines in LSN order, as (LSN, index in `headGroups`, index in the group):
    /// plain records, so sorting them counts no references.
    var headOrder: [(lsn: LSN, group: Int32, line: Int32)] = []
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
