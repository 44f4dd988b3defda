import CZlib
import LogStore
import NIOCore
import Synchronization

/// A gzip member written in pieces: bytes compressed as they come, and pieces compressed
/// before (cached hits of a whole block) copied in as they are.
///
/// A cached piece is a raw deflate stream of its own that ends byte-aligned without a final
/// block (`Z_SYNC_FLUSH`); before one is copied in, the running stream is flushed with
/// `Z_FULL_FLUSH`, which byte-aligns it and forgets its history, so nothing after the piece
/// refers back across it. The trailer's CRC-32 joins the pieces' with `crc32_combine`.
final class GzipWriter: @unchecked Sendable {  // used by one request at a time (pooled)
    /// Deflate level of answers: 1, the fastest (answers are read once and are very repetitive).
    static let level: Int32 = 1
    private let stream: UnsafeMutablePointer<z_stream>  // zlib keeps a pointer back to it: never moved
    private var output: [UInt8]
    private var chunk = [UInt8](repeating: 0, count: 64 << 10)
    private var crc: UInt = 0
    private var length = 0
    /// JSON written before it is compressed, kept with the pooled writer (its capacity too).
    private var scratch = ByteBufferAllocator().buffer(capacity: 80 << 10)

    /// Writers with their zlib state allocated (~270 KB each: allocating it per answer cost
    /// page faults on every request), reset between uses.
    private static let pool = Mutex<[GzipWriter]>([])
    private static let poolSize = 8

    private init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = deflateInit2_(stream, Self.level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(rc == Z_OK, "BUG: deflateInit2 failed: \(rc)")
        output = []
    }

    /// A writer of one gzip member (`finish`) or, with `gzipHeader` false, of a piece (`finishPiece`).
    static func make(capacity: Int, gzipHeader: Bool = true) -> GzipWriter {
        let writer = pool.withLock { $0.popLast() } ?? GzipWriter()
        writer.output = []
        writer.output.reserveCapacity(capacity)
        writer.crc = 0
        writer.length = 0
        // gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
        if gzipHeader { writer.output.append(contentsOf: [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xFF]) }
        return writer
    }

    /// A piece (see `finishPiece`) of the JSON `body` writes. `body` gets the buffer to append
    /// to and a function to call now and then (between whole hits): it compresses what was
    /// written once there is enough of it, so no answer-sized text buffer is needed.
    static func piece(capacity: Int, _ body: (inout ByteBuffer, (inout ByteBuffer) -> Void) -> Void) -> DeflatedPiece {
        let writer = make(capacity: capacity, gzipHeader: false)
        var json = writer.scratch
        writer.scratch = ByteBuffer()  // the pooled buffer is uniquely held while in use
        json.clear()
        body(&json) { text in
            if text.readableBytes >= 64 << 10 {
                text.withUnsafeReadableBytes { writer.write($0) }
                text.clear()
            }
        }
        json.withUnsafeReadableBytes { writer.write($0) }
        json.clear()
        writer.scratch = json
        return writer.finishPiece()
    }

    private func recycle() {
        deflateReset(stream)
        output = []
        Self.pool.withLock { pool in
            if pool.count < Self.poolSize { pool.append(self) }
        }
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

    /// Copies in a piece (from a writer made with `gzipHeader: false`, `finishPiece`).
    func append(_ piece: DeflatedPiece) {
        stream.pointee.avail_in = 0
        run(Z_FULL_FLUSH)
        output.append(contentsOf: piece.deflated)
        crc = crc32_combine(crc, UInt(piece.crc), Int(piece.length))
        length += piece.length
    }

    /// Ends the member; the writer goes back to the pool and must not be used again.
    func finish() -> [UInt8] {
        stream.pointee.avail_in = 0
        run(Z_FINISH)
        let c = UInt32(truncatingIfNeeded: crc)
        let n = UInt32(truncatingIfNeeded: length)
        output.append(contentsOf: [UInt8(c & 0xFF), UInt8(c >> 8 & 0xFF), UInt8(c >> 16 & 0xFF), UInt8(c >> 24)])
        output.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)])
        let result = output
        recycle()
        return result
    }

    /// Ends a piece (made with `gzipHeader: false`): flushed byte-aligned, not final. The
    /// writer goes back to the pool and must not be used again.
    func finishPiece() -> DeflatedPiece {
        stream.pointee.avail_in = 0
        run(Z_SYNC_FLUSH)
        let piece = DeflatedPiece(deflated: output, crc: UInt32(truncatingIfNeeded: crc), length: length)
        recycle()
        return piece
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
}

/// Bytes compressed once, to be copied into gzip members (`GzipWriter.append`).
struct DeflatedPiece: Sendable {
    let deflated: [UInt8]
    let crc: UInt32
    let length: Int

    var memorySize: Int { deflated.count + 48 }

    /// This piece followed by `next`: both end byte-aligned without a final block, so the bytes
    /// simply follow each other; the CRC-32 is combined.
    func joined(with next: DeflatedPiece) -> DeflatedPiece {
        DeflatedPiece(
            deflated: deflated + next.deflated,
            crc: UInt32(truncatingIfNeeded: crc32_combine(UInt(crc), UInt(next.crc), Int(next.length))),
            length: length + next.length)
    }
}
