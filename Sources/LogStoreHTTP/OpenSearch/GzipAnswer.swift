import CZlib
import LogStore

/// A gzip member written in pieces: bytes compressed as they come, and pieces compressed
/// before (cached hits of a whole block) copied in as they are.
///
/// A cached piece is a raw deflate stream of its own that ends byte-aligned without a final
/// block (`Z_SYNC_FLUSH`); before one is copied in, the running stream is flushed with
/// `Z_FULL_FLUSH`, which byte-aligns it and forgets its history, so nothing after the piece
/// refers back across it. The trailer's CRC-32 joins the pieces' with `crc32_combine`.
final class GzipWriter {
    /// Deflate level of answers: 1, the fastest (answers are read once and are very repetitive).
    static let level: Int32 = 1
    private let stream: UnsafeMutablePointer<z_stream>  // zlib keeps a pointer back to it: never moved
    private var output: [UInt8]
    private var chunk = [UInt8](repeating: 0, count: 64 << 10)
    private var crc: UInt = 0
    private var length = 0

    init(capacity: Int) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = deflateInit2_(stream, Self.level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(rc == Z_OK, "BUG: deflateInit2 failed: \(rc)")
        output = []
        output.reserveCapacity(capacity)
        // gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
        output.append(contentsOf: [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xFF])
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Compresses `bytes` into the member.
    func write(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        crc = CZlib.crc32(crc, base.assumingMemoryBound(to: UInt8.self), UInt32(bytes.count))
        length += bytes.count
        stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(bytes.count)
        run(Z_NO_FLUSH)
    }

    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Copies in a piece compressed by `Self.piece`.
    func append(_ piece: DeflatedPiece) {
        stream.pointee.avail_in = 0
        run(Z_FULL_FLUSH)
        output.append(contentsOf: piece.deflated)
        crc = crc32_combine(crc, UInt(piece.crc), Int(piece.length))
        length += piece.length
    }

    /// Ends the member; the writer is spent.
    func finish() -> [UInt8] {
        stream.pointee.avail_in = 0
        run(Z_FINISH)
        let c = UInt32(truncatingIfNeeded: crc)
        let n = UInt32(truncatingIfNeeded: length)
        output.append(contentsOf: [UInt8(c & 0xFF), UInt8(c >> 8 & 0xFF), UInt8(c >> 16 & 0xFF), UInt8(c >> 24)])
        output.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)])
        return output
    }

    private func run(_ flush: Int32) {
        chunk.withUnsafeMutableBytes { out in
            let base = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
            while true {
                stream.pointee.next_out = base
                stream.pointee.avail_out = UInt32(out.count)
                let rc = CZlib.deflate(stream, flush)
                precondition(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR, "BUG: deflate failed: \(rc)")
                let produced = out.count - Int(stream.pointee.avail_out)
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<produced]))
                if flush == Z_FINISH {
                    if rc == Z_STREAM_END { return }
                } else if stream.pointee.avail_out != 0 {
                    return  // all input taken and everything flushed
                }
            }
        }
    }

    /// `bytes` as a piece to copy into members later: a raw deflate stream of its own, ended
    /// byte-aligned and not final, with its CRC-32 and length.
    static func piece(_ bytes: [UInt8]) -> DeflatedPiece {
        var stream = z_stream()
        let rc = deflateInit2_(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(rc == Z_OK, "BUG: deflateInit2 failed: \(rc)")
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
        var produced = 0
        bytes.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
                stream.avail_in = UInt32(input.count)
                stream.next_out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
                stream.avail_out = UInt32(output.count)
                let rc = CZlib.deflate(&stream, Z_SYNC_FLUSH)
                precondition(rc == Z_OK, "BUG: deflate failed: \(rc)")
                produced = output.count - Int(stream.avail_out)
            }
        }
        precondition(stream.avail_in == 0 && stream.avail_out != 0, "BUG: deflate bound too small")
        out.removeSubrange(produced...)
        let crc = bytes.withUnsafeBytes { Compression.crc32($0) }
        return DeflatedPiece(deflated: out, crc: crc, length: bytes.count)
    }
}

/// Bytes compressed once, to be copied into gzip members (`GzipWriter.append`).
struct DeflatedPiece: Sendable {
    let deflated: [UInt8]
    let crc: UInt32
    let length: Int

    var memorySize: Int { deflated.count + 48 }
}
