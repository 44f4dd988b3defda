import Foundation

// Shared frames (docs/FORMAT.md, "Compacted segments"): compaction stores the small blocks of a
// day — a quiet stream's few lines, one of 10,000 five-line jobs — side by side in frames
// rather than each in its own deflate stream. A frame is stored like a block (the 56-byte
// header, version `BlockHeader.frameVersion`, its crc and codec) whose payload, before the
// codec, is the raw payloads of its blocks one after another, in key order (stream, first LSN):
// one deflate context across many small blocks instead of a fresh one for each, one header for
// all. Each block keeps everything else: its number, `blocks` key, directory entry, postings
// and exact counts are those of a block of one stream, so no reader of the index can tell; only
// the `blocks` value differs — a `SharedRun` pointer (where the frame is, where the block's
// payload is inside it, and the block's own header fields).

/// Where a block stored in a shared frame lives: `blocks` value = "s" (0x73), then varints
/// pack, frame offset, frame length (the frame's stored bytes in the pack) and the block's
/// index among the frame's members.
///
/// A frame's stored bytes: the 56-byte block header (version `BlockHeader.frameVersion`, count
/// = members, rawSize = the inflated data, min/max over its members, payloadSize = all bytes
/// after the header, crc over the header's first 52 bytes and all of them), then uncompressed
/// the member table — varint its length in bytes, then per member varints raw length (runs
/// follow one another from 0), line count, minimum timestamp − the frame's, maximum −
/// minimum timestamp, last LSN − first LSN (the first LSN is the member's key), time unit —
/// then the
/// data in the header's codec. A block's header is read from the table without inflating.
struct SharedRun: Equatable {
    static let mark: UInt8 = 0x73

    var pack: UInt32
    var frameOffset: UInt32
    var frameLength: UInt32
    var index: Int

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 16)
        w.u8(Self.mark)
        w.varint(UInt64(pack))
        w.varint(UInt64(frameOffset))
        w.varint(UInt64(frameLength))
        w.varint(UInt64(index))
        return w.bytes
    }

    /// The run a `blocks` value holds, or nil when the value is something else (a block, a
    /// pack pointer).
    static func decode(_ value: UnsafeRawBufferPointer) throws(CorruptDataError) -> SharedRun? {
        guard value.count > 0, value.count <= 24, value[0] == mark else { return nil }
        var r = ByteReader(value, offset: 1)
        let pack = try r.varint()
        let frameOffset = try r.varint()
        let frameLength = try r.varint()
        let index = try r.varint()
        guard pack <= UInt32.max, frameOffset <= UInt32.max, frameLength <= UInt32.max, index <= UInt64(UInt32.max), r.remaining == 0
        else { throw CorruptDataError("shared block pointer of \(value.count) bytes does not parse") }
        return SharedRun(pack: UInt32(pack), frameOffset: UInt32(frameOffset), frameLength: UInt32(frameLength), index: Int(index))
    }
}

/// A block's entry in its frame's member table.
struct FrameMember: Equatable {
    var runOffset: Int
    var runLength: Int
    var count: Int
    var minTimestamp: Int64
    var maxTimestamp: Int64
    var lastLSNDelta: UInt64
    var timeUnit: UInt8

    /// The header of the member whose first LSN is `firstLSN` (from its key), in a frame with
    /// `frame` as header (codec, stored size and crc: the frame's, so a rewritten frame is
    /// another `BlockID`).
    func header(firstLSN: LSN, frame: BlockHeader) -> BlockHeader {
        var header = BlockHeader(
            codec: frame.codec, count: count, rawSize: runLength, minTimestamp: minTimestamp, maxTimestamp: maxTimestamp,
            firstLSN: firstLSN, lastLSN: firstLSN &+ lastLSNDelta, payloadSize: frame.payloadSize)
        header.crc = frame.crc
        header.timeUnit = timeUnit
        return header
    }

    /// A reader of the member table of the frame stored as `bytes`, ending where the table ends.
    static func table(_ bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> ByteReader {
        var r = ByteReader(bytes, offset: BlockHeader.size)
        let length = try r.length()
        guard r.offset + length <= bytes.count else { throw CorruptDataError("shared frame table beyond its frame") }
        return ByteReader(UnsafeRawBufferPointer(rebasing: bytes[..<(r.offset + length)]), offset: r.offset)
    }

    /// Member `index` of the frame stored as `bytes` (header `frame`), read from its table.
    static func read(_ bytes: UnsafeRawBufferPointer, frame: BlockHeader, index: Int) throws(CorruptDataError) -> FrameMember {
        guard index < frame.count else { throw CorruptDataError("shared block \(index) of a frame of \(frame.count)") }
        var found: FrameMember?
        try walk(bytes, frame: frame, through: index) { i, member in if i == index { found = member } }
        return found!
    }

    /// Every member of the frame stored as `bytes` (header `frame`), in one pass of its table.
    static func all(_ bytes: UnsafeRawBufferPointer, frame: BlockHeader) throws(CorruptDataError) -> [FrameMember] {
        var members: [FrameMember] = []
        members.reserveCapacity(frame.count)
        if frame.count > 0 { try walk(bytes, frame: frame, through: frame.count - 1) { _, member in members.append(member) } }
        return members
    }

    /// Calls `body` with members 0 … `last` of the frame's table, in order.
    private static func walk(
        _ bytes: UnsafeRawBufferPointer, frame: BlockHeader, through last: Int, _ body: (Int, FrameMember) -> Void
    ) throws(CorruptDataError) {
        var r = try table(bytes)
        var offset = 0
        for i in 0...last {
            let length = try r.varint()
            let count = try r.varint()
            let start = try r.varint()
            let span = try r.varint()
            let lsnSpan = try r.varint()
            let unit = try r.varint()
            guard length <= UInt64(frame.rawSize), count >= 1, count <= length, start <= UInt64(Int64.max),
                span <= UInt64(Int64.max), unit < UInt64(BlockHeader.unitNanos.count)
            else { throw CorruptDataError("shared frame table entry \(i) does not parse") }
            guard offset + Int(length) <= frame.rawSize else {
                throw CorruptDataError("shared block run ends at \(offset + Int(length)), its frame holds \(frame.rawSize) bytes")
            }
            let min = frame.minTimestamp &+ Int64(start)
            body(
                i,
                FrameMember(
                    runOffset: offset, runLength: Int(length), count: Int(count), minTimestamp: min, maxTimestamp: min &+ Int64(span),
                    lastLSNDelta: lsnSpan, timeUnit: UInt8(unit)))
            offset += Int(length)
        }
    }
}

/// SharedFrames: which blocks compaction puts in frames, and how big a frame grows.
enum SharedFrames {
    /// Blocks whose raw payload is smaller than this share frames: alone, a deflate stream
    /// this short finds little repetition (its 32 KiB window is mostly empty) and its header,
    /// pointer and stream overhead are a large share of it.
    static let smallBlockBytes = 16 * 1024
    /// Raw bytes a frame collects before it is closed: deflate's window, beyond which a bigger
    /// frame saves only headers (frames of 128 KiB made the shapes benchmark's days no smaller),
    /// while reading one block of a frame inflates the whole frame.
    static let targetBytes = 32 * 1024
    /// Most blocks in one frame: a block's header is found by walking the frame's member table,
    /// so the walk stays a few hundred entries even for frames of one-line blocks.
    static let maxMembers = 256
}

/// SharedFrameBuilder collects the raw payloads of small blocks for one frame, in the order
/// they are added (compaction adds them by last LSN).
struct SharedFrameBuilder {
    struct Member {
        var key: [UInt8]
        var header: BlockHeader
        var runOffset: Int
        var runLength: Int
    }

    private(set) var raw: [UInt8] = []
    private(set) var members: [Member] = []

    var isEmpty: Bool { members.isEmpty }
    var isFull: Bool { raw.count >= SharedFrames.targetBytes || members.count >= SharedFrames.maxMembers }

    /// Adds the block stored under `key` (its header and raw payload, in the current version).
    mutating func add(key: [UInt8], header: BlockHeader, payload: [UInt8]) {
        members.append(Member(key: key, header: header, runOffset: raw.count, runLength: payload.count))
        raw.append(contentsOf: payload)
    }

    /// The frame's stored bytes (compressed at `level`, with `dictionary` when smaller).
    func encode(level: Int32, dictionary: [UInt8]?) -> [UInt8] {
        precondition(!members.isEmpty, "BUG: empty frame")
        let minTimestamp = members.map(\.header.minTimestamp).min()!
        var table = ByteWriter(capacity: members.count * 16)
        for m in members {
            table.varint(UInt64(m.runLength))
            table.varint(UInt64(m.header.count))
            table.varint(UInt64(bitPattern: m.header.minTimestamp &- minTimestamp))
            table.varint(UInt64(bitPattern: m.header.maxTimestamp &- m.header.minTimestamp))
            table.varint(m.header.lastLSN &- m.header.firstLSN)
            table.varint(UInt64(m.header.timeUnit))
        }
        return BlockCodec.assembleFrame(
            raw, table: table.bytes, members: members.count, minTimestamp: minTimestamp,
            maxTimestamp: members.map(\.header.maxTimestamp).max()!, firstLSN: members.map(\.header.firstLSN).min()!,
            lastLSN: members.map(\.header.lastLSN).max()!, level: level, dictionary: dictionary)
    }

    mutating func reset() {
        raw.removeAll(keepingCapacity: true)
        members.removeAll(keepingCapacity: true)
    }
}

extension BlockCodec {
    /// One shared frame holding `blocks` (each a block's lines, sorted here by `(timestamp,
    /// LSN)`), compressed at `level`: the frame compaction writes for them, for tools and
    /// tests. Returns the frame's stored bytes and each block's first LSN (its key's).
    public static func encodeFrame(_ blocks: [[BlockLine]], level: Int32 = 9) -> (bytes: [UInt8], firstLSNs: [LSN]) {
        var builder = SharedFrameBuilder()
        var firsts: [LSN] = []
        for lines in blocks where !lines.isEmpty {
            let (header, raw) = rawColumns(lines.sorted { $0.position < $1.position })
            builder.add(key: [], header: header, payload: raw)
            firsts.append(header.firstLSN)
        }
        return (builder.encode(level: level, dictionary: nil), firsts)
    }

    /// Every block of the shared frame `bytes` (without a preset dictionary), decoded; the
    /// member at index i read with `firstLSNs[i]` as its first LSN. Checks the frame's crc, its
    /// member table and each block's columns.
    public static func decodeFrame(_ bytes: UnsafeRawBufferPointer, firstLSNs: [LSN]) throws(CorruptDataError) -> [DecodedBlock] {
        let frame = try BlockHeader(parsing: bytes, frame: true)
        guard firstLSNs.count == frame.count else { throw CorruptDataError("frame of \(frame.count) blocks, \(firstLSNs.count) first LSNs") }
        let raw = try framePayload(bytes, dictionary: nil)
        var blocks: [DecodedBlock] = []
        for (member, first) in zip(try FrameMember.all(bytes, frame: frame), firstLSNs) {
            let run = Array(raw[member.runOffset..<(member.runOffset + member.runLength)])
            blocks.append(try DecodedBlock(header: member.header(firstLSN: first, frame: frame), payload: run))
        }
        return blocks
    }
}
