import CZlib

/// Decodes and encodes HTTP bodies (`Content-Encoding`) with zlib.
public enum ContentDecoder: Sendable {
    /// Decodes `body` per its `Content-Encoding`: `gzip`/`x-gzip` (concatenated members allowed),
    /// `deflate` (zlib-wrapped or raw), `identity` or `nil` (returned as is). The output is
    /// bounded: more than `maxOutput` bytes throws ``IngestError/tooLarge(limit:)``.
    public static func decode(_ body: [UInt8], encoding: String?, maxOutput: Int) throws(IngestError) -> [UInt8] {
        let name = (encoding ?? "identity").lowercased().filter { $0 != " " && $0 != "\t" }
        switch name {
        case "", "identity":
            guard body.count <= maxOutput else { throw .tooLarge(limit: maxOutput) }
            return body
        case "gzip", "x-gzip":
            return try inflate(body, windowBits: 15 + 32, maxOutput: maxOutput, multiMember: true)
        case "deflate":
            // RFC 9110 deflate is zlib-wrapped; some clients send raw deflate.
            if body.count >= 2, (UInt16(body[0]) << 8 | UInt16(body[1])) % 31 == 0, body[0] & 0x0F == 8 {
                return try inflate(body, windowBits: 15, maxOutput: maxOutput, multiMember: false)
            }
            return try inflate(body, windowBits: -15, maxOutput: maxOutput, multiMember: false)
        default:
            throw .unsupportedEncoding(encoding ?? "")
        }
    }

    /// Compresses `bytes` as one gzip member (level 1 fastest … 9 smallest).
    public static func gzip(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        deflate(bytes, windowBits: 15 + 16, level: level)
    }

    /// Compresses `bytes` as a zlib stream (HTTP `deflate`).
    public static func zlibCompress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        deflate(bytes, windowBits: 15, level: level)
    }

    static func deflate(_ bytes: [UInt8], windowBits: Int32, level: Int32) -> [UInt8] {
        var stream = z_stream()
        let initResult = deflateInit2_(
            &stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
            Int32(MemoryLayout<z_stream>.size))
        guard initResult == Z_OK else { return [] }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(bytes.count))) + 32
        var out = [UInt8](repeating: 0, count: bound)
        var produced = 0
        bytes.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = output.baseAddress
                stream.avail_out = uInt(output.count)
                var status = Z_OK
                while status == Z_OK {
                    status = CZlib.deflate(&stream, Z_FINISH)
                }
                produced = output.count - Int(stream.avail_out)
            }
        }
        out.removeSubrange(produced...)
        return out
    }

    static func inflate(_ body: [UInt8], windowBits: Int32, maxOutput: Int, multiMember: Bool) throws(IngestError)
        -> [UInt8]
    {
        guard !body.isEmpty else { return [] }
        var stream = z_stream()
        guard inflateInit2_(&stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .badCompression("zlib initialisation failed")
        }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        out.reserveCapacity(min(maxOutput, max(body.count * 4, 4096)))
        let chunkSize = 1 << 16
        let result: Result<Void, IngestError> = body.withUnsafeBufferPointer { input in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: chunkSize) { chunk in
                guard let inputBase = input.baseAddress, let chunkBase = chunk.baseAddress else {
                    return .failure(.badCompression("no memory"))
                }
                stream.next_in = UnsafeMutablePointer(mutating: inputBase)
                stream.avail_in = uInt(input.count)
                while true {
                    stream.next_out = chunkBase
                    stream.avail_out = uInt(chunkSize)
                    let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    let produced = chunkSize - Int(stream.avail_out)
                    if produced > 0 {
                        if out.count + produced > maxOutput { return .failure(.tooLarge(limit: maxOutput)) }
                        out.append(contentsOf: UnsafeBufferPointer(start: chunkBase, count: produced))
                    }
                    switch status {
                    case Z_OK:
                        continue
                    case Z_STREAM_END:
                        let consumed = input.count - Int(stream.avail_in)
                        let rest = UnsafeBufferPointer(rebasing: input[consumed...])
                        if rest.isEmpty { return .success(()) }
                        if multiMember && rest.count >= 2 && rest[0] == 0x1F && rest[1] == 0x8B {
                            guard inflateReset(&stream) == Z_OK else {
                                return .failure(.badCompression("zlib reset failed"))
                            }
                            continue
                        }
                        if rest.allSatisfy({ $0 == 0 }) { return .success(()) }  // padding
                        return .failure(.badCompression("\(rest.count) bytes of trailing data after the stream"))
                    case Z_BUF_ERROR:
                        if stream.avail_in == 0 || produced == 0 {
                            return .failure(.badCompression("truncated stream"))
                        }
                        continue
                    case Z_DATA_ERROR:
                        let message = stream.msg.map { String(cString: $0) } ?? "corrupt data"
                        let offset = input.count - Int(stream.avail_in)
                        return .failure(.badCompression("\(message) near byte \(offset)"))
                    case Z_MEM_ERROR:
                        return .failure(.badCompression("out of memory"))
                    default:
                        return .failure(.badCompression("zlib error \(status)"))
                    }
                }
            }
        }
        try result.get()
        return out
    }
}
