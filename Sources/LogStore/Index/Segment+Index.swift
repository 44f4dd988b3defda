import Foundation

// The full-text index of a segment (see docs/ARCHITECTURE.md, "Full-text index"):
//
// - Every sealed block gets a number (sealing order) and an entry in the block directory
//   (`BlockRef`): stream, LSN range, time range, line count.
// - `postings` maps each token to the blocks whose messages hold it, with, per block, how many
//   lines hold it (exact counts for `hits` without decompressing) and the highest such LSN (so a
//   newest-first search reads the blocks most likely to hold the newest matches first, and
//   stops early).
// - Sealing adds a block's tokens to the segment's in-memory `PendingIndex` after the seal commits;
//   the writer flushes it to `postings` every `Limits.indexFlushBlocks` blocks (or after
//   `Limits.indexFlushAge`), appending to each token's last entry while it is small. Blocks above
//   `indexedBlocks` are re-tokenized from their blocks at open, so the index is never a second
//   source of truth: a crash loses nothing.
// - Readers combine the stored postings (blocks below the `indexedBlocks` their transaction sees),
//   the pending index (blocks it covers) and treat every other block as a candidate to scan.

extension Segment {
    /// (indexedBlocks, nextBlock) as seen by `txn`.
    func indexState(_ txn: borrowing LMDBTransaction) throws -> (indexed: UInt32, next: UInt32) {
        let indexed = try txn.get(meta, Keys.metaIndexedBlocks).map { try Keys.decodeU32($0) } ?? 0
        let next = try txn.get(meta, Keys.metaNextBlock).map { try Keys.decodeU32($0) } ?? 0
        return (indexed, next)
    }

    /// Re-tokenizes the blocks sealed after the last flush into the pending index (at open).
    func recoverPendingIndex() throws -> Int {
        guard pending.accepts else { return 0 }
        let (indexed, next) = try SegmentSnapshot.read(self) { try $0.indexState() }
        return try tokenize(indexed..<next)
    }

    /// Adds the tokens of the blocks numbered `numbers` (those still in the directory) to the
    /// pending index; returns how many blocks that was.
    func tokenize(_ numbers: Range<UInt32>) throws -> Int {
        guard !numbers.isEmpty else { return 0 }
        return try SegmentSnapshot.read(self) { snapshot in
            var added = 0
            for number in numbers {
                guard let ref = try snapshot.blockRef(number), let block = try snapshot.block(stream: ref.stream, firstLSN: ref.firstLSN)
                else { continue }
                pending.add(number, BlockTokens(block: try snapshot.decode(block)))
                added += 1
            }
            return added
        }
    }

    /// Bytes of the block directory and postings, appendable and packed (pages × page size,
    /// and the bytes of the runs stored in `packs`).
    func indexBytes(_ txn: borrowing LMDBTransaction) throws -> Int {
        var runs = 0
        var packed = 0
        if let table = postingRuns {
            runs = try txn.pages(table)
            try txn.scan(table) { _, v in
                if v.first == PostingRuns.pointerTag { packed += try PostingRuns.run(txn, packs: packs, v).count }
                return true
            }
        }
        return (try txn.pages(postings) + txn.pages(blockDir) + runs) * env.info().pageSize + packed
    }
}
