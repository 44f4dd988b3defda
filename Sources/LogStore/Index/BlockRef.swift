import Foundation

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

    /// Reads the fixed form (`encodedSize` bytes) or, any other length, the short form.
    init(number: UInt32, decoding bytes: UnsafeRawBufferPointer) throws(CorruptDataError) {
        var r = ByteReader(bytes)
        self.number = number
        guard bytes.count == Self.encodedSize else {
            stream = try r.varint()
            firstLSN = try r.varint()
            lastLSN = firstLSN &+ (try r.varint())
            minTimestamp = try r.zigzag()
            maxTimestamp = minTimestamp &+ Int64(bitPattern: try r.varint())
            let n = try r.varint()
            guard n <= UInt64(UInt32.max) else { throw CorruptDataError("block directory entry counts \(n) lines") }
            count = Int(n)
            return
        }
        stream = try r.u64LE()
        firstLSN = try r.u64LE()
        lastLSN = try r.u64LE()
        minTimestamp = Int64(bitPattern: try r.u64LE())
        maxTimestamp = Int64(bitPattern: try r.u64LE())
        count = Int(try r.u32LE())
    }

    /// The short form compacted days store: varints stream, first LSN, last − first LSN,
    /// zig-zag min time, max − min time, line count; a byte more when that comes to exactly
    /// `encodedSize` bytes (the length tells the forms apart).
    func compactEncoded() -> [UInt8] {
        var w = ByteWriter(capacity: 40)
        w.varint(stream)
        w.varint(firstLSN)
        w.varint(lastLSN &- firstLSN)
        w.zigzag(minTimestamp)
        w.varint(UInt64(bitPattern: maxTimestamp &- minTimestamp))
        w.varint(UInt64(count))
        if w.bytes.count == Self.encodedSize { w.u8(0) }
        return w.bytes
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
