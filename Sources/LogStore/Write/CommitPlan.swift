import Foundation

/// CommitPlan is a batch of queued appends once the writer gave their lines LSNs: the lines per
/// day and stream (pointing into the commit's arena), the document ids per day, each append's
/// receipt, which appends repeat a chunk, and the streams first seen in the batch.
struct CommitPlan {
    var groups: [Int32: [StreamID: [LineView]]] = [:]
    /// The lines with a client `_id`, in LSN order.
    var documents: [PlannedDocument] = []
    /// Per pending append: its receipt (a known chunk's first receipt, marked duplicate), or nil
    /// when it repeats the chunk of an earlier append of this batch (`sameAs`).
    var receipts: [AppendReceipt?] = []
    /// Pending index → the earlier pending index with the same chunk.
    var sameAs: [Int: Int] = [:]
    /// Pending index of an append with a new chunk → the days its lines went to.
    var chunkDays: [Int: Set<Int32>] = [:]
    var newStreams: [(StreamID, StreamKey)] = []
    /// The last LSN given (the batch's first LSN − 1 when none was).
    var lastLSN: LSN = 0
}
