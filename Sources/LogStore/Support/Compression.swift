import CZlib

/// zlib deflate/inflate and crc32 for blocks.
public enum Compression {
    /// Compresses `input` at `level` (1 fastest … 9 smallest): a zlib stream (RFC 1950), or with
    /// `raw` a bare deflate stream (RFC 1951: no header and no Adler-32 of the input, which
    /// blocks do not need since their crc covers the stored bytes).
    public static func deflate(_ input: UnsafeRawBufferPointer, level: Int32 = 6, raw: Bool = false) -> [UInt8] {
        var stream = z_stream()
        let rc = deflateInit2_(
            &stream, level, Z_DEFLATED, raw ? -15 : 15, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(rc == Z_OK, "BUG: deflateInit2 failed: \(rc)")
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(input.count)))
        // Uninitialized: zero-filling a bound-sized buffer per block cost as much as a memcpy.
        return [UInt8](unsafeUninitializedCapacity: bound) { out, initialized in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
            stream.avail_in = UInt32(input.count)
            stream.next_out = out.baseAddress!
            stream.avail_out = UInt32(out.count)
            let result = CZlib.deflate(&stream, Z_FINISH)
            precondition(result == Z_STREAM_END, "BUG: deflate with a bound-sized buffer did not finish: \(result)")
            initialized = Int(stream.total_out)
        }
    }

    /// Inflates a zlib stream (or with `raw` a bare deflate stream) whose decompressed size is
    /// exactly `expectedSize`.
    public static func inflate(_ input: UnsafeRawBufferPointer, expectedSize: Int, raw: Bool = false) throws(CorruptDataError) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, raw ? -15 : 15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw CorruptDataError("inflateInit failed")
        }
        defer { inflateEnd(&stream) }
        // Not zero-filled first (that memset was ~3 % of a read): zlib writes the bytes counted.
        var rc: Int32 = Z_OK
        var produced = 0
        let output = [UInt8](unsafeUninitializedCapacity: expectedSize) { out, initialized in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
            stream.avail_in = UInt32(input.count)
            stream.next_out = out.baseAddress
            stream.avail_out = UInt32(out.count)
            rc = CZlib.inflate(&stream, Z_FINISH)
            produced = Int(stream.total_out)
            initialized = min(produced, out.count)
        }
        guard rc == Z_STREAM_END, produced == expectedSize else {
            throw CorruptDataError("inflate failed (zlib \(rc), \(produced) of \(expectedSize) bytes)")
        }
        return output
    }

    /// CRC-32 (zlib's) of `bytes`, continuing from `crc`.
    public static func crc32(_ bytes: UnsafeRawBufferPointer, crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return UInt32(CZlib.crc32(UInt(crc), base.assumingMemoryBound(to: UInt8.self), UInt32(bytes.count)))
    }
}
