/// What a successful `append` reports.
public struct AppendReceipt: Sendable, Equatable {
    /// LSNs given to the lines, in the order they were passed (0…0 for an empty append).
    public var firstLSN: LSN
    public var lastLSN: LSN
    /// Lines passed.
    public var count: Int
    /// True when the chunk key was seen before: nothing was stored this time, and the LSNs are
    /// those of the first time.
    public var duplicateChunk: Bool = false
    /// Lines not stored because a line with the same `id` was stored before (or comes earlier
    /// in the batch) and they do not replace it: ``conflicts`` counted.
    public var duplicateIDs: Int = 0
    /// Indices (in the appended batch) of the lines refused because their `id` is stored in
    /// their index already (bulk `create`: a 409 per item).
    public var conflicts: [Int32] = []
    /// Indices (in the appended batch) of the lines that replaced a stored document with the
    /// same `id` (bulk `index`: "updated").
    public var replaced: [Int32] = []
    /// Lines not stored because their day already held this chunk: a resend of a body whose
    /// days were only partly committed (a crash between two days' commits). The LSNs are those
    /// of the lines stored this time.
    public var linesStoredBefore: Int = 0

    public init(
        firstLSN: LSN, lastLSN: LSN, count: Int, duplicateChunk: Bool = false, duplicateIDs: Int = 0, linesStoredBefore: Int = 0
    ) {
        self.firstLSN = firstLSN
        self.lastLSN = lastLSN
        self.count = count
        self.duplicateChunk = duplicateChunk
        self.duplicateIDs = duplicateIDs
        self.linesStoredBefore = linesStoredBefore
    }
}
