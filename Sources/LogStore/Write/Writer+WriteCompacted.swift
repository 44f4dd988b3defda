import Foundation
import Synchronization

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
