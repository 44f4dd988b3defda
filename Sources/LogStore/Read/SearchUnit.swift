import Foundation

/// SearchUnit is one piece of search work in one segment: a sealed block, or the matching head
/// lines of one stream, with what the index knows of it (LSN and time bounds, exact count).
struct SearchUnit {
    /// What a stream's key says about a query.
    enum Verdict { case ruledOut, byMessage, everyLine }

    var stream: StreamID
    /// The block's first LSN (its key with `stream`); nil for the stream's head lines.
    var blockFirstLSN: LSN?
    /// For head units: the matching head lines, read in the snapshot that listed the units.
    var preloaded: [LogLine]
    /// Bounds of the LSNs of the unit's matching lines (from the index when it knows).
    var minLSN: LSN
    var maxLSN: LSN
    var minTimestamp: Int64
    var maxTimestamp: Int64
    /// For blocks: how many of its lines match, when the index (or the stream alone) says so
    /// exactly; nil when only decoding the block can tell.
    var exactCount: Int?
    /// For blocks: its number in the block directory, the lines it holds (matching or not) and
    /// its last LSN.
    var number: UInt32 = 0
    var lines: Int = 0
    var lastLSN: LSN = 0

    var isBlock: Bool { blockFirstLSN != nil }
}
