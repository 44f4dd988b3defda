import Hummingbird
import LogStore
import NIOCore

/// JSONAnswer makes the response of a JSON answer, gzip-compressed when the client accepts it.
enum JSONAnswer {
    /// JSON, gzip-compressed when the client accepts it (opensearch-py with http_compress does;
    /// so do browsers and `curl --compressed` on the native API's answers).
    static func answer(_ bytes: [UInt8], request: Request) -> Response {
        answer(bytes, gzip: acceptsGzip(request))
    }

    /// JSON, gzip-compressed (level 1) when `gzip` and longer than 256 bytes.
    static func answer(_ bytes: [UInt8], gzip: Bool) -> Response {
        guard gzip, bytes.count > 256 else { return .json(bytes) }
        return .gzipped(Compression.gzip(bytes, level: 1))
    }

    /// `answer(_:request:)` for a body written into a buffer.
    static func answer(_ buffer: ByteBuffer, request: Request) -> Response {
        guard acceptsGzip(request), buffer.readableBytes > 256 else { return .json(buffer) }
        return .gzipped(Compression.gzip(Array(buffer.readableBytesView), level: 1))
    }

    /// Whether the client accepts a gzip answer.
    static func acceptsGzip(_ request: Request) -> Bool {
        request.headers[.acceptEncoding]?.lowercased().contains("gzip") ?? false
    }
}
