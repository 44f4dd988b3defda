import Foundation

/// A sealed run of one stream's lines, sorted by `(timestamp, LSN)`.
///
/// On disk (little-endian; see docs/FORMAT.md):
/// ```
/// 0  magic "LSBK"          4   version u8 (1, 2, 3)   5   codec u8 (0 stored, 1 zlib, 2 raw deflate, 3 raw deflate with the segment's preset dictionary)
/// 6  time unit u8 (version 3; reserved before)     7   reserved u8
/// 8  count u32             12  rawSize u32 (payload before codec)
/// 16 minTimestamp i64      24  maxTimestamp i64    32  firstLSN u64 (min)
/// 40 lastLSN u64 (max)     48  payloadSize u32     52  crc32 u32 (bytes 0..<52, then payload)
/// 56 payload
/// ```
/// The payload, before the codec, is laid out by column: timestamp deltas (varint, from
/// `minTimestamp`, ascending; in version 3 in units of 10^u ns, u the time unit byte, the
/// largest that divides every line's offset from `minTimestamp`: FluentBit's millisecond
/// times then take 1–3 bytes a line instead of 4–6 of nanoseconds), LSN deltas (zig-zag varint, from `firstLSN`), message lengths
/// (varint), then the fields:
/// - version 2 and 3 (written now): the number of distinct field values d, their lengths (varint),
///   when d > 1 each line's value number as zig-zag deltas, all message bytes, each distinct
///   field value once;
/// - version 1 (still read): each line's field length (varint), all message bytes, every line's
///   field bytes.
public struct BlockHeader: Sendable, Equatable {
    public static let size = 56
    public static let magic: [UInt8] = Array("LSBK".utf8)
    /// The version blocks are written in.
    public static let version: UInt8 = 3
    /// Nanoseconds in each time unit a version-3 header can name (10^0 … 10^9).
    static let unitNanos: [Int64] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000]

    /// Payload layout version (see above).
    public var version: UInt8
    public var codec: UInt8
    /// The timestamp deltas' unit: 10^timeUnit ns (0 before version 3).
    public var timeUnit: UInt8 = 0
    public var count: Int
    public var rawSize: Int
    public var minTimestamp: Int64
    public var maxTimestamp: Int64
    public var firstLSN: LSN
    public var lastLSN: LSN
    public var payloadSize: Int
    public var crc: UInt32

    /// The version of a shared frame's header (`SharedFrame.swift`): its payload is the raw
    /// payloads of several blocks, not columns.
    static let frameVersion: UInt8 = 16

    /// Reads and checks the fixed header of a stored block (not its crc; see `BlockCodec.decode`).
    public init(parsing bytes: UnsafeRawBufferPointer) throws(CorruptDataError) {
        try self.init(parsing: bytes, frame: false)
    }

    /// Reads and checks the fixed header of a stored block, or with `frame` of a shared frame.
    init(parsing bytes: UnsafeRawBufferPointer, frame: Bool) throws(CorruptDataError) {
        guard bytes.count >= Self.size else { throw CorruptDataError("block shorter than its header (\(bytes.count) bytes)") }
        guard bytes[0] == 0x4C, bytes[1] == 0x53, bytes[2] == 0x42, bytes[3] == 0x4B else {
            throw CorruptDataError("block magic missing")
        }
        if frame {
            guard bytes[4] == Self.frameVersion else { throw CorruptDataError("shared block pointer to a block of version \(bytes[4]), not a frame") }
        } else {
            guard bytes[4] >= 1 && bytes[4] <= Self.version else { throw CorruptDataError("block version \(bytes[4]) not supported") }
        }
        version = bytes[4]
        var r = ByteReader(bytes, offset: 5)
        codec = try r.u8()
        let unit = try r.u8()
        _ = try r.u8()
        if version >= 3 {
            guard Int(unit) < Self.unitNanos.count else { throw CorruptDataError("block time unit \(unit) out of range") }
            timeUnit = unit
        }
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

    /// Nanoseconds per stored timestamp delta.
    var unitNanos: Int64 { Self.unitNanos[Int(timeUnit)] }

    /// The smallest position a line of this block can have.
    public var minPosition: LogPosition { LogPosition(timestamp: minTimestamp, lsn: firstLSN) }
    /// An upper bound of the positions of this block's lines.
    public var maxPosition: LogPosition { LogPosition(timestamp: maxTimestamp, lsn: lastLSN) }
}
