import CZlib
import Foundation

extension BlockCodec {
    /// The timestamps of a stored block's lines, ascending, inflating only the payload's first
    /// column (the timestamp deltas, docs/FORMAT.md): a few bytes a line instead of the whole
    /// payload. Counting lines per time bucket needs nothing else.
    ///
    /// `dictionary` is the preset dictionary of a codec that deflates with one (handed to
    /// `inflateSetDictionary`); nil for the codecs without.
    ///
    /// The crc is not checked (it covers the whole payload, which is not read); instead the
    /// column must decode in full, start at the header's `minTimestamp` and end at its
    /// `maxTimestamp`. `decode` checks the crc whenever the messages are read.
    static func timestamps(_ bytes: UnsafeRawBufferPointer, dictionary: UnsafeRawBufferPointer? = nil) throws(CorruptDataError) -> [Int64] {
        let header = try BlockHeader(parsing: bytes)
        let stored = UnsafeRawBufferPointer(rebasing: bytes[BlockHeader.size...])
        let n = header.count
        guard n <= header.rawSize else { throw CorruptDataError("block says \(n) lines but its payload is \(header.rawSize) bytes") }
        var column = TimestampColumn(header)
        switch header.codec {
        case 0:
            guard stored.count == header.rawSize else { throw CorruptDataError("stored block size mismatch") }
            try column.feed(stored)
        case 1, 2, 3:
            if header.codec == 3, dictionary == nil { throw CorruptDataError("inflate failed: the block needs its day's preset dictionary") }
            try inflatePrefix(stored, framing: header.codec == 1 ? .zlib : .raw, rawSize: header.rawSize, dictionary: header.codec == 3 ? dictionary : nil) {
                (chunk) throws(CorruptDataError) -> Bool in
                try column.feed(chunk)
                return column.done
            }
        default:
            throw CorruptDataError("unknown block codec \(header.codec)")
        }
        return try column.finish()
    }

    /// Inflates `input` piece by piece, handing each new piece of output to `body` until it
    /// returns true (enough read) or the stream ends; at most `rawSize` bytes come out.
    static func inflatePrefix(
        _ input: UnsafeRawBufferPointer, framing: CompressionFraming, rawSize: Int, dictionary: UnsafeRawBufferPointer?,
        _ body: (UnsafeRawBufferPointer) throws(CorruptDataError) -> Bool
    ) throws(CorruptDataError) {
        guard let inputBase = input.baseAddress, !input.isEmpty else { throw CorruptDataError("empty compressed payload") }
        let inflater: Inflater
        do { inflater = try Inflater(framing: framing) } catch { throw CorruptDataError("inflate failed: \(error)") }
        let z = inflater.stream
        func setDictionary() throws(CorruptDataError) {
            guard let dictionary, let base = dictionary.baseAddress else {
                throw CorruptDataError("inflate failed: the block needs a preset dictionary")
            }
            guard inflateSetDictionary(z, base.assumingMemoryBound(to: UInt8.self), UInt32(dictionary.count)) == Z_OK else {
                throw CorruptDataError("inflate failed: the preset dictionary was refused")
            }
        }
        // A raw stream takes its dictionary up front; a zlib stream asks for it (Z_NEED_DICT).
        if framing == .raw, dictionary != nil { try setDictionary() }
        z.pointee.next_in = UnsafeMutablePointer(mutating: inputBase.assumingMemoryBound(to: UInt8.self))
        z.pointee.avail_in = UInt32(input.count)
        // Small pieces first: the timestamp column is a few bytes a line.
        var piece = 4096
        var produced = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let room = min(piece, buffer.count, rawSize - produced + 1)
            var status: Int32 = Z_OK
            var got = 0
            buffer.withUnsafeMutableBytes { out in
                z.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
                z.pointee.avail_out = UInt32(room)
                status = CZlib.inflate(z, Z_NO_FLUSH)
                got = room - Int(z.pointee.avail_out)
            }
            if status == Z_NEED_DICT {
                try setDictionary()
                continue
            }
            produced += got
            guard produced <= rawSize else { throw CorruptDataError("inflated payload larger than the header's \(rawSize) bytes") }
            if got > 0 {
                // `withUnsafeBytes` rethrows untyped errors: carry the typed one out in a Result.
                let done = buffer.withUnsafeBytes { out in
                    Result { () throws(CorruptDataError) -> Bool in try body(UnsafeRawBufferPointer(rebasing: out[0..<got])) }
                }
                if try done.get() { return }
            }
            switch status {
            case Z_OK: piece = min(piece * 2, 1 << 16)
            case Z_STREAM_END: return
            case Z_BUF_ERROR where got > 0: continue
            default: throw CorruptDataError("inflate failed: \(inflater.error(status, consumed: input.count - Int(z.pointee.avail_in)))")
            }
        }
    }
}

/// The timestamp column of one block, decoded from payload bytes as they arrive.
private struct TimestampColumn {
    let header: BlockHeader
    var values: [Int64] = []
    var ts: Int64
    /// A varint cut at the end of the last piece: its value so far and shift.
    var partial: UInt64 = 0
    var shift: UInt64 = 0

    init(_ header: BlockHeader) {
        self.header = header
        ts = header.minTimestamp
        values.reserveCapacity(header.count)
    }

    var done: Bool { values.count == header.count }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(CorruptDataError) {
        let n = header.count
        for byte in bytes {
            if values.count == n { return }
            if shift == 63 && byte > 1 { throw CorruptDataError("varint overflow in the timestamp column") }
            partial |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 {
                ts = ts &+ Int64(bitPattern: partial) &* header.unitNanos
                values.append(ts)
                partial = 0
                shift = 0
            } else {
                shift += 7
                if shift > 63 { throw CorruptDataError("varint too long in the timestamp column") }
            }
        }
    }

    func finish() throws(CorruptDataError) -> [Int64] {
        guard done else { throw CorruptDataError("timestamp column truncated (\(values.count) of \(header.count))") }
        guard values.first == header.minTimestamp, values.last == header.maxTimestamp else {
            throw CorruptDataError("timestamp column does not span the header's range")
        }
        return values
    }
}
