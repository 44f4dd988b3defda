/// CompressionFraming is how a deflate stream is wrapped: the zlib format (RFC 1950, HTTP's
/// `deflate`), a bare deflate stream (RFC 1951), or gzip (RFC 1952).
public enum CompressionFraming: Sendable, Equatable {
    case zlib, raw, gzip

    /// zlib's `windowBits` for deflating in this framing.
    var deflateWindowBits: Int32 {
        switch self {
        case .zlib: return 15
        case .raw: return -15
        case .gzip: return 15 + 16
        }
    }

    /// zlib's `windowBits` for inflating: `.gzip` also accepts a zlib stream (zlib detects it).
    var inflateWindowBits: Int32 {
        switch self {
        case .zlib: return 15
        case .raw: return -15
        case .gzip: return 15 + 32
        }
    }
}
