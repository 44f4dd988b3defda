import Foundation
import Synchronization

/// CompactedSegmentWriter writes a fresh environment holding one segment in the compacted
/// layout (docs/FORMAT.md, "Compacted segments"; `BlockPointer`, `PostingRuns`): small tables
/// copied in key order with `MDB_APPEND` (full pages), unsealed head lines only, blocks not yet
/// packed re-encoded at the compaction level and concatenated into packs, postings (appendable
/// entries and earlier runs, without blocks no longer in the directory) as compressed runs.
///
/// Everything is read from one `SegmentSnapshot` of the source. Used by the writer thread only;
/// `close()` it after `write`.
struct CompactedSegmentWriter {
    let dest: LMDBEnvironment
    let level: Int32
    private let head: LMDBTable
    private let blocks: LMDBTable
    private let packs: LMDBTable
    private let runs: LMDBTable
    private let meta: LMDBTable

    /// The dictionary of the segment being copied (its codec-3 blocks).
    let sourceDictionary: SegmentDictionary
    /// Whether to train a preset dictionary for a day that has none.
    let trainDictionary: Bool
    /// Chunk records that arrived before this (ns) are left out: past the dedup window, no
    /// resend is compared with them (`StoreRecovery` reads only later ones).
    let chunksFrom: Int64
    /// False: the copy keeps no token index (no runs, `indexedBlocks` 0, `Keys.metaUnindexed`).
    let index: Bool

    /// Creates the environment at `path` (map of `mapSize` bytes), re-encoding at zlib `level`
    /// the blocks of `source`.
    init(path: String, mapSize: Int, level: Int32, source: Segment, chunksFrom: Int64 = 0, trainDictionary: Bool = true, index: Bool = true) throws {
        dest = try LMDBEnvironment(path: path, mapSize: mapSize, maxReaders: Segment.compactedReaders)
        self.level = level
        self.chunksFrom = chunksFrom
        self.index = index
        sourceDictionary = source.dictionary
        self.trainDictionary = trainDictionary
        meta = try dest.table(Keys.segmentMeta)
        head = try dest.table(Keys.segmentHead)
        blocks = try dest.table(Keys.segmentBlocks)
        packs = try dest.table(Keys.segmentPacks)
        runs = try dest.table(Keys.segmentPostingRuns)
        _ = try dest.table(Keys.segmentPostings)
    }

    /// Writes the whole segment `source` holds; returns what it wrote. The catalog must hold
    /// every stream of `source` (`Catalog.recordMissing`): the copy has no stream records.
    func write(_ source: borrowing SegmentSnapshot) throws -> CompactedWrite {
        var result = CompactedWrite()
        try copySmallTables(source)
        try copyUnsealedHead(source)
        let dictionary = try presetDictionary(source, into: &result)
        var packer = BlockPacker()
        try packBlocks(source, dictionary: dictionary, into: &packer, result: &result)
        if index {
            try writePostingRuns(source, into: &packer, result: &result)
        } else {
            try dest.write { dst in
                try dst.put(meta, Keys.metaIndexedBlocks, Keys.u32(0))
                try dst.put(meta, Keys.metaUnindexed, [UInt8]())
            }
        }
        try flushPack(&packer, result: &result)
        return result
    }

    /// Syncs the file (after `write`).
    func sync() throws { try dest.sync() }

    func close() { dest.close() }

    /// Tables copied as they are, each in key order, and the compacted-layout mark. The
    /// per-stream `streams` records are left out (the catalog holds them; the table stays,
    /// empty, for lines a later write adds), and so are the `sealed` marks
    /// (`copyUnsealedHead` keeps those of streams with head lines).
    private func copySmallTables(_ source: borrowing SegmentSnapshot) throws {
        let segment = source.segment
        _ = try dest.table(Keys.segmentStreams)
        let copied: [(LMDBTable, LMDBTable)] = [
            (segment.meta, meta),
            (segment.stats, try dest.table(Keys.segmentStreamStats)),
            (segment.ids, try dest.table(Keys.segmentIDs)),
        ] + (try segment.docIDs.map { [($0, try dest.table(Keys.segmentDocIDs))] } ?? [])
        for (from, to) in copied {
            try dest.write { dst in
                try source.txn.scan(from) { k, v in
                    try dst.put(to, k, v, append: true)
                    return true
                }
            }
        }
        let chunks = try dest.table(Keys.segmentChunks)
        try dest.write { dst in
            try source.txn.scan(segment.chunks, from: Keys.chunk(arrival: chunksFrom, key: ChunkKey(high: 0, low: 0))) { k, v in
                try dst.put(chunks, k, v, append: true)
                return true
            }
        }
        // Block directory entries in the short form (`BlockRef.compactEncoded`).
        let blockDir = try dest.table(Keys.segmentBlockDir)
        try dest.write { dst in
            try source.txn.scan(segment.blockDir) { k, v in
                try dst.put(blockDir, k, try BlockRef(number: try Keys.decodeU32(k), decoding: v).compactEncoded(), append: true)
                return true
            }
        }
        try dest.write { dst in
            try dst.put(meta, Keys.metaFormat, Keys.u32(Keys.formatVersion))
            try dst.put(meta, Keys.metaLayout, Keys.u32(Keys.layoutCompactedCatalogStreams))
        }
    }

    /// The preset dictionary the copy's blocks are compressed with, or nil.
    ///
    /// A day compacted with one keeps it (its packed blocks, copied as they are, need it; the
    /// meta table copy carried it over). Otherwise one is trained from a sample of about
    /// `dictionarySample` bytes of the blocks to re-encode, and kept only when an estimate on
    /// other blocks of the sample says it saves more than twice its own stored size.
    private func presetDictionary(_ source: borrowing SegmentSnapshot, into result: inout CompactedWrite) throws -> [UInt8]? {
        if let existing = try sourceDictionary.bytes() {
            result.dictionaryBytes = PresetDictionary.stored(existing).count
            return existing
        }
        guard trainDictionary else { return nil }
        var blocks = 0
        var raw = 0
        try source.forEachBlock { block, _, packed in
            if !packed {
                blocks += 1
                raw += block.header.rawSize
            }
            return true
        }
        guard blocks >= 2 else { return nil }
        let stride = max(1, raw / Self.dictionarySample)
        var trainer = DictionaryTrainer()
        var trial: [DecodedBlock] = []
        var index = 0
        try source.forEachBlock { block, _, packed in
            guard !packed else { return true }
            defer { index += 1 }
            switch index % (2 * stride) {
            case 0: trainer.add(try block.decode(cache: nil, segment: source.segment))
            case stride: trial.append(try block.decode(cache: nil, segment: source.segment))
            default: break
            }
            return true
        }
        var dictionary = trainer.dictionary()
        guard !dictionary.isEmpty else { return nil }
        var plain = 0
        var preset = 0
        var trialRaw = 0
        for block in trial {
            let (p, d) = block.payload.withUnsafeBytes { b in
                (Compression.deflate(b, level: level, raw: true).count, PresetDictionary.deflate(b, dictionary: dictionary, level: level).count)
            }
            let without = min(p, block.payload.count)
            plain += without
            preset += min(without, d)
            trialRaw += block.payload.count
        }
        guard trialRaw > 0 else { return nil }
        let saved = Double(plain - preset) / Double(trialRaw) * Double(raw)
        // Trained again on the whole sample: the copy's blocks are compressed with this one.
        for block in trial { trainer.add(block) }
        dictionary = trainer.dictionary()
        let stored = PresetDictionary.stored(dictionary)
        guard saved > Double(2 * stored.count) else { return nil }
        try dest.write { dst in try dst.put(meta, Keys.metaDictionary, stored) }
        result.dictionaryBytes = stored.count
        return dictionary
    }

    /// Bytes of blocks (before compression) a preset dictionary is trained from.
    static let dictionarySample = 1 << 20

    /// Unsealed head lines (none after the seal that precedes a compaction, unless a caller
    /// compacts without it); sealed ones awaiting truncation are left out. The `sealed` marks
    /// of the streams these belong to are copied: a mark only tells which head lines are
    /// already in blocks, and the copy holds no other head lines.
    private func copyUnsealedHead(_ source: borrowing SegmentSnapshot) throws {
        let sealed = try dest.table(Keys.segmentSealed)
        var streams = Set<StreamID>()
        try dest.write { dst in
            try source.forEachUnsealedHeadEntry { stream, _, k, v in
                streams.insert(stream)
                try dst.put(head, k, v, append: true)
            }
        }
        guard !streams.isEmpty else { return }
        try dest.write { dst in
            for stream in streams.sorted() {
                if let mark = try source.txn.get(source.segment.sealed, u64: stream) { try dst.put(sealed, Keys.u64(stream), mark, append: true) }
            }
        }
    }

    /// The day's small blocks (`SharedFrames.smallBlockBytes`) into shared frames
    /// (`SharedFrame.swift`), then every other block in key order (a stream's blocks side by
    /// side), re-encoded in parallel batches of 256, all concatenated into packs of about
    /// `Packs.target` bytes; the last pack is left to fill for the caller.
    private func packBlocks(
        _ source: borrowing SegmentSnapshot, dictionary: [UInt8]?, into packer: inout BlockPacker, result: inout CompactedWrite
    ) throws {
        let framed = try frameSmallBlocks(source, dictionary: dictionary, into: &packer, result: &result)
        var batch: [(key: [UInt8], block: StoredBlock, packed: Bool, framed: [UInt8]?)] = []
        try source.forEachBlock { block, key, packed in
            let k = key.array
            batch.append((k, block, packed, framed[k]))
            if batch.count >= 256 {
                try packBatch(batch, dictionary: dictionary, into: &packer, result: &result)
                batch.removeAll(keepingCapacity: true)
            }
            return true
        }
        try packBatch(batch, dictionary: dictionary, into: &packer, result: &result)
    }

    /// Whether compaction stores `block` in a shared frame.
    private static func isSmall(_ block: StoredBlock) -> Bool {
        block.frame != nil || block.header.rawSize < SharedFrames.smallBlockBytes
    }

    /// Writes the small blocks into shared frames in the order of their last LSN — the order a
    /// search (newest first, by LSN) reads them, one frame after another rather than a frame
    /// per block — and returns the `blocks` value (`SharedRun`) of each by key.
    private func frameSmallBlocks(
        _ source: borrowing SegmentSnapshot, dictionary: [UInt8]?, into packer: inout BlockPacker, result: inout CompactedWrite
    ) throws -> [[UInt8]: [UInt8]] {
        var framed: [[UInt8]: [UInt8]] = [:]
        var frame = SharedFrameBuilder()
        var batch: [(key: [UInt8], block: StoredBlock)] = []
        let segment = source.segment
        func flush(_ batch: [(key: [UInt8], block: StoredBlock)], packer: inout BlockPacker, result: inout CompactedWrite) throws {
            nonisolated(unsafe) let work = batch  // block bytes in the map, valid while the snapshot is open
            let output = try concurrentMap(work.count) { i in try work[i].block.currentRawPayload(segment: segment) }
            for (i, item) in work.enumerated() {
                let (header, raw) = output[i]
                result.blocks += 1
                result.reencoded += 1
                result.rawBytes += raw.count
                frame.add(key: item.key, header: header, payload: raw)
                if frame.isFull { try place(&packer, result: &result) }
            }
        }
        func place(_ packer: inout BlockPacker, result: inout CompactedWrite) throws {
            guard !frame.isEmpty else { return }
            let bytes = frame.encode(level: level, dictionary: dictionary)
            let (pack, offset, length) = packer.appendPointed(bytes)
            for (index, member) in frame.members.enumerated() {
                framed[member.key] = SharedRun(pack: pack, frameOffset: offset, frameLength: length, index: index).encoded()
            }
            result.blockBytes += bytes.count
            result.frames += 1
            frame.reset()
            if packer.isFull { try flushPack(&packer, result: &result) }
        }
        var small: [StoredBlock] = []  // bytes in the map, valid while the snapshot is open
        try source.forEachBlockRef { ref in
            if let block = try source.block(stream: ref.stream, firstLSN: ref.firstLSN), Self.isSmall(block) { small.append(block) }
            return true
        }
        small.sort { ($0.header.lastLSN, $0.stream) < ($1.header.lastLSN, $1.stream) }
        for block in small {
            batch.append((block.key, block))
            if batch.count >= 256 {
                try flush(batch, packer: &packer, result: &result)
                batch.removeAll(keepingCapacity: true)
            }
        }
        try flush(batch, packer: &packer, result: &result)
        try place(&packer, result: &result)
        return framed
    }

    /// Re-encodes the blocks of `batch` not packed yet on every core (their bytes point into the
    /// source's map, valid while its snapshot is open) and appends all of them to the pack; the
    /// blocks of shared frames (`framed`, their `blocks` value) only get their entries.
    private func packBatch(
        _ batch: [(key: [UInt8], block: StoredBlock, packed: Bool, framed: [UInt8]?)], dictionary: [UInt8]?, into packer: inout BlockPacker,
        result: inout CompactedWrite
    ) throws {
        guard !batch.isEmpty else { return }
        nonisolated(unsafe) let work = batch  // block bytes in the map, valid while the snapshot is open
        let level = self.level
        let source = sourceDictionary
        let output = try concurrentMap(work.count) { i -> [UInt8]? in
            guard !work[i].packed, work[i].framed == nil else { return nil }
            return try BlockCodec.recompress(work[i].block.bytes, level: level, source: source, dictionary: dictionary)
        }
        for (i, item) in work.enumerated() {
            if let pointer = item.framed {
                packer.addEntry(key: item.key, pointer)
                continue
            }
            if output[i] != nil {
                result.reencoded += 1
                result.rawBytes += item.block.header.rawSize
            }
            let length: Int
            if let bytes = output[i] { length = packer.append(key: item.key, bytes) } else { length = packer.append(key: item.key, item.block.bytes) }
            result.blocks += 1
            result.blockBytes += length
            if packer.isFull { try flushPack(&packer, result: &result) }
        }
    }

    /// Stores the pack being filled (when full, or at the end) and the `blocks` entries so far.
    private func flushPack(_ packer: inout BlockPacker, result: inout CompactedWrite) throws {
        let stored = !packer.isEmpty
        guard stored || !packer.entries.isEmpty else { return }
        try dest.write { dst in
            if stored { try dst.put(packs, Keys.u32(packer.number), packer.pack.bytes, append: true) }
            for (k, v) in packer.entries { try dst.put(blocks, k, v, append: true) }
        }
        if stored {
            result.packs += 1
            packer.next()
        } else {
            packer.clearEntries()
        }
    }

    /// Postings runs from the appendable entries and earlier runs, merged by token; postings of
    /// blocks no longer in the directory are dropped. Runs of `PostingRuns.packedFrom` bytes or
    /// more go into the packs after the blocks (their `postruns` values point there).
    private func writePostingRuns(
        _ source: borrowing SegmentSnapshot, into packer: inout BlockPacker, result: inout CompactedWrite
    ) throws {
        var blocks = Set<UInt32>()
        try source.forEachBlockRef { ref in
            blocks.insert(ref.number)
            return true
        }
        var merger = PostingRunsMerger(earlier: try Self.earlierRuns(source), blocks: blocks, level: level)
        var token: [UInt8] = []
        var postings: [Posting] = []
        try source.txn.scan(source.segment.postings) { k, v in
            let t = Postings.token(ofKey: k)
            if !t.elementsEqual(token) {
                if !postings.isEmpty { try merger.add(token, postings) }
                token = t.array
                postings.removeAll(keepingCapacity: true)
            }
            try Postings.decode(key: k, value: v) { p in postings.append(p) }
            return true
        }
        if !postings.isEmpty { try merger.add(token, postings) }
        let written = try merger.finish()
        var entries: [([UInt8], [UInt8])] = []
        for (k, v) in written {
            guard v.count >= PostingRuns.packedFrom else {
                entries.append((k, v))
                continue
            }
            let (pack, offset, length) = packer.appendPointed(v)
            entries.append((k, PostingRuns.pointer(pack: pack, offset: Int(offset), length: Int(length))))
            if packer.isFull { try flushPack(&packer, result: &result) }
        }
        try dest.write { dst in
            for (k, v) in entries { try dst.put(runs, k, v, append: true) }
        }
        result.runs = written.count
        result.runBytes = written.reduce(0) { $0 + $1.1.count }
    }

    /// The postings of the runs an earlier compaction wrote, by token in byte order.
    private static func earlierRuns(_ source: borrowing SegmentSnapshot) throws -> [([UInt8], [Posting])] {
        var earlier: [([UInt8], [Posting])] = []
        guard let oldRuns = source.segment.postingRuns else { return earlier }
        try source.txn.scan(oldRuns) { _, v in
            try PostingRuns.decode(try PostingRuns.run(source.txn, packs: source.segment.packs, v)) { token, postings in
                earlier.append((Array(token), postings))
            }
            return true
        }
        return earlier
    }
}
