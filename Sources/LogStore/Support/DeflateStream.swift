import CZlib

/// DeflateStream compresses bytes as they come, into one stream of a ``CompressionFraming``
/// (the streaming half of ``Compression``; same error policy: compressing fails only on a bug,
/// which traps). `reset()` starts a new stream on the same state, so a pooled stream costs no
/// allocation per use (zlib's state is ~270 KB).
///
/// Not thread-safe: one owner at a time.
public final class DeflateStream {
    /// How far `write(_:flush:into:)` pushes the output.
    public enum Flush: Sendable {
        /// Compress what fits; more input follows.
        case none
        /// Everything so far, byte-aligned, in a non-final block (`Z_SYNC_FLUSH`).
        case sync
        /// Like `sync`, and forget the history: nothing after refers back across it (`Z_FULL_FLUSH`).
        case full
        /// End the stream (`Z_FINISH`).
        case finish

        var zlib: Int32 {
            switch self {
            case .none: return Z_NO_FLUSH
            case .sync: return Z_SYNC_FLUSH
            case .full: return Z_FULL_FLUSH
            case .finish: return Z_FINISH
            }
        }
    }

    private let stream: UnsafeMutablePointer<z_stream>  // zlib keeps a pointer back to it: never moved
    private var chunk = [UInt8](repeating: 0, count: 64 << 10)

    /// A stream at `level` (1 fastest … 9 smallest) in `framing`.
    public init(level: Int32, framing: CompressionFraming) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = deflateInit2_(
            stream, level, Z_DEFLATED, framing.deflateWindowBits, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
            Int32(MemoryLayout<z_stream>.size))
        precondition(rc == Z_OK, "BUG: deflateInit2 failed: \(rc)")
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Starts a new stream (same level and framing).
    public func reset() {
        deflateReset(stream)
    }

    /// Compresses `bytes` and appends what zlib produces to `output`, flushed as `flush` says.
    public func write(_ bytes: UnsafeRawBufferPointer, flush: Flush, into output: inout [UInt8]) {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(bytes.count)
        chunk.withUnsafeMutableBytes { out in
            guard let outBase = out.baseAddress else { preconditionFailure("BUG: no output buffer") }
            let base = outBase.assumingMemoryBound(to: UInt8.self)
            while true {
                stream.pointee.next_out = base
                stream.pointee.avail_out = UInt32(out.count)
                let rc = CZlib.deflate(stream, flush.zlib)
                precondition(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR, "BUG: deflate failed: \(rc)")
                let produced = out.count - Int(stream.pointee.avail_out)
                output.append(contentsOf: UnsafeRawBufferPointer(start: outBase, count: produced))
                if flush == .finish {
                    if rc == Z_STREAM_END { return }
                } else if stream.pointee.avail_out != 0 {
                    return  // all input taken and everything flushed
                }
            }
        }
    }
}
