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
