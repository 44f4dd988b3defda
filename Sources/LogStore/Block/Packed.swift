import Foundation

// The compacted layout of a segment (docs/FORMAT.md, "Compacted segments"): compaction writes a
// fresh environment in which
//
// - blocks are concatenated into packs of about `Packs.target` bytes (`packs` table), and the
//   `blocks` entry of each holds a 16-byte pointer (pack, offset, length) instead of the block:
//   LMDB rounds every large value up to whole 4 KiB overflow pages, which cost ~20% of the block
//   bytes when every block is its own value; one pack pays that rounding once;
// - the postings are in `postruns`: sorted runs of (token, postings), tokens prefix-shared with
//   the previous one, zlib-compressed, keyed by the run's first token. A posting keeps the exact
//   count of lines holding the token and, instead of the exact highest LSN offset, a 4-bit
//   bucket of it (an upper bound that still lets newest-first searches stop early).
//
// Both layouts can be present in one segment: a compacted day that receives late lines seals
// ordinary blocks (the `blocks` value is the block itself) and flushes appendable `postings`;
// readers always look in both.

/// Where a packed block lives: `blocks` value = magic "LSBP", pack u32 LE, offset u32 LE,
/// length u32 LE.
struct BlockPointer: Equatable {
    static let magic: [UInt8] = Array("LSBP".utf8)
    static let encodedSize = 16

    var pack: UInt32
    var offset: UInt32
    var length: UInt32

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: Self.encodedSize)
        w.append(Self.magic)
        w.u32LE(pack)
        w.u32LE(offset)
        w.u32LE(length)
        return w.bytes
    }

    /// The pointer a `blocks` value holds, or nil when the value is a block itself.
    static func decode(_ value: UnsafeRawBufferPointer) throws(CorruptDataError) -> BlockPointer? {
        guard value.count == encodedSize, value[0] == magic[0], value[1] == magic[1], value[2] == magic[2], value[3] == magic[3]
        else { return nil }
        var r = ByteReader(value, offset: 4)
        return BlockPointer(pack: try r.u32LE(), offset: try r.u32LE(), length: try r.u32LE())
    }
}

enum Packs {
    /// Bytes of blocks per pack: large enough that the overflow-page rounding (≤ 4 KiB per pack)
    /// is negligible, small enough that a pack is written in one piece without a large buffer.
    static let target = 1 << 20
}

extension Segment {
    /// The block stored under a `blocks` value: the value itself, or the bytes it points to in
    /// `packs` (borrowed from the map, valid inside `txn`).
    func blockBytes(_ txn: borrowing LMDBTransaction, _ value: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer {
        guard let pointer = try BlockPointer.decode(value) else { return value }
        guard let packs, let pack = try txn.get(packs, Keys.u32(pointer.pack)) else {
            throw CorruptDataError("block points to missing pack \(pointer.pack)")
        }
        let start = Int(pointer.offset)
        let end = start + Int(pointer.length)
        guard end <= pack.count else { throw CorruptDataError("block pointer beyond pack \(pointer.pack) (\(end) > \(pack.count))") }
        return UnsafeRawBufferPointer(rebasing: pack[start..<end])
    }

    /// The block stored under `key` in `blocks`, resolved through `packs`.
    func block(_ txn: borrowing LMDBTransaction, key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        guard let value = try txn.get(blocks, key) else { return nil }
        return try blockBytes(txn, value)
    }
}

/// Packed postings runs (`postruns`).
///
/// Run value: varint raw size, then a zlib stream of the raw run. Raw run: entries, each
/// varint bytes shared with the previous token, varint suffix length, suffix, varint number of
/// postings, then per posting varint block delta (the first from 0) and varint
/// `count << 4 | q`, where q = ⌊16·offset/(span+1)⌋ buckets the highest matching LSN offset
/// within the block's LSN span (`Posting.quantizedFlag`).
enum PostingRuns {
    /// Raw bytes per run: large enough for zlib to find the repetition, small enough that a
    /// lookup inflates little (~40 µs).
    static let target = 32 * 1024

    /// The 4-bit bucket of `offset` within a block whose LSNs span `span` (last − first).
    static func bucket(offset: UInt64, span: UInt64) -> UInt64 {
        let o = min(offset, span)
        // 16·o/(span+1) in 128 bits-safe arithmetic (spans are far below 2^59).
        return min(15, (o << 4) / (span &+ 1))
    }

    /// Builds runs from tokens added in byte order.
    struct Builder {
        var raw = ByteWriter(capacity: target + 4096)
        var first: [UInt8]?
        var previous: [UInt8] = []
        let level: Int32
        /// Finished runs: (first token, value), in token order.
        var runs: [([UInt8], [UInt8])] = []

        init(level: Int32) {
            self.level = level
        }

        /// Adds a token with its postings (block order; maxOffset holds the quantized bucket).
        mutating func add(_ token: [UInt8], _ postings: [Posting]) throws {
            guard !postings.isEmpty else { return }
            if first == nil {
                first = token
                previous = []
            }
            var shared = 0
            let limit = min(previous.count, token.count)
            while shared < limit && previous[shared] == token[shared] { shared += 1 }
            raw.varint(UInt64(shared))
            raw.varint(UInt64(token.count - shared))
            raw.append(token[shared...])
            raw.varint(UInt64(postings.count))
            var prev: UInt32 = 0
            for p in postings {
                raw.varint(UInt64(p.block &- prev))
                raw.varint(UInt64(p.count) << 4 | (p.maxOffset & 15))
                prev = p.block
            }
            previous = token
            if raw.bytes.count >= target { try flush() }
        }

        mutating func flush() throws {
            guard let first, !raw.bytes.isEmpty else { return }
            var w = ByteWriter(capacity: raw.bytes.count / 2 + 16)
            w.varint(UInt64(raw.bytes.count))
            w.append(raw.bytes.withUnsafeBytes { Compression.deflate($0, level: level) })
            runs.append((first, w.bytes))
            raw.bytes.removeAll(keepingCapacity: true)
            self.first = nil
            previous = []
        }
    }

    /// What a reader of a run wants of a token.
    enum Want { case take, skip, stop }

    /// Calls `body` with each (token, postings) of a run value, in token order, for the tokens
    /// `want` takes (the postings of skipped tokens are stepped over, not built); stops at the
    /// first token `want` answers `.stop` for. Postings carry the quantized bound
    /// (`Posting.quantizedFlag`).
    static func decode(
        _ value: UnsafeRawBufferPointer, want: (ArraySlice<UInt8>) -> Want = { _ in .take },
        _ body: (ArraySlice<UInt8>, [Posting]) throws -> Void
    ) throws {
        var header = ByteReader(value)
        let size = try header.varint()
        guard size <= 1 << 28 else { throw CorruptDataError("postings run of \(size) bytes") }
        let raw = try Compression.inflate(UnsafeRawBufferPointer(rebasing: value[header.offset...]), expectedSize: Int(size))
        try raw.withUnsafeBytes { bytes in
            var r = ByteReader(bytes)
            var token: [UInt8] = []
            while !r.isAtEnd {
                let shared = Int(try r.varint())
                let suffix = try r.length()
                guard shared <= token.count else { throw CorruptDataError("postings run shares \(shared) bytes of \(token.count)") }
                token.removeSubrange(shared...)
                token.append(contentsOf: try r.bytes(suffix))
                let n = try r.varint()
                guard n <= UInt64(r.remaining) else { throw CorruptDataError("postings run lists \(n) postings") }
                let wanted = want(token[...])
                if wanted == .stop { return }
                if wanted == .skip {
                    for _ in 0..<(2 * n) { _ = try r.varint() }
                    continue
                }
                var postings: [Posting] = []
                postings.reserveCapacity(Int(n))
                var block: UInt32 = 0
                for _ in 0..<n {
                    let delta = try r.varint()
                    guard delta <= UInt64(UInt32.max) else { throw CorruptDataError("postings run block delta \(delta)") }
                    block = block &+ UInt32(delta)
                    let v = try r.varint()
                    postings.append(Posting(block: block, count: UInt32(clamping: v >> 4), maxOffset: Posting.quantizedFlag | (v & 15)))
                }
                try body(token[...], postings)
            }
        }
    }

    /// The postings of `token` in `table` (empty when absent).
    static func lookup(_ txn: borrowing LMDBTransaction, _ table: LMDBTable, token: [UInt8]) throws -> [Posting] {
        guard let (_, value) = try txn.floor(table, token) else { return [] }
        var found: [Posting] = []
        try decode(value, want: { t in t.elementsEqual(token) ? .take : t.lexicographicallyPrecedes(token) ? .skip : .stop }) { _, postings in
            found = postings
        }
        return found
    }

    /// Calls `body` with the postings of every token of `table` starting with `prefix`.
    static func scan(_ txn: borrowing LMDBTransaction, _ table: LMDBTable, prefix: [UInt8], _ body: ([Posting]) -> Void) throws {
        // Runs that can hold such tokens: the last one starting at or before the prefix, then
        // every one whose first token starts with the prefix.
        let start = try txn.floor(table, prefix).map { $0.key.array } ?? prefix
        try txn.scan(table, from: start) { key, value in
            if !key.elementsEqual(start) && !key.starts(with: prefix) { return false }
            var more = true
            try decode(
                value,
                want: { t in
                    if t.starts(with: prefix) { return .take }
                    if prefix.lexicographicallyPrecedes(t) {
                        more = false
                        return .stop
                    }
                    return .skip
                }
            ) { _, postings in body(postings) }
            return more
        }
    }
}

extension Posting {
    /// Set in `maxOffset` when it holds a 4-bit bucket (packed runs) rather than an offset.
    static let quantizedFlag: UInt64 = 1 << 63

    /// Upper bound of the LSNs of the block's lines holding the token.
    func maxLSN(firstLSN: LSN, lastLSN: LSN) -> LSN {
        if maxOffset & Self.quantizedFlag == 0 { return min(lastLSN, firstLSN &+ maxOffset) }
        let q = maxOffset & 15
        let span = lastLSN &- firstLSN
        // ⌈(q+1)(span+1)/16⌉ − 1 ≥ the offset whose bucket is q.
        let bound = ((q + 1) * (span &+ 1) + 15) / 16 - 1
        return min(lastLSN, firstLSN &+ bound)
    }
}
