import Foundation

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

    // One pass over the columns in their stored order with one reader; the stored properties
    // are all set here, so the parse is not split across helpers.
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
                let unit = header.unitNanos
                for _ in 0..<n {
                    ts = ts &+ Int64(bitPattern: try r.varint()) &* unit
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

    /// Calls `body` with the message and the field bytes of line `i`.
    @inlinable
    public func withMessageAndFields<R>(_ i: Int, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let message = messageOffsets[i]..<messageOffsets[i + 1]
        let fields = fieldRange(i)
        return try payload.withUnsafeBytes {
            try body(UnsafeRawBufferPointer(rebasing: $0[message]), UnsafeRawBufferPointer(rebasing: $0[fields]))
        }
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
