import LogStore

/// ContentDecoder decodes HTTP bodies by their `Content-Encoding` through the engine's zlib
/// wrapper (`Compression`), bounded so that no body expands past the caller's limit.
public enum ContentDecoder: Sendable {
    /// Decodes `body` per its `Content-Encoding`: `gzip`/`x-gzip` (concatenated members allowed),
    /// `deflate` (zlib-wrapped or raw), `identity` or `nil` (returned as is). The output is
    /// bounded: more than `maxOutput` bytes throws ``IngestError/tooLarge(limit:)``; data zlib
    /// cannot decode throws ``IngestError/badCompression(_:)``.
    public static func decode(_ body: [UInt8], encoding: String?, maxOutput: Int) throws(IngestError) -> [UInt8] {
        let name = (encoding ?? "identity").lowercased().filter { $0 != " " && $0 != "\t" }
        let framing: CompressionFraming
        switch name {
        case "", "identity":
            guard body.count <= maxOutput else { throw .tooLarge(limit: maxOutput) }
            return body
        case "gzip", "x-gzip":
            framing = .gzip
        case "deflate":
            // RFC 9110 deflate is zlib-wrapped; some clients send raw deflate.
            let zlibHeader = body.count >= 2 && (UInt16(body[0]) << 8 | UInt16(body[1])) % 31 == 0 && body[0] & 0x0F == 8
            framing = zlibHeader ? .zlib : .raw
        default:
            throw .unsupportedEncoding(encoding ?? "")
        }
        do {
            return try Compression.inflate(body, framing: framing, maxOutput: maxOutput, concatenated: true)
        } catch .tooLarge(let limit) {
            throw .tooLarge(limit: limit)
        } catch {
            throw .badCompression(error.description)
        }
    }
}
