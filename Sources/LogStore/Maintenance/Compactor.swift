import Foundation
import Synchronization

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
        // The blocks these remove leave the block directory; the rewrite drops their postings.
        try purgeDeleted(segment)
        let merge = try mergeSmallBlocks(segment)
        if options.fullTextIndex { try flushIndex(segment) }
        let generation = segment.generation + 1
        let target = segmentsDirectory + "/" + Segment.fileName(day: day, generation: generation)
        let temporary = target + ".tmp"
        try? FileManager.default.removeItem(atPath: temporary)
        try? FileManager.default.removeItem(atPath: temporary + "-lock")
        let started = ContinuousClock.now
        let written = try writeCompacted(segment, to: temporary)
        try? FileManager.default.removeItem(atPath: temporary + "-lock")
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
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        logger.info(
            "segment rewritten",
            metadata: [
                "segment": "\(Day.name(day))", "blocks": "\(written.blocks) (\(written.reencoded) re-encoded)",
                "raw MB": "\(written.rawBytes / 1_000_000)", "block bytes": "\(written.blockBytes)", "packs": "\(written.packs)",
                "postings runs": "\(written.runs) (\(written.runBytes) bytes)", "seconds": "\(seconds)",
            ])
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
                    guard let bytes = try segment.block(txn, key: ref.key) else { continue }
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

/// What `writeCompacted` wrote.
struct CompactedWrite {
    var blocks = 0
    var reencoded = 0
    /// Raw bytes (before compression) of the blocks re-encoded.
    var rawBytes = 0
    var blockBytes = 0
    var packs = 0
    var runs = 0
    var runBytes = 0
}

extension Writer {
    /// Writes a fresh environment at `path` holding `segment` in the compacted layout
    /// (`Packed.swift`): small tables copied in key order with `MDB_APPEND` (full pages), blocks
    /// not yet packed re-encoded at `compactionLevel` and concatenated into packs, postings
    /// (appendable entries and earlier runs, without blocks no longer in the directory) written
    /// as compressed runs. Head lines already sealed are left out. Writer thread only.
    func writeCompacted(_ segment: Segment, to path: String) throws -> CompactedWrite {
        let source = segment.env
        let dest = try LMDBEnvironment(path: path, mapSize: max(options.segmentMapSize, source.info().usedBytes + (64 << 20)))
        defer { dest.close() }
        let copied: [(LMDBTable, LMDBTable)] = [
            (segment.meta, try dest.table(Keys.segmentMeta)),
            (segment.streams, try dest.table(Keys.segmentStreams)),
            (segment.stats, try dest.table(Keys.segmentStreamStats)),
            (segment.sealed, try dest.table(Keys.segmentSealed)),
            (segment.chunks, try dest.table(Keys.segmentChunks)),
            (segment.ids, try dest.table(Keys.segmentIDs)),
            (segment.blockDir, try dest.table(Keys.segmentBlockDir)),
        ]
        let meta = copied[0].1
        let head = try dest.table(Keys.segmentHead)
        let blocks = try dest.table(Keys.segmentBlocks)
        let packs = try dest.table(Keys.segmentPacks)
        let runsTable = try dest.table(Keys.segmentPostingRuns)
        _ = try dest.table(Keys.segmentPostings)
        let level = options.compactionLevel
        var result = CompactedWrite()
        try source.read { src in
            // Small tables, each in key order.
            for (from, to) in copied {
                try dest.write { dst in
                    try src.scan(from) { k, v in
                        try dst.put(to, k, v, append: true)
                        return true
                    }
                }
            }
            try dest.write { dst in
                var w = ByteWriter(capacity: 4)
                w.u32BE(Keys.layoutCompacted)
                try dst.put(meta, Keys.metaLayout, w.bytes)
            }
            // Unsealed head lines (none after the seal that precedes a compaction, unless a
            // caller compacts without it).
            var sealedThrough: [StreamID: LSN] = [:]
            try src.scan(segment.sealed) { k, v in
                sealedThrough[try Keys.decodeU64(k)] = try Keys.decodeU64(v)
                return true
            }
            try dest.write { dst in
                try src.scan(segment.head) { k, v in
                    var r = ByteReader(v)
                    let stream = try r.u64LE()
                    if try Keys.decodeU64(k) > sealedThrough[stream] ?? 0 { try dst.put(head, k, v, append: true) }
                    return true
                }
            }

            // Blocks: in key order (a stream's blocks side by side), re-encoded in parallel
            // batches, packed.
            var pack = ByteWriter(capacity: Packs.target + 512 * 1024)
            var pointers: [([UInt8], [UInt8])] = []
            var packNumber: UInt32 = 0
            func flushPack() throws {
                guard !pointers.isEmpty else { return }
                try dest.write { dst in
                    try dst.put(packs, Keys.u32(packNumber), pack.bytes, append: true)
                    for (k, v) in pointers { try dst.put(blocks, k, v, append: true) }
                }
                result.packs += 1
                packNumber += 1
                pack.bytes.removeAll(keepingCapacity: true)
                pointers.removeAll(keepingCapacity: true)
            }
            var batch: [(key: [UInt8], bytes: UnsafeRawBufferPointer, packed: Bool)] = []
            func flushBatch() throws {
                guard !batch.isEmpty else { return }
                nonisolated(unsafe) let work = batch  // pointers into the source map, valid in `src`
                let output = UnsafeMutableBufferPointer<[UInt8]?>.allocate(capacity: work.count)
                output.initialize(repeating: nil)
                defer {
                    output.deinitialize()
                    output.deallocate()
                }
                nonisolated(unsafe) let out = output
                let failed = Mutex<Error?>(nil)
                DispatchQueue.concurrentPerform(iterations: work.count) { i in
                    guard !work[i].packed else { return }
                    do {
                        out[i] = try BlockCodec.recompress(work[i].bytes, level: level)
                    } catch {
                        failed.withLock { $0 = error }
                    }
                }
                if let error = failed.withLock({ $0 }) { throw error }
                for (i, item) in work.enumerated() {
                    let bytes = output[i]
                    if bytes != nil {
                        result.reencoded += 1
                        result.rawBytes += (try? BlockHeader(parsing: item.bytes).rawSize) ?? 0
                    }
                    let offset = pack.bytes.count
                    if let bytes { pack.append(bytes) } else { pack.append(item.bytes) }
                    let length = pack.bytes.count - offset
                    result.blocks += 1
                    result.blockBytes += length
                    pointers.append((item.key, BlockPointer(pack: packNumber, offset: UInt32(offset), length: UInt32(length)).encoded()))
                    if pack.bytes.count >= Packs.target { try flushPack() }
                }
                batch.removeAll(keepingCapacity: true)
            }
            try src.scan(segment.blocks) { k, v in
                let packed = try BlockPointer.decode(v) != nil
                batch.append((k.array, try segment.blockBytes(src, v), packed))
                if batch.count >= 256 { try flushBatch() }
                return true
            }
            try flushBatch()
            try flushPack()

            // Postings: runs from the appendable entries and earlier runs, merged by token.
            var spans: [UInt32: UInt64] = [:]
            try src.scan(segment.blockDir) { k, v in
                let ref = try BlockRef(number: try Keys.decodeU32(k), decoding: v)
                spans[ref.number] = ref.lastLSN &- ref.firstLSN
                return true
            }
            func quantized(_ postings: [Posting]) -> [Posting] {
                var out: [Posting] = []
                out.reserveCapacity(postings.count)
                for p in postings {
                    guard let span = spans[p.block] else { continue }  // removed block
                    let q = p.maxOffset & Posting.quantizedFlag != 0 ? p.maxOffset & 15 : PostingRuns.bucket(offset: p.maxOffset, span: span)
                    out.append(Posting(block: p.block, count: p.count, maxOffset: q))
                }
                return out.sorted { $0.block < $1.block }
            }
            var earlier: [([UInt8], [Posting])] = []
            if let oldRuns = segment.postingRuns {
                try src.scan(oldRuns) { _, v in
                    try PostingRuns.decode(v) { token, postings in earlier.append((Array(token), postings)) }
                    return true
                }
            }
            var builder = PostingRuns.Builder(level: level)
            var next = 0
            func emit(_ token: [UInt8], _ postings: [Posting]) throws {
                while next < earlier.count && earlier[next].0.lexicographicallyPrecedes(token) {
                    try builder.add(earlier[next].0, quantized(earlier[next].1))
                    next += 1
                }
                var all = postings
                if next < earlier.count && earlier[next].0 == token {
                    all += earlier[next].1
                    next += 1
                }
                try builder.add(token, quantized(all))
            }
            var token: [UInt8] = []
            var postings: [Posting] = []
            try src.scan(segment.postings) { k, v in
                let t = Postings.token(ofKey: k)
                if !t.elementsEqual(token) {
                    if !postings.isEmpty { try emit(token, postings) }
                    token = t.array
                    postings.removeAll(keepingCapacity: true)
                }
                try Postings.decode(key: k, value: v) { p in postings.append(p) }
                return true
            }
            if !postings.isEmpty { try emit(token, postings) }
            while next < earlier.count {
                try builder.add(earlier[next].0, quantized(earlier[next].1))
                next += 1
            }
            try builder.flush()
            let runs = builder.runs
            try dest.write { dst in
                for (k, v) in runs { try dst.put(runsTable, k, v, append: true) }
            }
            result.runs = runs.count
            result.runBytes = runs.reduce(0) { $0 + $1.1.count }
        }
        try dest.sync()
        return result
    }
}
