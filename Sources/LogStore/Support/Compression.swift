import CZlib

/// Compression is logstore's one zlib wrapper: one-shot deflate and inflate in every
/// ``CompressionFraming``, CRC-32; ``DeflateStream`` compresses in pieces.
///
/// One error policy. Compressing cannot fail on valid parameters (zlib fails there only on a bad
/// parameter or when out of memory), so a failure is a bug and traps. Inflating reads bytes that
/// come from outside (disk, request bodies, files) and throws ``CompressionError``; every
/// inflate is bounded (`maxOutput` or an exact expected size), so no input can expand past a
/// limit the caller chose.
public enum Compression {
    /// Compresses `input` at `level` (1 fastest … 9 smallest): a zlib stream (RFC 1950), or with
    /// `raw` a bare deflate stream (RFC 1951: no header and no Adler-32 of the input, which
    /// blocks do not need since their crc covers the stored bytes).
    public static func deflate(_ input: UnsafeRawBufferPointer, level: Int32 = 6, raw: Bool = false) -> [UInt8] {
        deflate(input, level: level, framing: raw ? .raw : .zlib)
    }

    /// Compresses `input` at `level` (1 fastest … 9 smallest) in `framing`.
    public static func deflate(_ input: UnsafeRawBufferPointer, level: Int32 = 6, framing: CompressionFraming) -> [UInt8] {
        var stream = z_stream()
        let rc = deflateInit2_(
            &stream, level, Z_DEFLATED, framing.deflateWindowBits, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
            Int32(MemoryLayout<z_stream>.size))
        precondition(rc == Z_OK, "BUG: deflateInit2 failed: \(rc)")
        defer { deflateEnd(&stream) }
        // A gzip header and trailer are 18 bytes over the bound zlib computes for its own framing.
        let bound = Int(deflateBound(&stream, UInt(input.count))) + 32
        // Uninitialized: zero-filling a bound-sized buffer per block cost as much as a memcpy.
        return [UInt8](unsafeUninitializedCapacity: bound) { out, initialized in
            guard let outBase = out.baseAddress else { preconditionFailure("BUG: no output buffer") }
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
            stream.avail_in = UInt32(input.count)
            stream.next_out = outBase
            stream.avail_out = UInt32(out.count)
            let result = CZlib.deflate(&stream, Z_FINISH)
            precondition(result == Z_STREAM_END, "BUG: deflate with a bound-sized buffer did not finish: \(result)")
            initialized = Int(stream.total_out)
        }
    }

    /// Compresses `bytes` in `framing` (see ``deflate(_:level:framing:)``).
    public static func deflate(_ bytes: [UInt8], level: Int32 = 6, framing: CompressionFraming) -> [UInt8] {
        bytes.withUnsafeBytes { deflate($0, level: level, framing: framing) }
    }

    /// Compresses `bytes` as one gzip member (HTTP `Content-Encoding: gzip`).
    public static func gzip(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        deflate(bytes, level: level, framing: .gzip)
    }

    /// Inflates a zlib stream (or with `raw` a bare deflate stream) whose decompressed size is
    /// exactly `expectedSize`: a stored block. Any failure means the stored bytes are not what
    /// was written, so it is reported as a `CorruptDataError` naming the ``CompressionError``.
    public static func inflate(
        _ input: UnsafeRawBufferPointer, expectedSize: Int, raw: Bool = false
    ) throws(CorruptDataError) -> [UInt8] {
        do {
            return try inflateExact(input, expectedSize: expectedSize, framing: raw ? .raw : .zlib)
        } catch {
            throw CorruptDataError("inflate failed: \(error)")
        }
    }

    /// Inflates `input` (one stream in `framing`; with `concatenated`, gzip members back to back
    /// as well) into at most `maxOutput` bytes. Zero bytes after the last stream are padding and
    /// accepted; any other trailing byte is an error.
    public static func inflate(
        _ input: UnsafeRawBufferPointer, framing: CompressionFraming, maxOutput: Int, concatenated: Bool = false
    ) throws(CompressionError) -> [UInt8] {
        guard let inputBase = input.baseAddress, !input.isEmpty else { return [] }
        let inflater = try Inflater(framing: framing)
        var out: [UInt8] = []
        out.reserveCapacity(min(maxOutput, max(input.count * 4, 4096)))
        let chunkSize = 1 << 16
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: chunkSize) { (chunk) throws(CompressionError) in
            guard let chunkBase = chunk.baseAddress else { throw CompressionError.corrupt("no memory") }
            inflater.stream.pointee.next_in = UnsafeMutablePointer(mutating: inputBase.assumingMemoryBound(to: UInt8.self))
            inflater.stream.pointee.avail_in = UInt32(input.count)
            while true {
                inflater.stream.pointee.next_out = chunkBase
                inflater.stream.pointee.avail_out = UInt32(chunkSize)
                let status = CZlib.inflate(inflater.stream, Z_NO_FLUSH)
                let produced = chunkSize - Int(inflater.stream.pointee.avail_out)
                if produced > 0 {
                    if out.count + produced > maxOutput { throw CompressionError.tooLarge(limit: maxOutput) }
                    out.append(contentsOf: UnsafeBufferPointer(start: chunkBase, count: produced))
                }
                switch status {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    let rest = UnsafeRawBufferPointer(rebasing: input[(input.count - Int(inflater.stream.pointee.avail_in))...])
                    if rest.isEmpty { return }
                    if concatenated && framing == .gzip && rest.count >= 2 && rest[0] == 0x1F && rest[1] == 0x8B {
                        guard inflateReset(inflater.stream) == Z_OK else { throw CompressionError.corrupt("zlib reset failed") }
                        continue
                    }
                    if rest.allSatisfy({ $0 == 0 }) { return }  // padding
                    throw CompressionError.trailingData(count: rest.count)
                case Z_BUF_ERROR:
                    if inflater.stream.pointee.avail_in == 0 || produced == 0 { throw CompressionError.truncated }
                    continue
                default:
                    throw inflater.error(status, consumed: input.count - Int(inflater.stream.pointee.avail_in))
                }
            }
        }
        return out
    }

    /// Inflates `bytes` (see ``inflate(_:framing:maxOutput:concatenated:)``).
    public static func inflate(
        _ bytes: [UInt8], framing: CompressionFraming, maxOutput: Int, concatenated: Bool = false
    ) throws(CompressionError) -> [UInt8] {
        // `withUnsafeBytes` rethrows untyped errors: carry the typed one out in a Result.
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(CompressionError) -> [UInt8] in
                try inflate(raw, framing: framing, maxOutput: maxOutput, concatenated: concatenated)
            }
        }
        return try result.get()
    }

    /// Inflates one stream whose output is exactly `expectedSize` bytes, straight into the result;
    /// a raw stream deflated with a preset `dictionary` is given it first.
    static func inflateExact(
        _ input: UnsafeRawBufferPointer, expectedSize: Int, framing: CompressionFraming, dictionary: [UInt8]? = nil
    ) throws(CompressionError) -> [UInt8] {
        let inflater = try Inflater(framing: framing)
        if let dictionary {
            let set = dictionary.withUnsafeBytes { d in
                inflateSetDictionary(inflater.stream, d.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt32(d.count))
            }
            guard set == Z_OK else { throw .corrupt("the preset dictionary was refused (\(set))") }
        }
        // Not zero-filled first (that memset was ~3 % of a read): zlib writes the bytes counted.
        var rc: Int32 = Z_OK
        var produced = 0
        let output = [UInt8](unsafeUninitializedCapacity: expectedSize) { out, initialized in
            inflater.stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
            inflater.stream.pointee.avail_in = UInt32(input.count)
            inflater.stream.pointee.next_out = out.baseAddress
            inflater.stream.pointee.avail_out = UInt32(out.count)
            rc = CZlib.inflate(inflater.stream, Z_FINISH)
            produced = Int(inflater.stream.pointee.total_out)
            initialized = min(produced, out.count)
        }
        switch rc {
        case Z_STREAM_END:
            guard produced == expectedSize else { throw .sizeMismatch(expected: expectedSize, actual: produced) }
            return output
        case Z_BUF_ERROR:
            // Out of room (more output than expected) or out of input (truncated).
            throw produced >= expectedSize ? .tooLarge(limit: expectedSize) : .truncated
        default:
            throw inflater.error(rc, consumed: input.count - Int(inflater.stream.pointee.avail_in))
        }
    }

    /// CRC-32 (zlib's) of `bytes`, continuing from `crc`.
    public static func crc32(_ bytes: UnsafeRawBufferPointer, crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return UInt32(CZlib.crc32(UInt(crc), base.assumingMemoryBound(to: UInt8.self), UInt32(bytes.count)))
    }

    /// The CRC-32 of two byte runs back to back, from the CRC-32 of each and the second's length.
    public static func crc32Combine(_ first: UInt32, _ second: UInt32, secondLength: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: crc32_combine(UInt(first), UInt(second), Int(secondLength)))
    }
}
