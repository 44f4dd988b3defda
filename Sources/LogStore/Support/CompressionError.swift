/// CompressionError is why compressed bytes could not be inflated: the one error of every
/// decompression in logstore (blocks on disk, request bodies, imported files).
public enum CompressionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The output would exceed `limit` bytes (a decompression bomb, or a block larger than its
    /// header says).
    case tooLarge(limit: Int)
    /// The stream ended before its end marker.
    case truncated
    /// zlib rejected the data (`reason` is zlib's message and where it stopped).
    case corrupt(String)
    /// Bytes follow the end of the stream.
    case trailingData(count: Int)
    /// The stream inflated to `actual` bytes where exactly `expected` were required.
    case sizeMismatch(expected: Int, actual: Int)

    /// A human-readable explanation.
    public var description: String {
        switch self {
        case .tooLarge(let limit): return "inflates to more than \(limit) bytes"
        case .truncated: return "truncated stream"
        case .corrupt(let reason): return reason
        case .trailingData(let count): return "\(count) bytes of trailing data after the stream"
        case .sizeMismatch(let expected, let actual): return "inflated to \(actual) bytes, expected \(expected)"
        }
    }
}
