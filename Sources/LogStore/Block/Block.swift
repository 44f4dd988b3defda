#if canImport(Glibc)
import Glibc
#endif

/// A sealed run of one stream's lines, sorted by `(timestamp, LSN)`.
///
/// On disk (little-endian; see docs/FORMAT.md):
/// ```
/// 0  magic "LSBK"          4   version u8 (1, 2)   5   codec u8 (0 stored, 1 zlib, 2 raw deflate)
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
        var messageBytes = 0
        // Each distinct field value once: FluentBit repeats a pod's metadata on every line of
        // its stream (~240 of REANA's ~370 bytes a line), which deflate shrank well but inflate
        // and deflate still had to walk on every seal and every read.
        var values = FieldValues()
        var slots = [Int32]()
        slots.reserveCapacity(lines.count)
        for line in lines {
            maxTs = max(maxTs, line.timestamp)
            minLSN = min(minLSN, line.lsn)
            maxLSN = max(maxLSN, line.lsn)
            messageBytes += line.messageCount
            slots.append(line.withFields { values.slot(for: $0) })
        }
        var payload = ByteWriter(capacity: messageBytes + values.bytes.count + lines.count * 8 + values.ends.count * 2 + 8)
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
        payload.varint(UInt64(values.ends.count))
        var start = 0
        for end in values.ends {
            payload.varint(UInt64(end - start))
            start = end
        }
        if values.ends.count > 1 {
            var previous: Int32 = 0
            for slot in slots {
                payload.zigzag(Int64(slot) - Int64(previous))
                previous = slot
            }
        }
        for line in lines { line.withMessage { payload.bytes.append(contentsOf: $0) } }
        payload.bytes.append(contentsOf: values.bytes)

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
        out.u8(header.version)
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
    /// decoded, only inflated and deflated again. Checks the crc and the inflated size. A block
    /// of an earlier layout version is rewritten in the current one (same lines, same order).
    static func recompress(_ bytes: UnsafeRawBufferPointer, level: Int32) throws(CorruptDataError) -> [UInt8] {
        var (header, raw) = try rawPayload(bytes)
        if header.version != BlockHeader.version {
            let decoded = try DecodedBlock(header: header, payload: raw)
            return encodeSorted((0..<decoded.count).map { decoded.line($0) }, level: level).bytes
        }
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

/// The distinct field values of a block being encoded, each stored once, numbered in order of
/// first appearance.
struct FieldValues {
    /// The values, one after another.
    var bytes: [UInt8] = []
    /// Where each value ends in `bytes`.
    var ends: [Int] = []
    /// First value with a hash; the others with the same hash chain through `nextSameHash`.
    private var byHash: [Int: Int32] = [:]
    private var nextSameHash: [Int32] = []
    private var last: Int32 = -1

    /// The number of `value`, added when new. A value equal to the previous line's (the usual
    /// case) costs one comparison.
    mutating func slot(for value: UnsafeRawBufferPointer) -> Int32 {
        if last >= 0 && equals(last, value) { return last }
        var hasher = Hasher()
        hasher.combine(bytes: value)
        let hash = hasher.finalize()
        let first = byHash[hash] ?? -1
        var slot = first
        while slot >= 0 {
            if equals(slot, value) {
                last = slot
                return slot
            }
            slot = nextSameHash[Int(slot)]
        }
        let new = Int32(ends.count)
        bytes.append(contentsOf: value)
        ends.append(bytes.count)
        nextSameHash.append(first)
        byHash[hash] = new
        last = new
        return new
    }

    private func equals(_ slot: Int32, _ value: UnsafeRawBufferPointer) -> Bool {
        let start = slot == 0 ? 0 : ends[Int(slot) - 1]
        let end = ends[Int(slot)]
        guard end - start == value.count else { return false }
        if value.isEmpty { return true }
        return bytes.withUnsafeBytes { memcmp($0.baseAddress! + start, value.baseAddress!, value.count) == 0 }
    }
}

/// A block's columns after decompression. Lines are materialized on demand.
public struct DecodedBlock: Sendable {
    public let header: BlockHeader
    @usableFromInline let payload: [UInt8]
    public let timestamps: [Int64]
    public let lsns: [LSN]
    @usableFromInline let messageOffsets: [Int]  // count + 1 offsets into payload
    /// Offsets into payload of the distinct field values (one more than there are values).
    @usableFromInline let fieldOffsets: [Int]
    /// Each line's field value number; empty when the values are the lines' own (one per line)
    /// or when there is a single value.
    @usableFromInline let fieldSlots: [Int32]

    /// A stored length as an `Int`; a varint beyond the payload's possible sizes is corruption.
    static func length(_ value: UInt64) throws(CorruptDataError) -> Int {
        guard value <= UInt64(Int32.max) else { throw CorruptDataError("block column length \(value) is out of range") }
        return Int(value)
    }

    init(header: BlockHeader, payload: [UInt8]) throws(CorruptDataError) {
        self.header = header
        self.payload = payload
        let n = header.count
        // Every line takes at least a byte in each of its first columns: a count beyond the
        // payload is corruption, not an allocation to attempt.
        guard n <= payload.count else {
            throw CorruptDataError("block says \(n) lines but its payload is \(payload.count) bytes")
        }
        var timestamps = [Int64]()
        var lsns = [LSN]()
        var messageOffsets = [Int]()
        var fieldOffsets = [Int]()
        var fieldSlots = [Int32]()
        timestamps.reserveCapacity(n)
        lsns.reserveCapacity(n)
        messageOffsets.reserveCapacity(n + 1)
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
                for _ in 0..<n { messageLengths.append(try Self.length(r.varint())) }
                var fieldLengths = [Int]()
                if header.version == 1 {
                    fieldLengths.reserveCapacity(n)
                    for _ in 0..<n { fieldLengths.append(try Self.length(r.varint())) }
                } else {
                    let values = try r.varint()
                    guard values >= 1, values <= UInt64(max(n, 1)) else {
                        throw CorruptDataError("block of \(n) lines has \(values) field values")
                    }
                    fieldLengths.reserveCapacity(Int(values))
                    for _ in 0..<values { fieldLengths.append(try Self.length(r.varint())) }
                    if values > 1 {
                        fieldSlots.reserveCapacity(n)
                        var slot: Int64 = 0
                        for _ in 0..<n {
                            slot &+= try r.zigzag()
                            guard slot >= 0, slot < Int64(values) else {
                                throw CorruptDataError("block line refers to field value \(slot) of \(values)")
                            }
                            fieldSlots.append(Int32(slot))
                        }
                    }
                }
                fieldOffsets.reserveCapacity(fieldLengths.count + 1)
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
        self.fieldSlots = fieldSlots
    }

    /// Lines packed by the reader (head lines): no header, no codec. `fieldSlots` as in a
    /// decoded block (empty: one value per line).
    init(packed: [UInt8], timestamps: [Int64], lsns: [LSN], messageOffsets: [Int], fieldOffsets: [Int], fieldSlots: [Int32] = []) {
        header = BlockHeader(
            codec: 0, count: timestamps.count, rawSize: packed.count, minTimestamp: timestamps.min() ?? 0,
            maxTimestamp: timestamps.max() ?? 0, firstLSN: lsns.min() ?? 0, lastLSN: lsns.max() ?? 0, payloadSize: packed.count)
        payload = packed
        self.timestamps = timestamps
        self.lsns = lsns
        self.messageOffsets = messageOffsets
        self.fieldOffsets = fieldOffsets
        self.fieldSlots = fieldSlots
    }

    public var count: Int { header.count }

    /// Bytes this decoded block holds in memory (payload and columns), for cache accounting.
    var memorySize: Int {
        payload.count + (timestamps.count + lsns.count + messageOffsets.count + fieldOffsets.count) * 8 + fieldSlots.count * 4 + 160
    }

    /// The number of line `i`'s field value.
    @inlinable
    func fieldSlot(_ i: Int) -> Int {
        if !fieldSlots.isEmpty { return Int(fieldSlots[i]) }
        return fieldOffsets.count == header.count + 1 ? i : 0
    }

    /// Where line `i`'s fields are in `payload`.
    @inlinable
    func fieldRange(_ i: Int) -> Range<Int> {
        let slot = fieldSlot(i)
        return fieldOffsets[slot]..<fieldOffsets[slot + 1]
    }

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
        let range = fieldRange(i)
        return try payload.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// Where the message and the fields of line `i` are in `payload`.
    @inlinable
    func ranges(_ i: Int) -> (message: Range<Int>, fields: Range<Int>) {
        (messageOffsets[i]..<messageOffsets[i + 1], fieldRange(i))
    }

    /// The message of line `i` as a string.
    public func message(_ i: Int) -> String {
        payload.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[messageOffsets[i]..<messageOffsets[i + 1]]), as: UTF8.self) }
    }

    /// The fields (JSON object text) of line `i`.
    public func fields(_ i: Int) -> String {
        payload.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[fieldRange(i)]), as: UTF8.self) }
    }

    /// Message bytes of line `i`.
    public func messageBytes(_ i: Int) -> ArraySlice<UInt8> { payload[messageOffsets[i]..<messageOffsets[i + 1]] }

    /// Field bytes of line `i`.
    public func fieldBytes(_ i: Int) -> ArraySlice<UInt8> { payload[fieldRange(i)] }

    /// Line `i` in bytes form.
    public func line(_ i: Int) -> BlockLine {
        BlockLine(timestamp: timestamps[i], lsn: lsns[i], message: Array(messageBytes(i)), fields: Array(fieldBytes(i)))
    }

    /// Line `i` as a `LogLine` of `stream`.
    public func logLine(_ i: Int, stream: StreamID) -> LogLine {
        LogLine(lsn: lsns[i], timestamp: timestamps[i], stream: stream, message: message(i), fields: fields(i))
    }
}
