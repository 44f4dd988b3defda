import CZlib

/// Inflater owns one zlib inflate state for the length of one call of ``Compression``, ended
/// when it goes away. The state is on the heap: zlib keeps a pointer back to it, so it must
/// never move.
struct Inflater: ~Copyable {
    let stream: UnsafeMutablePointer<z_stream>

    /// Starts inflating in `framing`.
    init(framing: CompressionFraming) throws(CompressionError) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard inflateInit2_(stream, framing.inflateWindowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw CompressionError.corrupt("zlib initialisation failed")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// The error for zlib status `status`, `consumed` input bytes into the stream.
    func error(_ status: Int32, consumed: Int) -> CompressionError {
        switch status {
        case Z_DATA_ERROR:
            let message = stream.pointee.msg.map { String(cString: $0) } ?? "corrupt data"
            return .corrupt("\(message) near byte \(consumed)")
        case Z_MEM_ERROR: return .corrupt("out of memory")
        case Z_NEED_DICT: return .corrupt("the stream needs a preset dictionary")
        default: return .corrupt("zlib error \(status)")
        }
    }
}
