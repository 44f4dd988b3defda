import Foundation

extension Storage {
    /// The number of lines `visit` names, counted up to `limit` (a result above `limit` means
    /// "more than `limit`": the count stops there). Blocks whose matching lines the index
    /// counts exactly (``ExactCounts``: a word, exact field values, their `and`s) are added up
    /// without decoding; the others are decoded and matched line by line.
    ///
    /// Throws `StorageError.queryTimeout` past the deadline and `queryCancelled` when it is
    /// cancelled: checked between blocks and every 128 lines, never a partial count.
    public func count(_ visit: LineVisit, upTo limit: Int = .max) throws -> Int {
        struct Reached: Error {}
        var count = 0
        do {
            try visitBlocks(
                visit,
                block: { block in
                    count += block.count
                    if count > limit { throw Reached() }
                    return true
                },
                line: { _ in
                    count += 1
                    if count > limit { throw Reached() }
                })
        } catch is Reached {
            return count
        }
        return count
    }

    /// `count` on a background thread with `visit`'s deadline, cancelled with the calling task.
    public func countAsync(_ visit: LineVisit, upTo limit: Int = .max) async throws -> Int {
        try await visitLinesAsync(visit) { storage, visit in try storage.count(visit, upTo: limit) }
    }
}
