import Foundation

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
