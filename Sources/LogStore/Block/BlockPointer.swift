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

/// Where a packed block lives: `blocks` value = "p" (0x70), varints pack, offset, length (the
/// short form compaction writes); or, in files compacted before, magic "LSBP", pack u32 LE,
/// offset u32 LE, length u32 LE. A block itself starts with "LSBK".
struct BlockPointer: Equatable {
    static let magic: [UInt8] = Array("LSBP".utf8)
    static let encodedSize = 16
    /// The first byte of the short form.
    static let shortMark: UInt8 = 0x70

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

    /// The short form (at most 16 bytes).
    func shortEncoded() -> [UInt8] {
        var w = ByteWriter(capacity: Self.encodedSize)
        w.u8(Self.shortMark)
        w.varint(UInt64(pack))
        w.varint(UInt64(offset))
        w.varint(UInt64(length))
        return w.bytes
    }

    /// The pointer a `blocks` value holds, or nil when the value is a block itself.
    static func decode(_ value: UnsafeRawBufferPointer) throws(CorruptDataError) -> BlockPointer? {
        if value.count <= encodedSize, value.count > 0, value[0] == shortMark {
            var r = ByteReader(value, offset: 1)
            let (pack, offset, length) = (try r.varint(), try r.varint(), try r.varint())
            guard pack <= UInt32.max, offset <= UInt32.max, length <= UInt32.max, r.remaining == 0 else {
                throw CorruptDataError("block pointer of \(value.count) bytes does not parse")
            }
            return BlockPointer(pack: UInt32(pack), offset: UInt32(offset), length: UInt32(length))
        }
        guard value.count == encodedSize, value[0] == magic[0], value[1] == magic[1], value[2] == magic[2], value[3] == magic[3]
        else { return nil }
        var r = ByteReader(value, offset: 4)
        return BlockPointer(pack: try r.u32LE(), offset: try r.u32LE(), length: try r.u32LE())
    }
}
