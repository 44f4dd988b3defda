import Foundation

extension Writer {
    /// Seals a day's heads, merges its small blocks and writes a compacted copy of its
    /// segment; swaps the copy in when it is smaller than the file as it stands, else drops it
    /// and keeps the day as it is. Returns what it did (nil when the day has no segment).
    ///
    /// A day with less raw log text than `minIndexedDayBytes` is written without a token
    /// index (`Keys.metaUnindexed`); a day without one that has grown past it gets its index
    /// back first (`reindex`). Writer thread only.
    func compactSegment(_ day: Int32) throws -> CompactedDay? {
        guard var segment = shared.state.withLock({ $0.segments[day] }) else { return nil }
        let before = segment.diskBytes
        let hadHeads = heads[day].map { !$0.isEmpty } ?? false
        let wasUnindexed = !segment.pending.accepts
        let raw = try rawBytes(segment)
        let unindexed = options.fullTextIndex && raw < UInt64(max(0, options.minIndexedDayBytes))
        if options.fullTextIndex && wasUnindexed && !unindexed { try reindex(segment) }
        while let pending = heads[day], !pending.isEmpty {
            _ = try write(segment: segment, group: [:], seal: Set(pending.keys.prefix(Self.sealBudgetStreams)))
        }
        // The blocks these remove leave the block directory; the rewrite drops their postings.
        let purged = try purgeDeleted(segment)
        let merge = try mergeSmallBlocks(segment)
        if options.fullTextIndex { try flushIndex(segment) }
        var result = CompactedDay(
            name: segment.name, bytesBefore: before, bytesAfter: before, kept: true, blocksMerged: merge.removed.count, blocksWritten: merge.written)
        // A compacted day nothing was added to or removed from: the copy would be the same file
        // (unless it would leave out chunk records past the dedup window, or the free pages
        // their pruning left: a day compacted within the window of its last requests).
        if segment.generation > 0 && !hadHeads && purged.isEmpty && merge.removed.isEmpty && unindexed == wasUnindexed,
            try !hasSpaceToGiveBack(segment)
        {
            result.bytesAfter = segment.diskBytes
            return result
        }
        let generation = segment.generation + 1
        let target = segmentsDirectory + "/" + Segment.fileName(day: day, generation: generation)
        let temporary = target + ".tmp"
        try? FileManager.default.removeItem(atPath: temporary)
        try? FileManager.default.removeItem(atPath: temporary + "-lock")
        let started = ContinuousClock.now
        try catalog.recordMissing(of: segment)
        let written = try writeCompacted(segment, to: temporary, index: !unindexed)
        try? FileManager.default.removeItem(atPath: temporary + "-lock")
        // Opened, the copy gets a fresh lock file (an older day may have a bigger one).
        let current = segment.diskBytes
        let rewritten = DiskUsage.file(temporary) + Segment.lockFileBytes(readers: Segment.compactedReaders)
        guard rewritten < current else {
            try? FileManager.default.removeItem(atPath: temporary)
            logger.info(
                "segment kept: its compacted copy is not smaller",
                metadata: ["segment": "\(segment.name)", "file": "\(current)", "copy": "\(rewritten)"])
            result.bytesAfter = current
            return result
        }
        try syncFile(temporary)
        guard rename(temporary, target) == 0 else {
            throw StorageError.io("cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
        syncDirectory(segmentsDirectory)
        let fresh = try Segment(directory: segmentsDirectory, day: day, generation: generation, readOnly: false, mapSize: options.segmentMapSize, pool: shared.segmentPool)
        if options.fullTextIndex { _ = try fresh.recoverPendingIndex() }
        shared.state.withLock { $0.segments[day] = fresh }
        segment.unlink()
        syncDirectory(segmentsDirectory)
        segment = fresh
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        logger.info(
            "segment rewritten",
            metadata: [
                "segment": "\(Day.name(day))", "blocks": "\(written.blocks) (\(written.reencoded) re-encoded)",
                "raw MB": "\(written.rawBytes / 1_000_000)", "block bytes": "\(written.blockBytes)", "packs": "\(written.packs)", "shared frames": "\(written.frames)",
                "postings runs": "\(written.runs) (\(written.runBytes) bytes)", "dictionary bytes": "\(written.dictionaryBytes)",
                "seconds": "\(seconds)",
            ])
        result.kept = false
        result.bytesAfter = fresh.diskBytes
        return result
    }

    /// Whether a copy of `segment` would leave something out that nothing else changed: chunk
    /// records past the dedup window (`writeCompacted` keeps only later ones), or free pages.
    private func hasSpaceToGiveBack(_ segment: Segment) throws -> Bool {
        let expired = try SegmentSnapshot.read(segment) { try $0.hasChunk(before: Self.chunksFrom(options)) }
        return try expired || segment.freeBytes() > 0
    }

    /// The raw bytes of log text the day holds (its streams' `stats`).
    private func rawBytes(_ segment: Segment) throws -> UInt64 {
        try SegmentSnapshot.read(segment) { snapshot in
            var total: UInt64 = 0
            try snapshot.forEachStreamStats { _, stats in total += stats.rawBytes }
            return total
        }
    }

    /// Gives a day that kept no token index one again: drops the mark, then tokenizes its
    /// blocks into postings, `Limits.indexFlushBlocks` blocks per flush. After a crash in
    /// between, the day is indexed below `indexedBlocks` and the open re-tokenizes the rest.
    func reindex(_ segment: Segment) throws {
        try segment.env.write { txn in _ = try txn.delete(segment.meta, Keys.metaUnindexed) }
        segment.pending.acceptTokens()
        let (indexed, next) = try SegmentSnapshot.read(segment) { try $0.indexState() }
        let step = UInt32(Limits.indexFlushBlocks)
        var from = indexed
        while from < next {
            let to = next - from > step ? from + step : next
            _ = try segment.tokenize(from..<to)
            try flushIndex(segment)
            from = to
        }
    }

    /// Merges each stream's runs of small blocks (sealed by age: quiet jobs give blocks of a few
    /// dozen lines, a stream that writes once an hour one line each; or by size during ingest)
    /// into blocks of up to `mergedBlockLines`/`mergedBlockBytes`, across UTC hours: a quiet
    /// stream's day becomes one block, so the size of a day does not depend on how fast its
    /// streams write (larger blocks compress better and cost fewer postings; per-block time
    /// bounds still prune time ranges). One transaction per stream window, so readers always see
    /// each line exactly once; the merged blocks get new numbers and their postings go to the
    /// pending index (flushed by the caller), the old numbers are returned.
    /// Writer thread only (compaction).
    func mergeSmallBlocks(_ segment: Segment) throws -> (removed: Set<UInt32>, written: Int) {
        var byStream: [StreamID: [BlockRef]] = [:]
        try SegmentSnapshot.read(segment) { snapshot in
            try snapshot.forEachBlockRef { ref in
                byStream[ref.stream, default: []].append(ref)
                return true
            }
        }
        let small = options.mergedBlockLines / 2
        var removed = Set<UInt32>()
        var written = 0
        // A stream's blocks in windows of at most ~50k lines (bounded memory per transaction).
        var windows: [(StreamID, [BlockRef])] = []
        for (stream, unsorted) in byStream.sorted(by: { $0.key < $1.key }) {
            let refs = unsorted.sorted { ($0.minTimestamp, $0.firstLSN) < ($1.minTimestamp, $1.firstLSN) }
            guard refs.filter({ $0.count < small }).count >= 2 else { continue }
            var window: [BlockRef] = []
            var lines = 0
            for ref in refs {
                if lines + ref.count > 50_000 && !window.isEmpty {
                    windows.append((stream, window))
                    window = []
                    lines = 0
                }
                window.append(ref)
                lines += ref.count
            }
            if window.count > 1 { windows.append((stream, window)) }
        }
        for (stream, refs) in windows {
            var lines: [BlockLine] = []
            try SegmentSnapshot.read(segment) { snapshot in
                for ref in refs {
                    guard let stored = try snapshot.block(stream: stream, firstLSN: ref.firstLSN) else { continue }
                    let block = try snapshot.decode(stored)
                    for i in 0..<block.count { lines.append(block.line(i)) }
                }
            }
            let blocks = encodeBlocks([lines], hourCut: .max, maxLines: options.mergedBlockLines, maxBytes: options.mergedBlockBytes)[0]
            guard blocks.count < refs.count else { continue }
            var numbered: [(UInt32, BlockTokens)] = []
            try segment.env.write { txn in
                numbered = []
                for ref in refs {
                    _ = try txn.delete(segment.blocks, ref.key)
                    _ = try txn.delete(segment.blockDir, Keys.u32(ref.number))
                }
                var next = try segment.indexState(txn).next
                for block in blocks {
                    try txn.put(segment.blocks, Keys.streamLSN(stream, block.header.firstLSN), block.bytes)
                    try txn.put(segment.blockDir, Keys.u32(next), BlockRef(number: next, stream: stream, header: block.header).encoded(), append: true)
                    numbered.append((next, block.tokens))
                    next += 1
                }
                try txn.put(segment.meta, Keys.metaNextBlock, Keys.u32(next))
            }
            if options.fullTextIndex { for (number, tokens) in numbered { segment.pending.add(number, tokens) } }
            removed.formUnion(refs.map(\.number))
            written += blocks.count
        }
        return (removed, written)
    }
}
