import Foundation

/// A sealed run of one stream's lines, sorted by `(timestamp, LSN)`.
///
/// On disk (little-endian; see docs/FORMAT.md):
/// ```
/// 0  magic "LSBK"          4   version u8 (1, 2)   5   codec u8 (0 stored, 1 zlib, 2 raw deflate, 3 raw deflate with the segment's preset dictionary)
/// 6  reserved u16          8   count u32           12  rawSize u32 (payload before codec)
/// 16 minTimestamp i64      24  maxTimestamp i64    32  firstLSN u64 (min)
/// 40 lastLSN u64 (max)     48  payloadSize u32     52  crc32 u32 (bytes 0..<52, then payload)
/// 56 payload
/// ```
/// The payload, before the codec, is laid out by column: timestamp deltas (varint, from
/// `minTimestamp`, ascending), LSN deltas (zig-zag varint, from `firstLSN`), message lengths
/// (varint), then the fields:
/// - version 2 (written now): the number of distinct field values d, their lengths (varint),
///   when d > 1 each line's value number as zig-zag deltas, all message bytes, each distinct
///   field value once;
/// - version 1 (still read): each line's field length (varint), all message bytes, every line's
///   field bytes.
public struct BlockHeader: Sendable, Equatable {
    public static let size = 56
    public static let magic: [UInt8] = Array("LSBK".utf8)
    /// The version blocks are written in.
    public static let version: UInt8 = 2

    /// Payload layout version (see above).
    public var version: UInt8
    public var codec: UInt8
    public var count: Int
    public var rawSize: Int
    public var minTimestamp: Int64
    public var maxTimestamp: Int64
    public var firstLSN: LSN
    public var lastLSN: LSN
    public var payloadSize: Int
    public var crc: UInt32

    /// Reads and checks the fixed header of a stored block (not its crc; see `BlockCodec.decode`).
    public init(parsing bytes: UnsafeRawBufferPointer) throws(CorruptDataError) {
        guard bytes.count >= Self.size else { throw CorruptDataError("block shorter than its header (\(bytes.count) bytes)") }
        guard bytes[0] == 0x4C, bytes[1] == 0x53, bytes[2] == 0x42, bytes[3] == 0x4B else {
            throw CorruptDataError("block magic missing")
        }
        guard bytes[4] == 1 || bytes[4] == 2 else { throw CorruptDataError("block version \(bytes[4]) not supported") }
        version = bytes[4]
        var r = ByteReader(bytes, offset: 5)
        codec = try r.u8()
        _ = try r.u8()
        _ = try r.u8()
        count = Int(try r.u32LE())
        rawSize = Int(try r.u32LE())
        minTimestamp = Int64(bitPattern: try r.u64LE())
        maxTimestamp = Int64(bitPattern: try r.u64LE())
        firstLSN = try r.u64LE()
        lastLSN = try r.u64LE()
        payloadSize = Int(try r.u32LE())
        crc = try r.u32LE()
        guard payloadSize == bytes.count - Self.size else {
            throw CorruptDataError("block payload is \(bytes.count - Self.size) bytes, header says \(payloadSize)")
        }
    }

    init(codec: UInt8, count: Int, rawSize: Int, minTimestamp: Int64, maxTimestamp: Int64, firstLSN: LSN, lastLSN: LSN, payloadSize: Int) {
        self.version = Self.version
        self.codec = codec
        self.count = count
        self.rawSize = rawSize
        self.minTimestamp = minTimestamp
        self.maxTimestamp = maxTimestamp
        self.firstLSN = firstLSN
        self.lastLSN = lastLSN
        self.payloadSize = payloadSize
        self.crc = 0
    }

    /// The smallest position a line of this block can have.
    public var minPosition: LogPosition { LogPosition(timestamp: minTimestamp, lsn: firstLSN) }
    /// An upper bound of the positions of this block's lines.
    public var maxPosition: LogPosition { LogPosition(timestamp: maxTimestamp, lsn: lastLSN) }
}
