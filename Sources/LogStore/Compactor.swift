import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension Storage {
    /// Rewrites every finished day segment (before the current UTC day) into a tight file:
    /// its heads are sealed, then `mdb_env_copy2(MDB_CP_COMPACT)` writes a copy without free
    /// pages, which is renamed into place as the next generation (`YYYY-MM-DD.gN.mdb`). Readers
    /// holding the old file finish on it; it is deleted at once and freed after the last one.
    /// A crash at any point leaves either the old or the new generation, both complete.
    ///
    /// - Parameters:
    ///   - now: the current time in ns (tests pass their own).
    ///   - progress: told the name of each segment as it starts.
    public func compact(now: Int64? = nil, progress: (@Sendable (String) -> Void)? = nil) async throws -> MaintenanceReport {
        guard let writer else { throw StorageError.readOnly }
        let today = Day.of(now ?? Writer.wallClock())
        let days = shared.state.withLock { s in s.segments.keys.filter { $0 < today }.sorted() }
        var report = MaintenanceReport()
        for day in days {
            progress?(Day.name(day))
            let result = try await writer.perform { writer in try writer.compactSegment(day) }
            report.compacted.append(Day.name(day))
            report.bytesBefore += result.before
            report.bytesAfter += result.after
            report.blocksMerged += result.merged
            report.blocksWritten += result.written
            logger.info(
                "segment compacted",
                metadata: [
                    "segment": "\(Day.name(day))", "before": "\(result.before)", "after": "\(result.after)",
                    "blocks merged": "\(result.merged) into \(result.written)",
                ])
        }
        return report
    }
}

extension Writer {
    /// Seals a day's heads and swaps in a compacted copy of its segment. Writer thread only.
    func compactSegment(_ day: Int32) throws -> (before: Int, after: Int, merged: Int, written: Int) {
        guard var segment = shared.state.withLock({ $0.segments[day] }) else { return (0, 0, 0, 0) }
        while let pending = heads[day], !pending.isEmpty {
            _ = try write(segment: segment, group: [:], seal: Set(pending.keys.prefix(Self.sealBudgetStreams)))
        }
        let before = segment.fileBytes
        var removed = try purgeDeleted(segment)
        let merge = try mergeSmallBlocks(segment)
        removed.formUnion(merge.removed)
        try rewritePostings(segment, removing: removed)
        let generation = segment.generation + 1
        let target = segmentsDirectory + "/" + Segment.fileName(day: day, generation: generation)
        let temporary = target + ".tmp"
        try? FileManager.default.removeItem(atPath: temporary)
        try segment.env.copyCompacted(to: temporary)
        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        guard rename(temporary, target) == 0 else {
            throw StorageError.io("cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
        syncDirectory(segmentsDirectory)
        let fresh = try Segment(directory: segmentsDirectory, day: day, generation: generation, readOnly: false, mapSize: options.segmentMapSize)
        if options.fullTextIndex { _ = try fresh.recoverPendingIndex() }
        shared.state.withLock { $0.segments[day] = fresh }
        segment.unlink()
        syncDirectory(segmentsDirectory)
        segment = fresh
        return (before, fresh.fileBytes, merge.removed.count, merge.written)
    }

    /// Merges each stream's runs of small blocks (sealed by age: quiet jobs give blocks of a few
    /// dozen lines) into blocks of up to `sealLines`/`sealBytes`, never across a UTC hour: larger
    /// blocks compress better and cost fewer postings. One transaction per stream, so readers
    /// always see each line exactly once; the merged blocks get new numbers and their postings
    /// go to the pending index (flushed by the caller), the old numbers are returned.
    /// Writer thread only (compaction).
    func mergeSmallBlocks(_ segment: Segment) throws -> (removed: Set<UInt32>, written: Int) {
        var byStream: [StreamID: [BlockRef]] = [:]
        try segment.env.read { txn in
            try txn.scan(segment.blockDir) { k, v in
                let ref = try BlockRef(number: try Keys.decodeU32(k), decoding: v)
                byStream[ref.stream, default: []].append(ref)
                return true
            }
        }
        let small = options.sealLines / 2
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
            try segment.env.read { txn in
                for ref in refs {
                    guard let bytes = try txn.get(segment.blocks, ref.key) else { continue }
                    let block = try BlockCodec.decode(bytes)
                    for i in 0..<block.count { lines.append(block.line(i)) }
                }
            }
            let blocks = encodeBlocks([lines])[0]
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

extension Writer {
    /// Removes the lines of deleted workflows from a segment (blocks, head, statistics), so the
    /// compacted copy that follows no longer holds them. Writer thread only.
    /// Returns the numbers of the blocks removed (their postings are dropped by the caller).
    @discardableResult
    func purgeDeleted(_ segment: Segment) throws -> Set<UInt32> {
        let (tombstones, keys) = shared.state.withLock { s in (s.tombstones, s.streams.mapValues(\.key)) }
        if tombstones.isEmpty { return [] }
        let doomed = (segmentStreams[segment.day] ?? []).filter { id in keys[id].map { !$0.workflow.isEmpty && tombstones.contains($0.workflow) } ?? false }
        if doomed.isEmpty { return [] }
        let headLSNs = shared.state.withLock { s in doomed.flatMap { s.heads[segment.day]?[$0] ?? [] } }
        var removed = Set<UInt32>()
        try segment.env.write { txn in
            removed = []
            var refs: [[UInt8]] = []
            try txn.scan(segment.blockDir) { k, v in
                let ref = try BlockRef(number: try Keys.decodeU32(k), decoding: v)
                if doomed.contains(ref.stream) {
                    removed.insert(ref.number)
                    refs.append(k.array)
                }
                return true
            }
            for key in refs { try txn.delete(segment.blockDir, key) }
            for id in doomed {
                try txn.deleteAll(segment.blocks, prefix: Keys.u64(id))
                try txn.delete(segment.stats, Keys.u64(id))
                try txn.delete(segment.streams, Keys.u64(id))
                try txn.delete(segment.sealed, Keys.u64(id))
            }
            for lsn in headLSNs { try txn.delete(segment.head, Keys.u64(lsn)) }
        }
        var published: [StreamID: Shared.HeadUpdate] = [:]
        for id in doomed where heads[segment.day]?[id] != nil {
            heads[segment.day]?[id] = nil
            published[id] = .removed
        }
        shared.updateHeads(day: segment.day, published)
        segmentStreams[segment.day]?.subtract(doomed)
        try rebuildStats(of: Array(doomed))
        logger.info("deleted workflows purged", metadata: ["segment": "\(segment.name)", "streams": "\(doomed.count)"])
        return removed
    }

    /// Recomputes the in-memory statistics of `ids` from the segments' `stream_stats`.
    func rebuildStats(of ids: [StreamID], excluding excluded: Int32? = nil) throws {
        let segments = shared.state.withLock { s in s.segments.values.filter { $0.day != excluded } }
        var rebuilt: [StreamID: (StreamStats, [Int32])] = [:]
        for id in ids { rebuilt[id] = (StreamStats(), []) }
        for segment in segments {
            try segment.env.read { txn in
                for id in ids {
                    if let v = try txn.get(segment.stats, Keys.u64(id)) {
                        rebuilt[id]!.0.merge(try Keys.decodeStats(v))
                        rebuilt[id]!.1.append(segment.day)
                    }
                }
            }
        }
        shared.state.withLock { s in
            for (id, (stats, days)) in rebuilt {
                s.streams[id]?.stats = stats
                s.streams[id]?.days = days.sorted()
            }
        }
    }
}
