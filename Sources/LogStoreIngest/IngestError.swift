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
    /// An index name OpenSearch would refuse (`reason` says which rule it breaks).
    case invalidIndexName(name: String, reason: String)
    /// A name or id (`what`: index, workflow, job, `_id`, stream key, field name) is `length`
    /// bytes, over its `limit`.
    case nameTooLong(what: String, length: Int, limit: Int)
    /// The document's time is outside the accepted window (`reason` names the window).
    case outsideTimeWindow(String)
    /// The document falls on a UTC day beyond the first `limit` distinct days of its request.
    case tooManyDays(limit: Int)
    /// An object holds the member `name` twice.
    case duplicateKey(String)

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
        case .invalidIndexName(let name, let reason):
            return "Invalid index name [\(name.prefix(300))], \(reason)"
        case .nameTooLong(let what, let length, let limit):
            return "\(what) is too long, must be no longer than \(limit) bytes but was: \(length)"
        case .outsideTimeWindow(let reason):
            return reason
        case .tooManyDays(let limit):
            return "the request's documents fall on more than \(limit) distinct UTC days; send the other days in another request"
        case .duplicateKey(let name):
            return "Duplicate field '\(name.prefix(300))'"
        }
    }
}
