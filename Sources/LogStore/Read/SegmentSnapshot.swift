import Foundation

/// SegmentSnapshot is one consistent view of one day segment, and the only code that knows how
/// its head, the per-stream `sealed` marks, its blocks (stored whole or in packs), the block
/// cache and the key layouts fit together. Log-order reads, commit-order reads (the tail),
/// search, stats, compaction, recovery and the writer's own reads (seal, duplicate ids,
/// chunk pruning, statistics rebuild) all read a segment through it.
///
/// The rule it keeps: the in-memory head index of the streams asked for is taken *before* the
/// read transaction opens, and a head line counts only when its LSN is above its stream's
/// `sealed` mark in that transaction. A line sealed in between is then missing from the head
/// but present in a block of the transaction, so every line committed before the head index was
/// taken is seen exactly once — in the head or in a block, never both, never neither.
///
/// A snapshot lives only inside the closure of `read(_:shared:streams:cache:_:)` or
/// `read(_:cache:_:)`; every byte it hands out points into the map and is valid only until the
/// closure returns.
struct SegmentSnapshot: ~Copyable {
    let segment: Segment
    /// Head LSNs per stream (ascending), from the head index taken before the transaction;
    /// empty for a snapshot opened without one (`read(_:cache:_:)`).
    let heads: [StreamID: [LSN]]
    /// Decoded blocks shared between reads; nil decodes every block afresh (compaction and
    /// recovery read each block once and must not push readers' blocks out).
    let cache: BlockCache?
    /// The read transaction. The snapshot holds a second handle to the transaction its closure
    /// was given (the handle owns nothing: the environment aborts the transaction after the
    /// closure), so the snapshot never outlives it.
    let txn: LMDBTransaction

    private init(segment: Segment, heads: [StreamID: [LSN]], cache: BlockCache?, txn: borrowing LMDBTransaction) {
        self.segment = segment
        self.heads = heads
        self.cache = cache
        self.txn = LMDBTransaction(txn: txn.txn, path: txn.path)
    }

    /// Runs `body` on a snapshot of `segment` holding the head index of `streams` (every stream
    /// of the day when nil), taken from `shared` before the transaction opens.
    static func read<T>(
        _ segment: Segment, shared: Shared, streams: (some Collection<StreamID>)?, cache: BlockCache?,
        _ body: (borrowing SegmentSnapshot) throws -> T
    ) throws -> T {
        let heads = shared.headIndex(day: segment.day, streams: streams)
        return try segment.env.read { txn in
            try body(SegmentSnapshot(segment: segment, heads: heads, cache: cache, txn: txn))
        }
    }

    /// Runs `body` on a snapshot of `segment` without a head index: only the whole-table head
    /// scan (`forEachUnsealedHeadEntry`) sees head lines. For recovery at open (no index yet),
    /// compaction and statistics.
    static func read<T>(_ segment: Segment, cache: BlockCache? = nil, _ body: (borrowing SegmentSnapshot) throws -> T) throws -> T {
        try segment.env.read { txn in
            try body(SegmentSnapshot(segment: segment, heads: [:], cache: cache, txn: txn))
        }
    }

    // MARK: Head

    /// The `sealed` mark of `stream` in this transaction: its head lines up to this LSN are in
    /// blocks (0 when it has none).
    func sealedThrough(_ stream: StreamID) throws -> LSN {
        try txn.get(segment.sealed, u64: stream).map { try Keys.decodeU64($0) } ?? 0
    }

    /// Calls `body` with each unsealed head line of `stream` whose LSN is in `lsns`, in LSN
    /// order; returns how many it visited. The line's bytes are borrowed from the map.
    @discardableResult
    func forEachHeadLine(
        of stream: StreamID, lsns: ClosedRange<LSN> = 0...LSN.max, _ body: (LineView) throws -> Void
    ) throws -> Int {
        guard let all = heads[stream], !all.isEmpty else { return 0 }
        let low = max(lsns.lowerBound, try sealedThrough(stream) &+ 1)
        guard low <= lsns.upperBound else { return 0 }
        var visited = 0
        // The list is ascending: start at the first LSN above the mark.
        var i = Self.firstIndex(in: all, above: low &- 1)
        while i < all.count, all[i] <= lsns.upperBound {
            let lsn = all[i]
            i += 1
            // Absent: removed with a deleted workflow's lines after the index was taken.
            guard let value = try txn.get(segment.head, u64: lsn) else { continue }
            try body(try Keys.headLineAsView(lsn: lsn, value: value).1)
            visited += 1
        }
        return visited
    }

    /// The index of the first element of the ascending `lsns` above `bound`.
    private static func firstIndex(in lsns: [LSN], above bound: LSN) -> Int {
        var (low, high) = (0, lsns.count)
        while low < high {
            let mid = (low + high) / 2
            if lsns[mid] <= bound { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Calls `body` with every unsealed line of the head table in LSN order (its stream, its
    /// LSN and its stored value), whatever the head index holds: the same rule applied to the
    /// whole table, for recovery, compaction and statistics.
    func forEachUnsealedHeadEntry(
        _ body: (_ stream: StreamID, _ lsn: LSN, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var sealed: [StreamID: LSN] = [:]
        try txn.scan(segment.sealed) { k, v in
            sealed[try Keys.decodeU64(k)] = try Keys.decodeU64(v)
            return true
        }
        try txn.scan(segment.head) { k, v in
            let lsn = try Keys.decodeU64(k)
            var r = ByteReader(v)
            let stream = try r.u64LE()
            if lsn > sealed[stream] ?? 0 { try body(stream, lsn, k, v) }  // else sealed, awaiting truncation
            return true
        }
    }

    // MARK: Blocks

    /// Calls `body` with each block of `stream` in key (first LSN) order, its header parsed in
    /// place (nothing decompressed), while `body` returns true; blocks whose first LSN `include`
    /// refuses are skipped by their key, their headers unread.
    func forEachBlock(of stream: StreamID, where include: ((LSN) -> Bool)? = nil, _ body: (StoredBlock) throws -> Bool) throws {
        try txn.scan(segment.blocks, prefix: Keys.u64(stream)) { k, v in
            guard k.count == 16 else { throw CorruptDataError("block key of \(k.count) bytes") }
            let lsn = try Keys.decodeU64(UnsafeRawBufferPointer(rebasing: k[8...]))
            if let include, !include(lsn) { return true }
            return try body(try segment.storedBlock(txn, stream: stream, firstLSN: lsn, value: v))
        }
    }

    /// Calls `body` with every block of the segment in key order (stream, then first LSN),
    /// while `body` returns true, with its stored key; `packed` tells a block already in a pack
    /// (compacted layout).
    func forEachBlock(_ body: (StoredBlock, _ key: UnsafeRawBufferPointer, _ packed: Bool) throws -> Bool) throws {
        try txn.scan(segment.blocks) { k, v in
            let packed = try BlockPointer.decode(v) != nil
            var r = ByteReader(k)
            let stream = try r.u64BE()
            let lsn = try r.u64BE()
            return try body(try segment.storedBlock(txn, stream: stream, firstLSN: lsn, value: v), k, packed)
        }
    }

    /// The block of `stream` whose first LSN is `firstLSN`, or nil when this snapshot has none.
    func block(stream: StreamID, firstLSN: LSN) throws -> StoredBlock? {
        guard let value = try txn.get(segment.blocks, Keys.streamLSN(stream, firstLSN)) else { return nil }
        return try segment.storedBlock(txn, stream: stream, firstLSN: firstLSN, value: value)
    }

    /// The lines of `block`, from the block cache when the snapshot has one (keyed by the
    /// block's identity, so a rewritten block is never answered from a stale entry).
    func decode(_ block: StoredBlock) throws -> DecodedBlock {
        try block.decode(cache: cache, segment: segment)
    }

    // MARK: Block directory and index

    /// Calls `body` with the block-directory entries numbered from `first` on, in number order,
    /// while it returns true.
    func forEachBlockRef(from first: UInt32 = 0, _ body: (BlockRef) throws -> Bool) throws {
        try txn.scan(segment.blockDir, from: first == 0 ? nil : Keys.u32(first)) { k, v in
            try body(try BlockRef(number: try Keys.decodeU32(k), decoding: v))
        }
    }

    /// The block-directory entry `number`, or nil when it was removed (merged or purged).
    func blockRef(_ number: UInt32) throws -> BlockRef? {
        guard let v = try txn.get(segment.blockDir, Keys.u32(number)) else { return nil }
        return try BlockRef(number: number, decoding: v)
    }

    /// (indexedBlocks, nextBlock) as this snapshot sees them.
    func indexState() throws -> (indexed: UInt32, next: UInt32) { try segment.indexState(txn) }

    /// The candidate blocks of `planner`'s query (see `IndexPlanner.candidates`).
    func candidates(_ planner: IndexPlanner, indexed: UInt32, next: UInt32, pending: PendingView) throws -> BlockCandidates {
        try planner.candidates(segment: segment, txn: txn, indexed: indexed, next: next, pending: pending)
    }

    /// `candidates`, with the exact counts the index knows (``ExactCounts``).
    func candidatesAndCounts(_ planner: IndexPlanner, indexed: UInt32, next: UInt32, pending: PendingView) throws
        -> (candidates: BlockCandidates, counts: ExactCounts?)
    {
        try planner.candidatesAndCounts(segment: segment, txn: txn, indexed: indexed, next: next, pending: pending)
    }

    // MARK: Per-stream records

    /// Highest LSN committed to the segment (0 when none).
    func maxLSN() throws -> LSN { try segment.maxLSN(txn) }

    /// Calls `body` with each stream recorded in the segment (`Keys.segmentStreams`).
    func forEachStream(_ body: (StreamID, UnsafeRawBufferPointer) throws -> Void) throws {
        try txn.scan(segment.streams) { k, v in
            try body(try Keys.decodeU64(k), v)
            return true
        }
    }

    /// Calls `body` with each stream's statistics in this segment.
    func forEachStreamStats(_ body: (StreamID, StreamStats) throws -> Void) throws {
        try txn.scan(segment.stats) { k, v in
            try body(try Keys.decodeU64(k), try Keys.decodeStats(v))
            return true
        }
    }

    /// The statistics of `stream` in this segment, when it has lines here.
    func streamStats(_ stream: StreamID) throws -> StreamStats? {
        try txn.get(segment.stats, u64: stream).map { try Keys.decodeStats($0) }
    }

    /// True when some chunk record is older than `arrival` (ns).
    func hasChunk(before arrival: Int64) throws -> Bool {
        let bound = Keys.chunk(arrival: arrival, key: ChunkKey(high: 0, low: 0))
        var older = false
        try txn.scan(segment.chunks) { k, _ in
            older = k.lexicographicallyPrecedes(bound)
            return false
        }
        return older
    }

    /// True when the document id key `key` (`Keys.documentID`) is recorded in the segment.
    func hasDocumentID(_ key: [UInt8]) throws -> Bool {
        try txn.get(segment.ids, key) != nil
    }

    /// Calls `body` with each chunk record stored at or after `arrival` (ns).
    func forEachChunk(from arrival: Int64, _ body: (ChunkKey, Int64, AppendReceipt, [Int32]) throws -> Void) throws {
        try txn.scan(segment.chunks, from: Keys.chunk(arrival: arrival, key: ChunkKey(high: 0, low: 0))) { k, v in
            var r = ByteReader(k)
            let arrival = Int64(try r.u64BE())
            let key = try ChunkKey(bytes: try r.bytes(16))
            let (receipt, days) = try Keys.decodeChunk(v)
            try body(key, arrival, receipt, days)
            return true
        }
    }
}
