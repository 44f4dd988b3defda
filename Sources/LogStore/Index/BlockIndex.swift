import Foundation
import Synchronization

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

/// One sealed block in a segment's block directory.
struct BlockRef: Sendable, Equatable {
    static let encodedSize = 44

    var number: UInt32
    var stream: StreamID
    var firstLSN: LSN
    var lastLSN: LSN
    var minTimestamp: Int64
    var maxTimestamp: Int64
    var count: Int

    /// The block's key in `Keys.segmentBlocks`.
    var key: [UInt8] { Keys.streamLSN(stream, firstLSN) }

    init(number: UInt32, stream: StreamID, header: BlockHeader) {
        self.number = number
        self.stream = stream
        firstLSN = header.firstLSN
        lastLSN = header.lastLSN
        minTimestamp = header.minTimestamp
        maxTimestamp = header.maxTimestamp
        count = header.count
    }

    init(number: UInt32, decoding bytes: UnsafeRawBufferPointer) throws(CorruptDataError) {
        guard bytes.count == Self.encodedSize else { throw CorruptDataError("block directory entry of \(bytes.count) bytes") }
        var r = ByteReader(bytes)
        self.number = number
        stream = try r.u64LE()
        firstLSN = try r.u64LE()
        lastLSN = try r.u64LE()
        minTimestamp = Int64(bitPattern: try r.u64LE())
        maxTimestamp = Int64(bitPattern: try r.u64LE())
        count = Int(try r.u32LE())
    }

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: Self.encodedSize)
        w.u64LE(stream)
        w.u64LE(firstLSN)
        w.u64LE(lastLSN)
        w.u64LE(UInt64(bitPattern: minTimestamp))
        w.u64LE(UInt64(bitPattern: maxTimestamp))
        w.u32LE(UInt32(count))
        return w.bytes
    }
}

/// A block's entry in a token's postings.
struct Posting: Sendable, Equatable {
    var block: UInt32
    /// Lines of the block that hold the token.
    var count: UInt32
    /// Highest LSN of those lines minus the block's first LSN; or, with `quantizedFlag` set
    /// (postings from packed runs), a 4-bit bucket of it (`maxLSN(firstLSN:lastLSN:)`).
    var maxOffset: UInt64
}

/// Encoding of a postings value: per block, varints (block − previous block, count, maxOffset);
/// the first block's delta is from the key's first block.
enum Postings {
    /// A value is appended to while shorter than this; then the token starts a new entry.
    static let appendLimit = 1024

    static func encode(_ postings: some Collection<Posting>, after previous: UInt32, into w: inout ByteWriter) {
        var prev = previous
        for p in postings {
            w.varint(UInt64(p.block &- prev))
            w.varint(UInt64(p.count))
            w.varint(p.maxOffset)
            prev = p.block
        }
    }

    /// Calls `body` with each posting of a stored entry.
    static func decode(
        key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, _ body: (Posting) throws -> Void
    ) throws {
        guard key.count >= 5 else { throw CorruptDataError("postings key of \(key.count) bytes") }
        var kr = ByteReader(UnsafeRawBufferPointer(rebasing: key[(key.count - 4)...]))
        var block = try kr.u32BE()
        var r = ByteReader(value)
        while !r.isAtEnd {
            let delta = try r.varint()
            guard delta <= UInt64(UInt32.max) else { throw CorruptDataError("postings block delta \(delta)") }
            block = block &+ UInt32(delta)
            let count = try r.varint()
            let maxOffset = try r.varint()
            try body(Posting(block: block, count: UInt32(clamping: count), maxOffset: maxOffset))
        }
    }

    /// The last block number of a stored entry.
    static func lastBlock(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws -> UInt32 {
        var last: UInt32 = 0
        try decode(key: key, value: value) { last = $0.block }
        return last
    }

    /// The token of a postings key.
    static func token(ofKey key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: key[..<max(0, key.count - 5)])
    }
}

/// An open-addressing set of byte strings (tokens), each with a dense id: no allocation per
/// lookup, so tokenizing a block costs a hash and a compare per token.
struct TokenTable {
    private(set) var bytes: [UInt8] = []
    private(set) var starts: [Int32] = [0]
    private(set) var hashes: [UInt32] = []
    private var slots: [Int32]
    private var mask: Int

    init(capacity: Int = 256) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    var count: Int { starts.count - 1 }

    @inline(__always) static func hash(_ token: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for b in token { h = (h ^ UInt32(b)) &* 16_777_619 }
        return h
    }

    /// The token with id `i`.
    func token(_ i: Int) -> ArraySlice<UInt8> { bytes[Int(starts[i])..<Int(starts[i + 1])] }

    /// Finds or adds `token`; returns its id and whether it was added.
    @inline(__always)
    mutating func insert(_ token: UnsafeRawBufferPointer) -> (id: Int, inserted: Bool) {
        insert(token, hash: Self.hash(token))
    }

    /// `insert` with the token's `hash` (`TokenTable.hash`) already computed.
    @inline(__always)
    mutating func insert(_ token: UnsafeRawBufferPointer, hash h: UInt32) -> (id: Int, inserted: Bool) {
        var slot = Int(h) & mask
        while true {
            let id = slots[slot]
            if id < 0 { break }
            if hashes[Int(id)] == h && equals(Int(id), token) { return (Int(id), false) }
            slot = (slot + 1) & mask
        }
        let id = count
        slots[slot] = Int32(id)
        hashes.append(h)
        bytes.append(contentsOf: token)
        starts.append(Int32(bytes.count))
        if count * 2 > slots.count { grow() }
        return (id, true)
    }

    /// The id of `token`, or nil.
    func find(_ token: UnsafeRawBufferPointer) -> Int? {
        let h = Self.hash(token)
        var slot = Int(h) & mask
        while true {
            let id = slots[slot]
            if id < 0 { return nil }
            if hashes[Int(id)] == h && equals(Int(id), token) { return Int(id) }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always) private func equals(_ id: Int, _ token: UnsafeRawBufferPointer) -> Bool {
        let start = Int(starts[id])
        let length = Int(starts[id + 1]) - start
        guard length == token.count else { return false }
        return bytes.withUnsafeBytes { stored in
            // Most tokens are a few bytes: a loop beats a call to memcmp.
            if length <= 16 {
                let a = stored.baseAddress!.assumingMemoryBound(to: UInt8.self) + start
                let b = token.baseAddress!.assumingMemoryBound(to: UInt8.self)
                for k in 0..<length where a[k] != b[k] { return false }
                return true
            }
            return memcmp(stored.baseAddress! + start, token.baseAddress!, length) == 0
        }
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for id in 0..<count {
            var slot = Int(hashes[id]) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(id)
        }
    }
}

/// The distinct tokens of one block's messages with their line counts: what sealing the block
/// adds to the index.
struct BlockTokens: Sendable {
    init() {}

    var bytes: [UInt8] = []
    var starts: [Int32] = [0]
    var counts: [UInt32] = []
    var maxOffsets: [UInt64] = []
    /// `TokenTable.hash` of each token (the pending index reuses them).
    var hashes: [UInt32] = []

    var count: Int { counts.count }

    func token(_ i: Int) -> ArraySlice<UInt8> { bytes[Int(starts[i])..<Int(starts[i + 1])] }

    /// Tokenizes every message of `lines` (the block's lines, any order).
    init<Line: SealableLine>(lines: [Line]) {
        self.init(count: lines.count, lsn: { lines[$0].lsn }, message: { i, body in lines[i].withMessage(body) })
    }

    /// Tokenizes a decoded block (its messages are read in place).
    init(block: DecodedBlock) {
        self.init(count: block.count, lsn: { block.lsns[$0] }, message: { i, body in block.messageBytes(i).withUnsafeBytes(body) })
    }

    private init(count n: Int, lsn: (Int) -> LSN, message: (Int, (UnsafeRawBufferPointer) -> Void) -> Void) {
        guard n > 0 else { return }
        var firstLSN = LSN.max
        for i in 0..<n { firstLSN = min(firstLSN, lsn(i)) }
        var builder = Builder()
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Tokenizer.scratchCapacity) { scratch in
            for i in 0..<n {
                builder.line = Int32(i)
                builder.offset = lsn(i) &- firstLSN
                message(i) { message in
                    // Log text is nearly always ASCII: one pass that copies and hashes.
                    if Tokenizer.isASCII(message) {
                        Tokenizer.forEachASCIIToken(message, scratch.baseAddress!, &builder)
                    } else {
                        Tokenizer.forEachToken(message) { token in builder.token(token, hash: TokenTable.hash(token)) }
                    }
                }
            }
        }
        bytes = builder.table.bytes
        starts = builder.table.starts
        counts = builder.counts
        maxOffsets = builder.maxOffsets
        hashes = builder.table.hashes
    }

    /// Collects a block's tokens: per token, lines holding it and the highest LSN offset.
    private struct Builder: ASCIITokenSink {
        var table = TokenTable(capacity: 512)
        var counts: [UInt32] = []
        var lastLine: [Int32] = []
        var maxOffsets: [UInt64] = []
        var line: Int32 = 0
        var offset: UInt64 = 0

        @inline(__always)
        mutating func token(_ token: UnsafeRawBufferPointer, hash: UInt32) {
            let (id, inserted) = table.insert(token, hash: hash)
            if inserted {
                counts.append(1)
                lastLine.append(line)
                maxOffsets.append(offset)
            } else if lastLine[id] != line {
                counts[id] += 1
                lastLine[id] = line
                if offset > maxOffsets[id] { maxOffsets[id] = offset }
            }
        }
    }
}

/// The postings of blocks sealed since the last flush, in memory (one per segment). The writer
/// adds and flushes; readers look tokens up. Guarded by a mutex; lookups copy what they need.
/// Tokens live in one `TokenTable` (no allocation per token and block).
final class PendingIndex: Sendable {
    struct State {
        /// Block numbers whose tokens are here.
        var covered = Set<UInt32>()
        var tokens = TokenTable(capacity: 4096)
        /// Postings by token id, in block order.
        var postings: [[Posting]] = []
        var oldest: ContinuousClock.Instant?
        var newest: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    /// Adds the tokens of block `number`. Writer thread, after the seal committed.
    func add(_ number: UInt32, _ tokens: BlockTokens) {
        state.withLock { s in
            if !s.covered.insert(number).inserted { return }
            let now = ContinuousClock.now
            if s.oldest == nil { s.oldest = now }
            s.newest = now
            tokens.bytes.withUnsafeBytes { all in
                for i in 0..<tokens.count {
                    let token = UnsafeRawBufferPointer(rebasing: all[Int(tokens.starts[i])..<Int(tokens.starts[i + 1])])
                    let posting = Posting(block: number, count: tokens.counts[i], maxOffset: tokens.maxOffsets[i])
                    let (id, inserted) = s.tokens.insert(token, hash: tokens.hashes[i])
                    if inserted { s.postings.append([posting]) } else { s.postings[id].append(posting) }
                }
            }
        }
    }

    var blockCount: Int { state.withLock { $0.covered.count } }
    var oldest: ContinuousClock.Instant? { state.withLock { $0.oldest } }
    var newest: ContinuousClock.Instant? { state.withLock { $0.newest } }

    /// Every pending token with its postings, tokens in byte order, and the highest block (for a flush).
    func snapshot() -> (entries: [(token: [UInt8], postings: [Posting])], top: UInt32?) {
        state.withLock { s in
            var entries: [(token: [UInt8], postings: [Posting])] = []
            entries.reserveCapacity(s.tokens.count)
            for id in 0..<s.tokens.count { entries.append((Array(s.tokens.token(id)), s.postings[id])) }
            entries.sort { $0.token.lexicographicallyPrecedes($1.token) }
            return (entries, s.covered.max())
        }
    }

    /// Forgets everything (after a flush committed). Writer thread.
    func clear() { state.withLock { $0 = State() } }

    /// The covered blocks and, for each token asked, its postings; for each prefix asked, the
    /// postings of every token starting with it.
    func view(tokens: Set<[UInt8]>, prefixes: Set<[UInt8]>) -> PendingView {
        state.withLock { s in
            var view = PendingView(covered: s.covered)
            if s.covered.isEmpty { return view }
            for token in tokens {
                view.tokens[token] = token.withUnsafeBytes { s.tokens.find($0) }.map { s.postings[$0] } ?? []
            }
            if !prefixes.isEmpty {
                for prefix in prefixes { view.prefixes[prefix] = [] }
                for id in 0..<s.tokens.count {
                    let token = s.tokens.token(id)
                    for prefix in prefixes where token.starts(with: prefix) { view.prefixes[prefix]!.append(contentsOf: s.postings[id]) }
                }
            }
            return view
        }
    }
}

/// What a reader took from a `PendingIndex`.
struct PendingView {
    var covered: Set<UInt32>
    var tokens: [[UInt8]: [Posting]] = [:]
    var prefixes: [[UInt8]: [Posting]] = [:]
}

/// Candidate blocks of one segment for a query, by block number: `nil` = every block.
/// For each candidate: an upper bound of its matching lines and of their highest LSN offset.
typealias BlockCandidates = [UInt32: Posting]?

/// Evaluates a normalized query against a segment's index.
struct IndexPlanner {
    let query: Query
    let tokens: Set<[UInt8]>
    let prefixes: Set<[UInt8]>

    init(_ query: Query) {
        self.query = query
        var tokens = Set<[UInt8]>()
        var prefixes = Set<[UInt8]>()
        func collect(_ q: Query) {
            switch q {
            case .term(let t): tokens.insert(Array(t.utf8))
            case .phrase(let parts): for p in parts { tokens.insert(Array(p.utf8)) }
            case .prefix(let p): prefixes.insert(Array(p.utf8))
            case .and(let xs), .or(let xs): for x in xs { collect(x) }
            case .not, .field, .all: break  // cannot narrow the blocks
            }
        }
        collect(query)
        self.tokens = tokens
        self.prefixes = prefixes
    }

    /// True when the index cannot narrow anything for this query.
    var isUseless: Bool { tokens.isEmpty && prefixes.isEmpty }

    /// The single term whose per-block counts are the exact number of matching lines of a
    /// block whose stream passes the query's field predicates.
    var countingTerm: [UInt8]? {
        func isField(_ q: Query) -> Bool {
            switch q {
            case .field: return true
            case .not(let x): return isField(x)
            default: return false
            }
        }
        switch query {
        case .term(let t): return Array(t.utf8)
        case .and(let xs):
            let terms = xs.compactMap { q -> String? in if case .term(let t) = q { return t } else { return nil } }
            guard terms.count == 1, xs.allSatisfy({ isField($0) || $0 == .term(terms[0]) }) else { return nil }
            return Array(terms[0].utf8)
        default: return nil
        }
    }

    /// Candidate blocks among those numbered below `indexed` (stored postings) or covered by
    /// `pending` (and below `next`, the blocks this transaction can see).
    func candidates(segment: Segment, txn: borrowing LMDBTransaction, indexed: UInt32, next: UInt32, pending: PendingView) throws
        -> BlockCandidates
    {
        if isUseless { return nil }
        var termPostings: [[UInt8]: [UInt32: Posting]] = [:]
        func usePending(_ p: Posting) -> Bool { p.block >= indexed && p.block < next }
        for token in tokens {
            var found: [UInt32: Posting] = [:]
            try txn.scan(segment.postings, prefix: token + [0]) { k, v in
                try Postings.decode(key: k, value: v) { p in if p.block < indexed { found[p.block] = p } }
                return true
            }
            if let runs = segment.postingRuns {
                for p in try PostingRuns.lookup(txn, runs, token: token) where p.block < indexed { found[p.block] = p }
            }
            for p in pending.tokens[token] ?? [] where usePending(p) { found[p.block] = p }
            termPostings[token] = found
        }
        var prefixPostings: [[UInt8]: [UInt32: Posting]] = [:]
        for prefix in prefixes {
            var found: [UInt32: Posting] = [:]
            func add(_ p: Posting) {
                if let old = found[p.block] {
                    found[p.block] = Posting(block: p.block, count: old.count &+ p.count, maxOffset: max(old.maxOffset, p.maxOffset))
                } else {
                    found[p.block] = p
                }
            }
            try txn.scan(segment.postings, prefix: prefix) { k, v in
                try Postings.decode(key: k, value: v) { p in if p.block < indexed { add(p) } }
                return true
            }
            if let runs = segment.postingRuns {
                try PostingRuns.scan(txn, runs, prefix: prefix) { postings in for p in postings where p.block < indexed { add(p) } }
            }
            for p in pending.prefixes[prefix] ?? [] where usePending(p) { add(p) }
            prefixPostings[prefix] = found
        }
        func evaluate(_ q: Query) -> BlockCandidates {
            switch q {
            case .all, .field, .not: return nil
            case .term(let t): return termPostings[Array(t.utf8)] ?? [:]
            case .prefix(let p): return prefixPostings[Array(p.utf8)] ?? [:]
            case .phrase(let parts): return intersect(parts.map { termPostings[Array($0.utf8)] ?? [:] })
            case .and(let xs): return intersect(xs.compactMap { evaluate($0) })
            case .or(let xs):
                var union: [UInt32: Posting] = [:]
                for x in xs {
                    guard let part = evaluate(x) else { return nil }
                    for (block, p) in part {
                        if let old = union[block] {
                            union[block] = Posting(block: block, count: old.count &+ p.count, maxOffset: max(old.maxOffset, p.maxOffset))
                        } else {
                            union[block] = p
                        }
                    }
                }
                return union
            }
        }
        return evaluate(query)
    }

    /// Blocks in every set (none given: every block); bounds are the smallest of each.
    private func intersect(_ sets: [[UInt32: Posting]]) -> BlockCandidates {
        guard var smallest = sets.min(by: { $0.count < $1.count }) else { return nil }
        for other in sets {
            for (block, p) in smallest {
                guard let q = other[block] else {
                    smallest[block] = nil
                    continue
                }
                smallest[block] = Posting(block: block, count: min(p.count, q.count), maxOffset: min(p.maxOffset, q.maxOffset))
            }
        }
        return smallest
    }
}

extension Segment {
    /// (indexedBlocks, nextBlock) as seen by `txn`.
    func indexState(_ txn: borrowing LMDBTransaction) throws -> (indexed: UInt32, next: UInt32) {
        let indexed = try txn.get(meta, Keys.metaIndexedBlocks).map { try Keys.decodeU32($0) } ?? 0
        let next = try txn.get(meta, Keys.metaNextBlock).map { try Keys.decodeU32($0) } ?? 0
        return (indexed, next)
    }

    /// Re-tokenizes the blocks sealed after the last flush into the pending index (at open).
    func recoverPendingIndex() throws -> Int {
        var recovered = 0
        try env.read { txn in
            let (indexed, next) = try indexState(txn)
            guard indexed < next else { return }
            for number in indexed..<next {
                guard let v = try txn.get(blockDir, Keys.u32(number)) else { continue }
                let ref = try BlockRef(number: number, decoding: v)
                guard let bytes = try block(txn, key: ref.key) else { continue }
                pending.add(number, BlockTokens(block: try BlockCodec.decode(bytes)))
                recovered += 1
            }
        }
        return recovered
    }

    /// Bytes of the block directory and postings, appendable and packed (pages × page size).
    func indexBytes(_ txn: borrowing LMDBTransaction) throws -> Int {
        let runs = try postingRuns.map { try txn.pages($0) } ?? 0
        return (try txn.pages(postings) + txn.pages(blockDir) + runs) * env.info().pageSize
    }
}

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

    /// Flushes the pending index of every segment that has enough of it (or any, when `all`,
    /// or when `idle` — nothing committed for `indexFlushIdle` — and no block was added
    /// to it for as long: once the last heads of a burst are sealed, one flush).
    func flushIndexes(all: Bool, idle: Bool = false) {
        if options.indexFlushBlocks == .max { return }  // tests: postings stay in memory, rebuilt at open
        let segments = shared.state.withLock { Array($0.segments.values) }
        let now = ContinuousClock.now
        for segment in segments {
            let count = segment.pending.blockCount
            guard count > 0 else { continue }
            let old = segment.pending.oldest.map { now - $0 >= Limits.indexFlushAge } ?? false
            let quiet = idle && (segment.pending.newest.map { now - $0 >= options.indexFlushIdle } ?? false)
            guard all || quiet || count >= options.indexFlushBlocks || old else { continue }
            do {
                try flushIndex(segment)
            } catch {
                logger.error("flushing the full-text index failed", metadata: ["segment": "\(segment.name)", "error": "\(error)"])
            }
        }
    }
}
