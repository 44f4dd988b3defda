/// Everything that can go wrong while decoding and parsing ingested log documents.
///
/// Byte offsets count from the start of the buffer that was being parsed: the document line for
/// bulk and NDJSON bodies, the whole body for `json` arrays and `json_stream` bodies.
public enum IngestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The JSON text is not valid (RFC 8259) at `offset`.
    case malformedJSON(offset: Int, reason: String)
    /// The msgpack body is not valid at `offset`.
    case malformedMessagePack(offset: Int, reason: String)
    /// A string holds bytes that are not valid UTF-8, starting at `offset`.
    case invalidUTF8(offset: Int)
    /// Objects and arrays are nested deeper than `limit` levels (detected at `offset`).
    case tooDeep(offset: Int, limit: Int)
    /// The document is valid JSON but not an object.
    case notAnObject
    /// The decoded message is longer than `limit` bytes.
    case lineTooLong(limit: Int)
    /// The timestamp field holds a value that is not a recognised date or epoch number.
    case badTimestamp(String)
    /// A bulk operation (or body format) that logstore does not implement.
    case unsupportedOperation(String)
    /// Decoded output would exceed `limit` bytes (decompression-bomb guard, body limits).
    case tooLarge(limit: Int)
    /// A bulk action line that cannot be understood.
    case badAction(String)
    /// A compressed body that zlib cannot decode.
    case badCompression(String)
    /// A `Content-Encoding` other than gzip, deflate or identity.
    case unsupportedEncoding(String)
    /// A field-mapping configuration string that cannot be parsed.
    case badMapping(String)

    /// A human-readable explanation naming the problem and where it is.
    public var description: String {
        switch self {
        case .malformedJSON(let offset, let reason):
            return "malformed JSON at byte \(offset): \(reason)"
        case .malformedMessagePack(let offset, let reason):
            return "malformed msgpack at byte \(offset): \(reason)"
        case .invalidUTF8(let offset):
            return "invalid UTF-8 at byte \(offset)"
        case .tooDeep(let offset, let limit):
            return "JSON nested deeper than \(limit) levels at byte \(offset)"
        case .notAnObject:
            return "document is not a JSON object"
        case .lineTooLong(let limit):
            return "message longer than the limit of \(limit) bytes"
        case .badTimestamp(let text):
            return "unrecognised timestamp \(text)"
        case .unsupportedOperation(let op):
            return "\(op) is not supported"
        case .tooLarge(let limit):
            return "decoded body larger than the limit of \(limit) bytes"
        case .badAction(let reason):
            return "bad bulk action line: \(reason)"
        case .badCompression(let reason):
            return "cannot decompress body: \(reason)"
        case .unsupportedEncoding(let encoding):
            return "unsupported content encoding \"\(encoding)\""
        case .badMapping(let reason):
            return "bad field mapping: \(reason)"
        }
    }
}
