/// A sealed run of one stream's lines, sorted by `(timestamp, LSN)`.
///
/// On disk (little-endian; see docs/FORMAT.md):
/// ```
/// 0  magic "LSBK"          4   version u8 (1)      5   codec u8 (0 stored, 1 zlib, 2 raw deflate)
/// 6  reserved u16          8   count u32           12  rawSize u32 (payload before codec)
/// 16 minTimestamp i64      24  maxTimestamp i64    32  firstLSN u64 (min)
/// 40 lastLSN u64 (max)     48  payloadSize u32     52  crc32 u32 (bytes 0..<52, then payload)
/// 56 payload
/// ```
/// The payload, before the codec, is laid out by column: timestamp deltas (varint, from
/// `minTimestamp`, ascending), LSN deltas (zig-zag varint, from `firstLSN`), message lengths
/// (varint), field lengths (varint), all message bytes, all field bytes.
public struct BlockHeader: Sendable, Equatable {
    public static let size = 56
    public static let magic: [UInt8] = Array("LSBK".utf8)
    public static let version: UInt8 = 1

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
        guard bytes[4] == Self.version else { throw CorruptDataError("block version \(bytes[4]) not supported") }
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

/// A line inside a block before it is encoded, or after it is decoded (bytes form).
public struct BlockLine: Sendable, Equatable {
    public var timestamp: Int64
    public var lsn: LSN
    public var message: [UInt8]
    public var fields: [UInt8]

    public init(timestamp: Int64, lsn: LSN, message: [UInt8], fields: [UInt8]) {
        self.timestamp = timestamp
        self.lsn = lsn
        self.message = message
        self.fields = fields
    }

    var position: LogPosition { LogPosition(timestamp: timestamp, lsn: lsn) }
}

/// What a block is encoded from: a line's position, and its message and fields bytes.
/// `BlockLine` owns its bytes; `LineView` points at bytes that outlive the encoding (the
/// writer's commit arena, or head values inside a read transaction), so sealing copies each
/// message once, into the block payload.
protocol SealableLine {
    var timestamp: Int64 { get }
    var lsn: LSN { get }
    var messageCount: Int { get }
    var fieldsCount: Int { get }
    func withMessage<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
    func withFields<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension SealableLine {
    var position: LogPosition { LogPosition(timestamp: timestamp, lsn: lsn) }
    /// Bytes the line counts as in "raw bytes" statistics and block size limits.
    var rawSize: Int { messageCount + fieldsCount }
}

extension BlockLine: SealableLine {
    var messageCount: Int { message.count }
    var fieldsCount: Int { fields.count }
    func withMessage<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try message.withUnsafeBytes(body) }
    func withFields<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try fields.withUnsafeBytes(body) }
}

/// A line whose bytes live elsewhere; valid only while that memory is (see `SealableLine`).
struct LineView: SealableLine, @unchecked Sendable {
    var timestamp: Int64
    var lsn: LSN
    var message: UnsafeRawBufferPointer
    var fields: UnsafeRawBufferPointer

    var messageCount: Int { message.count }
    var fieldsCount: Int { fields.count }
    @inline(__always) func withMessage<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(message) }
    @inline(__always) func withFields<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(fields) }
}

/// Encodes and decodes blocks.
public enum BlockCodec {
    /// Payloads smaller than this are stored uncompressed: zlib's overhead would eat the gain.
    public static let minCompressSize = 256

    /// Encodes `lines` (sorted here by `(timestamp, LSN)`) as one block.
    public static func encode(_ input: [BlockLine], level: Int32 = 6) -> [UInt8] {
        encodeWithHeader(input, level: level).bytes
    }

    /// Encodes `lines` as one block; also returns its header.
    static func encodeWithHeader<Line: SealableLine>(_ input: [Line], level: Int32 = 6) -> (bytes: [UInt8], header: BlockHeader) {
        precondition(!input.isEmpty, "BUG: empty block")
        let lines = input.sorted { $0.position < $1.position }
        return encodeSorted(lines, level: level)
    }

    /// `encodeWithHeader` for lines already sorted by `(timestamp, LSN)`.
    static func encodeSorted<Line: SealableLine>(_ lines: [Line], level: Int32) -> (bytes: [UInt8], header: BlockHeader) {
        precondition(!lines.isEmpty, "BUG: empty block")
        let minTs = lines[0].timestamp
        var maxTs = Int64.min
        var minLSN = LSN.max
        var maxLSN: LSN = 0
        var textBytes = 0
        for line in lines {
            maxTs = max(maxTs, line.timestamp)
            minLSN = min(minLSN, line.lsn)
            maxLSN = max(maxLSN, line.lsn)
            textBytes += line.messageCount + line.fieldsCount
        }
        var payload = ByteWriter(capacity: textBytes + lines.count * 8)
        var prevTs = minTs
        for line in lines {
            payload.varint(UInt64(bitPattern: line.timestamp &- prevTs))
            prevTs = line.timestamp
        }
        var prevLSN = Int64(bitPattern: minLSN)
        for line in lines {
            payload.zigzag(Int64(bitPattern: line.lsn) &- prevLSN)
            prevLSN = Int64(bitPattern: line.lsn)
        }
        for line in lines { payload.varint(UInt64(line.messageCount)) }
        for line in lines { payload.varint(UInt64(line.fieldsCount)) }
        for line in lines { line.withMessage { payload.bytes.append(contentsOf: $0) } }
        for line in lines { line.withFields { payload.bytes.append(contentsOf: $0) } }

        let raw = payload.bytes
        let (codec, stored) = compress(raw, level: level)
        let header = BlockHeader(
            codec: codec, count: lines.count, rawSize: raw.count, minTimestamp: minTs, maxTimestamp: maxTs,
            firstLSN: minLSN, lastLSN: maxLSN, payloadSize: stored.count)
        return assemble(header, stored)
    }

    /// The stored block: `header` (its codec, sizes and ranges; the crc is computed here) and
    /// the payload after the codec.
    private static func assemble(_ header: BlockHeader, _ stored: [UInt8]) -> (bytes: [UInt8], header: BlockHeader) {
        var out = ByteWriter(capacity: BlockHeader.size + stored.count)
        out.append(BlockHeader.magic)
        out.u8(BlockHeader.version)
        out.u8(header.codec)
        out.u8(0)
        out.u8(0)
        out.u32LE(UInt32(header.count))
        out.u32LE(UInt32(header.rawSize))
        out.u64LE(UInt64(bitPattern: header.minTimestamp))
        out.u64LE(UInt64(bitPattern: header.maxTimestamp))
        out.u64LE(header.firstLSN)
        out.u64LE(header.lastLSN)
        out.u32LE(UInt32(header.payloadSize))
        var crc = out.bytes.withUnsafeBytes { Compression.crc32($0) }
        crc = stored.withUnsafeBytes { Compression.crc32($0, crc: crc) }
        out.u32LE(crc)
        out.append(stored)
        var stamped = header
        stamped.crc = crc
        return (out.bytes, stamped)
    }

    /// The same block with its payload compressed at `level` (compaction): the columns are not
    /// decoded, only inflated and deflated again. Checks the crc and the inflated size.
    static func recompress(_ bytes: UnsafeRawBufferPointer, level: Int32) throws(CorruptDataError) -> [UInt8] {
        var (header, raw) = try rawPayload(bytes)
        let (codec, stored) = compress(raw, level: level)
        header.codec = codec
        header.payloadSize = stored.count
        raw = []
        return assemble(header, stored).bytes
    }

    /// Checks the crc and decodes a stored block into its columns.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> DecodedBlock {
        let (header, raw) = try rawPayload(bytes)
        return try DecodedBlock(header: header, payload: raw)
    }

    /// The header of a stored block and its payload before the codec; checks the crc and the
    /// inflated size.
    private static func rawPayload(_ bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> (BlockHeader, [UInt8]) {
        let header = try BlockHeader(parsing: bytes)
        var crc = Compression.crc32(UnsafeRawBufferPointer(rebasing: bytes[0..<52]))
        let stored = UnsafeRawBufferPointer(rebasing: bytes[BlockHeader.size...])
        crc = Compression.crc32(stored, crc: crc)
        guard crc == header.crc else { throw CorruptDataError("block crc mismatch (stored \(header.crc), computed \(crc))") }
        switch header.codec {
        case 0:
            guard stored.count == header.rawSize else { throw CorruptDataError("stored block size mismatch") }
            return (header, stored.array)
        case 1:
            return (header, try Compression.inflate(stored, expectedSize: header.rawSize))
        case 2:
            return (header, try Compression.inflate(stored, expectedSize: header.rawSize, raw: true))
        default:
            throw CorruptDataError("unknown block codec \(header.codec)")
        }
    }

    /// The codec and stored bytes of a payload: raw deflate at `level` (codec 2), or the payload
    /// itself (codec 0) when it is too small or does not shrink.
    private static func compress(_ raw: [UInt8], level: Int32) -> (codec: UInt8, stored: [UInt8]) {
        guard raw.count >= minCompressSize else { return (0, raw) }
        let compressed = raw.withUnsafeBytes { Compression.deflate($0, level: level, raw: true) }
        return compressed.count < raw.count ? (2, compressed) : (0, raw)
    }
}

/// A block's columns after decompression. Lines are materialized on demand.
public struct DecodedBlock: Sendable {
    public let header: BlockHeader
    @usableFromInline let payload: [UInt8]
    public let timestamps: [Int64]
    public let lsns: [LSN]
    @usableFromInline let messageOffsets: [Int]  // count + 1 offsets into payload
    @usableFromInline let fieldOffsets: [Int]  // count + 1

    init(header: BlockHeader, payload: [UInt8]) throws(CorruptDataError) {
        self.header = header
        self.payload = payload
        let n = header.count
        var timestamps = [Int64]()
        var lsns = [LSN]()
        var messageOffsets = [Int]()
        var fieldOffsets = [Int]()
        timestamps.reserveCapacity(n)
        lsns.reserveCapacity(n)
        messageOffsets.reserveCapacity(n + 1)
        fieldOffsets.reserveCapacity(n + 1)
        let result: Result<Void, CorruptDataError> = payload.withUnsafeBytes { buffer in
            do throws(CorruptDataError) {
                var r = ByteReader(buffer)
                var ts = header.minTimestamp
                for _ in 0..<n {
                    ts = ts &+ Int64(bitPattern: try r.varint())
                    timestamps.append(ts)
                }
                var lsn = Int64(bitPattern: header.firstLSN)
                for _ in 0..<n {
                    lsn = lsn &+ (try r.zigzag())
                    lsns.append(LSN(bitPattern: lsn))
                }
                var messageLengths = [Int]()
                messageLengths.reserveCapacity(n)
                for _ in 0..<n { messageLengths.append(Int(try r.varint())) }
                var fieldLengths = [Int]()
                fieldLengths.reserveCapacity(n)
                for _ in 0..<n { fieldLengths.append(Int(try r.varint())) }
                var offset = r.offset
                messageOffsets.append(offset)
                for length in messageLengths {
                    offset += length
                    messageOffsets.append(offset)
                }
                for length in fieldLengths {
                    fieldOffsets.append(offset)
                    offset += length
                }
                fieldOffsets.append(offset)
                guard offset == buffer.count else {
                    throw CorruptDataError("block columns end at \(offset), payload is \(buffer.count) bytes")
                }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
        self.timestamps = timestamps
        self.lsns = lsns
        self.messageOffsets = messageOffsets
        self.fieldOffsets = fieldOffsets
    }

    /// Lines packed by the reader (head lines): no header, no codec.
    init(packed: [UInt8], timestamps: [Int64], lsns: [LSN], messageOffsets: [Int], fieldOffsets: [Int]) {
        header = BlockHeader(
            codec: 0, count: timestamps.count, rawSize: packed.count, minTimestamp: timestamps.min() ?? 0,
            maxTimestamp: timestamps.max() ?? 0, firstLSN: lsns.min() ?? 0, lastLSN: lsns.max() ?? 0, payloadSize: packed.count)
        payload = packed
        self.timestamps = timestamps
        self.lsns = lsns
        self.messageOffsets = messageOffsets
        self.fieldOffsets = fieldOffsets
    }

    public var count: Int { header.count }

    /// Bytes this decoded block holds in memory (payload and columns), for cache accounting.
    var memorySize: Int { payload.count + (timestamps.count + lsns.count + messageOffsets.count + fieldOffsets.count) * 8 + 128 }

    /// Calls `body` with the message bytes of line `i`.
    @inlinable
    public func withMessage<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let start = messageOffsets[i]
        let end = messageOffsets[i + 1]
        return try payload.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
    }

    /// Calls `body` with the field bytes of line `i`.
    @inlinable
    public func withFields<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let start = fieldOffsets[i]
        let end = fieldOffsets[i + 1]
        return try payload.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
    }

    /// Where the message and the fields of line `i` are in `payload`.
    @inlinable
    func ranges(_ i: Int) -> (message: Range<Int>, fields: Range<Int>) {
        (messageOffsets[i]..<messageOffsets[i + 1], fieldOffsets[i]..<fieldOffsets[i + 1])
    }

    /// The message of line `i` as a string.
    public func message(_ i: Int) -> String {
        payload.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[messageOffsets[i]..<messageOffsets[i + 1]]), as: UTF8.self) }
    }

    /// The fields (JSON object text) of line `i`.
    public func fields(_ i: Int) -> String {
        payload.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[fieldOffsets[i]..<fieldOffsets[i + 1]]), as: UTF8.self) }
    }

    /// Message bytes of line `i`.
    public func messageBytes(_ i: Int) -> ArraySlice<UInt8> { payload[messageOffsets[i]..<messageOffsets[i + 1]] }

    /// Field bytes of line `i`.
    public func fieldBytes(_ i: Int) -> ArraySlice<UInt8> { payload[fieldOffsets[i]..<fieldOffsets[i + 1]] }

    /// Line `i` in bytes form.
    public func line(_ i: Int) -> BlockLine {
        BlockLine(timestamp: timestamps[i], lsn: lsns[i], message: Array(messageBytes(i)), fields: Array(fieldBytes(i)))
    }

    /// Line `i` as a `LogLine` of `stream`.
    public func logLine(_ i: Int, stream: StreamID) -> LogLine {
        LogLine(lsn: lsns[i], timestamp: timestamps[i], stream: stream, message: message(i), fields: fields(i))
    }
}
