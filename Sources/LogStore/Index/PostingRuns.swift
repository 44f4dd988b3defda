import Foundation

/// Packed postings runs (`postruns`).
///
/// Run value: a 0 byte, varint raw size, then a zlib stream of the raw run. Raw run: entries,
/// each varint bytes shared with the previous token, varint suffix length, suffix, varint
/// number of postings, then per posting varint `delta << 3 | min(count, 7)` (delta: the block
/// number's difference from the previous posting's, the first from 0) and, when count ≥ 7,
/// varint count − 7. The LSN bound of such a posting is its block's last LSN.
///
/// A run of `packedFrom` bytes or more is stored in `packs`, after the day's blocks, and its
/// value is a pointer: a 1 byte, varints pack number, offset and length (`run(_:packs:_:)`).
/// On its own it would take overflow pages whose last one is on average half empty.
///
/// Runs written before (no leading 0 byte: their raw size, never 0, comes first) hold per
/// posting varint delta and varint `count << 4 | q`, where q = ⌊16·offset/(span+1)⌋ buckets
/// the highest matching LSN offset within the block's LSN span (`Posting.quantizedFlag`).
/// That bucket cost a third of the postings of dense days (4 bits that do not compress) for
/// a bound only a full-text search with a cursor or newest first uses to pass over blocks
/// sooner; both forms are read.
enum PostingRuns {
    /// Raw bytes per run: large enough for zlib to find the repetition, small enough that a
    /// lookup inflates little (~40 µs).
    static let target = 32 * 1024
    /// Runs this long or longer go into `packs` (shorter ones fit a leaf page with others).
    static let packedFrom = 2000
    /// The first byte of a value that points into `packs` (a raw size is never 1).
    static let pointerTag: UInt8 = 1

    /// A `postruns` value pointing at `length` bytes at `offset` of pack `pack`.
    static func pointer(pack: UInt32, offset: Int, length: Int) -> [UInt8] {
        var w = ByteWriter(capacity: 16)
        w.u8(pointerTag)
        w.varint(UInt64(pack))
        w.varint(UInt64(offset))
        w.varint(UInt64(length))
        return w.bytes
    }

    /// The run a `postruns` value holds: the value itself, or the bytes it points to in
    /// `packs` (borrowed from the map, valid inside `txn`).
    static func run(_ txn: borrowing LMDBTransaction, packs: LMDBTable?, _ value: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer {
        guard value.first == pointerTag else { return value }
        var r = ByteReader(value)
        _ = try r.u8()
        let pack = try r.varint()
        let offset = try r.varint()
        let length = try r.varint()
        guard r.isAtEnd, pack <= UInt64(UInt32.max), offset <= 1 << 40, length <= 1 << 40 else {
            throw CorruptDataError("postings run pointer of \(value.count) bytes")
        }
        guard let packs, let bytes = try txn.get(packs, Keys.u32(UInt32(pack))) else {
            throw CorruptDataError("postings run points to missing pack \(pack)")
        }
        guard offset + length <= UInt64(bytes.count) else {
            throw CorruptDataError("postings run pointer beyond pack \(pack) (\(offset + length) > \(bytes.count))")
        }
        return UnsafeRawBufferPointer(rebasing: bytes[Int(offset)..<Int(offset + length)])
    }

    /// Writes a run entry's head: bytes `token` shares with `previous`, the suffix's length,
    /// the suffix, the number of postings (which follow).
    static func appendEntryHead(_ token: [UInt8], after previous: [UInt8], postings: Int, into raw: inout ByteWriter) {
        var shared = 0
        let limit = min(previous.count, token.count)
        while shared < limit && previous[shared] == token[shared] { shared += 1 }
        raw.varint(UInt64(shared))
        raw.varint(UInt64(token.count - shared))
        raw.append(token[shared...])
        raw.varint(UInt64(postings))
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

        /// Adds a token with its postings (block order; their `maxOffset` is not stored).
        mutating func add(_ token: [UInt8], _ postings: [Posting]) throws {
            guard !postings.isEmpty else { return }
            if first == nil {
                first = token
                previous = []
            }
            PostingRuns.appendEntryHead(token, after: previous, postings: postings.count, into: &raw)
            var prev: UInt32 = 0
            for p in postings {
                let small = UInt64(min(p.count, 7))
                raw.varint(UInt64(p.block &- prev) << 3 | small)
                if small == 7 { raw.varint(UInt64(p.count - 7)) }
                prev = p.block
            }
            previous = token
            if raw.bytes.count >= target { try flush() }
        }

        mutating func flush() throws {
            guard let first, !raw.bytes.isEmpty else { return }
            var w = ByteWriter(capacity: raw.bytes.count / 2 + 16)
            w.u8(0)
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
    /// (`Posting.quantizedFlag`): the former runs' bucket, or 15 (the block's last LSN).
    static func decode(
        _ value: UnsafeRawBufferPointer, want: (ArraySlice<UInt8>) -> Want = { _ in .take },
        _ body: (ArraySlice<UInt8>, [Posting]) throws -> Void
    ) throws {
        var header = ByteReader(value)
        // A leading 0 byte: counts packed with the block delta, no LSN bucket (above).
        let packedCounts = value.first == 0
        if packedCounts { _ = try header.u8() }
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
                    if packedCounts {
                        for _ in 0..<n where try r.varint() & 7 == 7 { _ = try r.varint() }
                    } else {
                        for _ in 0..<(2 * n) { _ = try r.varint() }
                    }
                    continue
                }
                var postings: [Posting] = []
                postings.reserveCapacity(Int(n))
                var block: UInt32 = 0
                for _ in 0..<n {
                    let first = try r.varint()
                    let delta = packedCounts ? first >> 3 : first
                    guard delta <= UInt64(UInt32.max) else { throw CorruptDataError("postings run block delta \(delta)") }
                    block = block &+ UInt32(delta)
                    if packedCounts {
                        var count = first & 7
                        if count == 7 { count &+= try r.varint() }
                        postings.append(Posting(block: block, count: UInt32(clamping: count), maxOffset: Posting.quantizedFlag | 15))
                    } else {
                        let v = try r.varint()
                        postings.append(Posting(block: block, count: UInt32(clamping: v >> 4), maxOffset: Posting.quantizedFlag | (v & 15)))
                    }
                }
                try body(token[...], postings)
            }
        }
    }

    /// The postings of `token` in `table` (empty when absent); `packs` holds the long runs.
    static func lookup(_ txn: borrowing LMDBTransaction, _ table: LMDBTable, packs: LMDBTable?, token: [UInt8]) throws -> [Posting] {
        guard let (_, value) = try txn.floor(table, token) else { return [] }
        var found: [Posting] = []
        try decode(try run(txn, packs: packs, value), want: { t in t.elementsEqual(token) ? .take : t.lexicographicallyPrecedes(token) ? .skip : .stop }) { _, postings in
            found = postings
        }
        return found
    }

    /// Calls `body` with the postings of every token of `table` starting with `prefix`.
    static func scan(_ txn: borrowing LMDBTransaction, _ table: LMDBTable, packs: LMDBTable?, prefix: [UInt8], _ body: ([Posting]) -> Void) throws {
        // Runs that can hold such tokens: the last one starting at or before the prefix, then
        // every one whose first token starts with the prefix.
        let start = try txn.floor(table, prefix).map { $0.key.array } ?? prefix
        try txn.scan(table, from: start) { key, value in
            if !key.elementsEqual(start) && !key.starts(with: prefix) { return false }
            var more = true
            try decode(
                try run(txn, packs: packs, value),
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

    /// Calls `body` with every token of `table` starting with `prefix` and its postings.
    static func scanTokens(
        _ txn: borrowing LMDBTransaction, _ table: LMDBTable, packs: LMDBTable?, prefix: [UInt8],
        _ body: (ArraySlice<UInt8>, [Posting]) throws -> Void
    ) throws {
        let start = try txn.floor(table, prefix).map { $0.key.array } ?? prefix
        try txn.scan(table, from: start) { key, value in
            if !key.elementsEqual(start) && !key.starts(with: prefix) { return false }
            var more = true
            try decode(
                try run(txn, packs: packs, value),
                want: { t in
                    if t.starts(with: prefix) { return .take }
                    if prefix.lexicographicallyPrecedes(t) {
                        more = false
                        return .stop
                    }
                    return .skip
                }, body)
            return more
        }
    }
}
