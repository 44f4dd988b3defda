import LogStore
import NIOCore
import Synchronization

/// GzipWriter writes one gzip member in pieces: bytes compressed as they come, and pieces compressed
/// before (cached hits of a whole block) copied in as they are.
///
/// A cached piece is a raw deflate stream of its own that ends byte-aligned without a final
/// block (`Z_SYNC_FLUSH`); before one is copied in, the running stream is flushed with
/// `Z_FULL_FLUSH`, which byte-aligns it and forgets its history, so nothing after the piece
/// refers back across it. The trailer's CRC-32 joins the pieces' by `Compression.crc32Combine`.
final class GzipWriter: @unchecked Sendable {  // used by one request at a time (pooled)
    /// Deflate level of answers: 1, the fastest (answers are read once and are very repetitive).
    static let level: Int32 = 1
    private let deflater = DeflateStream(level: GzipWriter.level, framing: .raw)
    private var output: [UInt8] = []
    private var crc: UInt32 = 0
    private var length = 0
    /// JSON written before it is compressed, kept with the pooled writer (its capacity too).
    private var scratch = ByteBufferAllocator().buffer(capacity: 80 << 10)

    /// Writers with their zlib state allocated (~270 KB each: allocating it per answer cost
    /// page faults on every request), reset between uses.
    private static let pool = Mutex<[GzipWriter]>([])
    private static let poolSize = 8

    private init() {}

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
        deflater.reset()
        output = []
        Self.pool.withLock { pool in
            if pool.count < Self.poolSize { pool.append(self) }
        }
    }

    /// Compresses `bytes` into the member.
    func write(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        crc = Compression.crc32(bytes, crc: crc)
        length += bytes.count
        deflater.write(bytes, flush: .none, into: &output)
    }

    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Copies in a piece (from a writer made with `gzipHeader: false`, `finishPiece`).
    func append(_ piece: DeflatedPiece) {
        deflater.write(UnsafeRawBufferPointer(start: nil, count: 0), flush: .full, into: &output)
        output.append(contentsOf: piece.deflated)
        crc = Compression.crc32Combine(crc, piece.crc, secondLength: piece.length)
        length += piece.length
    }

    /// Ends the member; the writer goes back to the pool and must not be used again.
    func finish() -> [UInt8] {
        deflater.write(UnsafeRawBufferPointer(start: nil, count: 0), flush: .finish, into: &output)
        let c = crc
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
        deflater.write(UnsafeRawBufferPointer(start: nil, count: 0), flush: .sync, into: &output)
        let piece = DeflatedPiece(deflated: output, crc: crc, length: length)
        recycle()
        return piece
    }
}
