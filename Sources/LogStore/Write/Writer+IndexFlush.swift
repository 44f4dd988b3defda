import Foundation

extension Writer {
    /// Writes the segment's pending postings into `postings`: each token's postings are appended
    /// to its last entry while that is under `Postings.appendLimit` bytes, else start a new entry.
    /// Writer thread only.
    ///
    /// The tokens go in byte-order runs of `Limits.indexFlushTokens`, one transaction each, and
    /// only the last one advances `indexedBlocks`: readers ignore stored postings of blocks at or
    /// above it (the pending index still answers for them), so a half-done flush is invisible,
    /// and after a crash the blocks are re-tokenized and flushed again, appending only postings
    /// above each token's last stored block. Small transactions matter for memory: LMDB keeps
    /// every page a write transaction dirtied in a private free list for the life of the
    /// environment, so the largest transaction sets the heap (a flush in one transaction
    /// rewrites most of the postings tree).
    func flushIndex(_ segment: Segment) throws {
        let (entries, top) = segment.pending.snapshot()
        guard let top else { return }
        let run = max(1, options.indexFlushTokens)
        var start = 0
        repeat {
            let end = min(entries.count, start + run)
            try segment.env.write { txn in
                for (token, unsorted) in entries[start..<end] {
                    var postings = unsorted.sorted { $0.block < $1.block }
                    var w = ByteWriter(capacity: 64)
                    if let (k, v) = try txn.last(segment.postings, prefix: token + [0]) {
                        let lastBlock = try Postings.lastBlock(key: k, value: v)
                        postings.removeAll { $0.block <= lastBlock }  // stored before a crash
                        if postings.isEmpty { continue }
                        if v.count < Postings.appendLimit {
                            let key = k.array
                            w.append(v)
                            Postings.encode(postings, after: lastBlock, into: &w)
                            try txn.put(segment.postings, key, w.bytes)
                            continue
                        }
                    }
                    Postings.encode(postings, after: postings[0].block, into: &w)
                    try txn.put(segment.postings, Keys.postingsKey(token, firstBlock: postings[0].block), w.bytes)
                }
                if end == entries.count {
                    let (indexed, next) = try segment.indexState(txn)
                    let through = min(next, top + 1)
                    if through > indexed { try txn.put(segment.meta, Keys.metaIndexedBlocks, Keys.u32(through)) }
                }
            }
            start = end
        } while start < entries.count
        segment.pending.clear()
    }

    /// Flushes the pending index of every segment that has enough of it (every one when all
    /// together hold `indexFlushBytes` of memory; any, when `all`,
    /// or when `idle` — nothing committed for `indexFlushIdle` — and no block was added
    /// to it for as long: once the last heads of a burst are sealed, one flush).
    func flushIndexes(all: Bool, idle: Bool = false) {
        if options.indexFlushBlocks == .max { return }  // tests: postings stay in memory, rebuilt at open
        let segments = shared.state.withLock { Array($0.segments.values) }
        let now = ContinuousClock.now
        // Over the memory bound, every segment's pending postings go to disk.
        let full = segments.reduce(0) { $0 + $1.pending.approximateBytes } >= options.indexFlushBytes
        for segment in segments {
            let count = segment.pending.blockCount
            guard count > 0 else { continue }
            let old = segment.pending.oldest.map { now - $0 >= Limits.indexFlushAge } ?? false
            let quiet = idle && (segment.pending.newest.map { now - $0 >= options.indexFlushIdle } ?? false)
            guard all || full || quiet || count >= options.indexFlushBlocks || old else { continue }
            do {
                try flushIndex(segment)
            } catch {
                logger.error("flushing the full-text index failed", metadata: ["segment": "\(segment.name)", "error": "\(error)"])
            }
        }
    }
}
