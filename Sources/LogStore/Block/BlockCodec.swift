import Foundation

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
    /// With `dictionary`, codec 3 when it is the smallest.
    static func encodeSorted<Line: SealableLine>(
        _ lines: [Line], level: Int32, dictionary: [UInt8]? = nil
    ) -> (bytes: [UInt8], header: BlockHeader) {
        var (header, raw) = rawColumns(lines)
        let (codec, stored) = compress(raw, level: level, dictionary: dictionary)
        raw = []
        header.codec = codec
        header.payloadSize = stored.count
        return assemble(header, stored)
    }

    /// The header (codec and stored size not set yet) and the raw payload, in the current
    /// version, of `lines` sorted by `(timestamp, LSN)`.
    static func rawColumns<Line: SealableLine>(_ lines: [Line]) -> (header: BlockHeader, raw: [UInt8]) {
        precondition(!lines.isEmpty, "BUG: empty block")
        let minTs = lines[0].timestamp
        var maxTs = Int64.min
        var minLSN = LSN.max
        var maxLSN: LSN = 0
        var messageBytes = 0
        // The largest power of ten (up to a second) dividing every line's offset from the first.
        var unit = BlockHeader.unitNanos.count - 1
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
            let offset = line.timestamp &- minTs
            while unit > 0 && offset % BlockHeader.unitNanos[unit] != 0 { unit -= 1 }
            slots.append(line.withFields { values.slot(for: $0) })
        }
        let unitNanos = BlockHeader.unitNanos[unit]
        var payload = ByteWriter(capacity: messageBytes + values.bytes.count + lines.count * 8 + values.ends.count * 2 + 8)
        var prevTs = minTs
        for line in lines {
            payload.varint(UInt64(bitPattern: (line.timestamp &- prevTs) / unitNanos))
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

        var header = BlockHeader(
            codec: 0, count: lines.count, rawSize: payload.bytes.count, minTimestamp: minTs, maxTimestamp: maxTs,
            firstLSN: minLSN, lastLSN: maxLSN, payloadSize: payload.bytes.count)
        header.timeUnit = UInt8(unit)
        return (header, payload.bytes)
    }

    /// The header and raw payload, in the current version, of the stored block `bytes`
    /// (crc and size checked; `source` is its segment's dictionary): as stored, or the lines
    /// of an earlier version laid out again.
    static func currentRawPayload(_ bytes: UnsafeRawBufferPointer, source: SegmentDictionary?) throws(CorruptDataError) -> (BlockHeader, [UInt8]) {
        let (header, raw) = try rawPayload(bytes, dictionary: source)
        if header.version == BlockHeader.version { return (header, raw) }
        let decoded = try DecodedBlock(header: header, payload: raw)
        return rawColumns((0..<decoded.count).map { decoded.line($0) })
    }

    /// The stored block: `header` (its codec, sizes and ranges; the crc is computed here) and
    /// the payload after the codec.
    static func assemble(_ header: BlockHeader, _ stored: [UInt8]) -> (bytes: [UInt8], header: BlockHeader) {
        var out = ByteWriter(capacity: BlockHeader.size + stored.count)
        out.append(BlockHeader.magic)
        out.u8(header.version)
        out.u8(header.codec)
        out.u8(header.timeUnit)
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
    /// `source` is the dictionary of the segment the block is read from; with `dictionary`, the
    /// payload is stored in codec 3 when that is smaller than raw deflate alone.
    static func recompress(
        _ bytes: UnsafeRawBufferPointer, level: Int32, source: SegmentDictionary? = nil, dictionary: [UInt8]? = nil
    ) throws(CorruptDataError) -> [UInt8] {
        var (header, raw) = try rawPayload(bytes, dictionary: source)
        if header.version != BlockHeader.version {
            let decoded = try DecodedBlock(header: header, payload: raw)
            return encodeSorted((0..<decoded.count).map { decoded.line($0) }, level: level, dictionary: dictionary).bytes
        }
        let (codec, stored) = compress(raw, level: level, dictionary: dictionary)
        header.codec = codec
        header.payloadSize = stored.count
        raw = []
        return assemble(header, stored).bytes
    }

    /// A shared frame (`SharedFrame.swift`): its member `table`, then `raw` (its blocks' raw
    /// payloads one after another) compressed at `level` (codec 3 with `dictionary` when
    /// smaller), under a block header of version `BlockHeader.frameVersion` whose count is its
    /// number of blocks.
    static func assembleFrame(
        _ raw: [UInt8], table: [UInt8], members: Int, minTimestamp: Int64, maxTimestamp: Int64, firstLSN: LSN, lastLSN: LSN,
        level: Int32, dictionary: [UInt8]?
    ) -> [UInt8] {
        let (codec, stored) = compress(raw, level: level, dictionary: dictionary)
        var payload = ByteWriter(capacity: table.count + stored.count + 8)
        payload.varint(UInt64(table.count))
        payload.append(table)
        payload.append(stored)
        var header = BlockHeader(
            codec: codec, count: members, rawSize: raw.count, minTimestamp: minTimestamp, maxTimestamp: maxTimestamp,
            firstLSN: firstLSN, lastLSN: lastLSN, payloadSize: payload.bytes.count)
        header.version = BlockHeader.frameVersion
        return assemble(header, payload.bytes).bytes
    }

    /// The inflated data of a shared frame (its stored bytes, header included): checks that it
    /// is a frame, its crc and its inflated size.
    static func framePayload(_ bytes: UnsafeRawBufferPointer, dictionary: SegmentDictionary?) throws(CorruptDataError) -> [UInt8] {
        let header = try BlockHeader(parsing: bytes, frame: true)
        try checkCRC(bytes, header, of: "shared frame")
        let table = try FrameMember.table(bytes)
        let tableEnd = table.offset + table.remaining
        return try inflatePayload(UnsafeRawBufferPointer(rebasing: bytes[tableEnd...]), header: header, dictionary: dictionary)
    }

    /// Checks the crc and decodes a stored block into its columns.
    /// A block is the preset dictionary of the block's segment (read only for codec 3).
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> DecodedBlock {
        try decode(bytes, dictionary: nil)
    }

    /// `decode` for a block of a segment with `dictionary` (read only for codec 3).
    static func decode(_ bytes: UnsafeRawBufferPointer, dictionary: SegmentDictionary?) throws(CorruptDataError) -> DecodedBlock {
        let (header, raw) = try rawPayload(bytes, dictionary: dictionary)
        return try DecodedBlock(header: header, payload: raw)
    }

    /// The header of a stored block and its payload before the codec; checks the crc and the
    /// inflated size.
    static func rawPayload(
        _ bytes: UnsafeRawBufferPointer, dictionary: SegmentDictionary?
    ) throws(CorruptDataError) -> (BlockHeader, [UInt8]) {
        let header = try BlockHeader(parsing: bytes)
        try checkCRC(bytes, header, of: "block")
        return (header, try inflatePayload(UnsafeRawBufferPointer(rebasing: bytes[BlockHeader.size...]), header: header, dictionary: dictionary))
    }

    /// Checks the crc of a stored block or frame (`header`, parsed from `bytes`): over the
    /// header's first 52 bytes, then every byte after the header.
    private static func checkCRC(_ bytes: UnsafeRawBufferPointer, _ header: BlockHeader, of what: String) throws(CorruptDataError) {
        var crc = Compression.crc32(UnsafeRawBufferPointer(rebasing: bytes[0..<52]))
        crc = Compression.crc32(UnsafeRawBufferPointer(rebasing: bytes[BlockHeader.size...]), crc: crc)
        guard crc == header.crc else { throw CorruptDataError("\(what) crc mismatch (stored \(header.crc), computed \(crc))") }
    }

    /// The payload of a block before its codec, from the `stored` bytes after its header
    /// (crc already checked): every codec's inflate goes through here.
    /// - 0: stored as is; 1: zlib; 2: raw deflate; 3: raw deflate with the preset dictionary
    ///   of the block's segment (`dictionary`, read on first use).
    static func inflatePayload(
        _ stored: UnsafeRawBufferPointer, header: BlockHeader, dictionary: SegmentDictionary?
    ) throws(CorruptDataError) -> [UInt8] {
        switch header.codec {
        case 0:
            guard stored.count == header.rawSize else { throw CorruptDataError("stored block size mismatch") }
            return stored.array
        case 1:
            return try Compression.inflate(stored, expectedSize: header.rawSize)
        case 2:
            return try Compression.inflate(stored, expectedSize: header.rawSize, raw: true)
        case 3:
            guard let preset = try dictionary?.bytes() else {
                throw CorruptDataError("block of codec 3 in a segment without a preset dictionary")
            }
            return try PresetDictionary.inflate(stored, dictionary: preset, expectedSize: header.rawSize)
        default:
            throw CorruptDataError("unknown block codec \(header.codec)")
        }
    }

    /// The codec and stored bytes of a payload: raw deflate at `level` (codec 2), with
    /// `dictionary` preset (codec 3) when given and smaller, or the payload itself (codec 0)
    /// when it is too small or does not shrink.
    static func compress(_ raw: [UInt8], level: Int32, dictionary: [UInt8]? = nil) -> (codec: UInt8, stored: [UInt8]) {
        var best: (codec: UInt8, stored: [UInt8]) = (0, raw)
        if let dictionary, !dictionary.isEmpty {
            let preset = raw.withUnsafeBytes { PresetDictionary.deflate($0, dictionary: dictionary, level: level) }
            if preset.count < best.stored.count { best = (3, preset) }
        }
        guard raw.count >= minCompressSize else { return best }
        let compressed = raw.withUnsafeBytes { Compression.deflate($0, level: level, raw: true) }
        return compressed.count < best.stored.count ? (2, compressed) : best
    }
}
