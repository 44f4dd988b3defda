/// Identifies one request body for idempotent retries: FluentBit resends a whole chunk after
/// a timeout or an error, and the same chunk must not be stored twice.
///
/// 128 bits: XXH64 of the bytes, their CRC-32 and their length, plus a hash of the context
/// (index, path) the body was sent to.
public struct ChunkKey: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The key of `body` sent in `context` (e.g. the request path).
    public init(body: UnsafeRawBufferPointer, context: String) {
        var contextBytes = Array(context.utf8)
        let contextHash = contextBytes.withUnsafeMutableBytes { XXH64.hash(UnsafeRawBufferPointer($0), seed: 0x9E37_79B9) }
        high = XXH64.hash(body, seed: 0) ^ contextHash
        low = (UInt64(Compression.crc32(body)) << 32) | UInt64(UInt32(truncatingIfNeeded: body.count))
    }

    public init(body: [UInt8], context: String) {
        self = body.withUnsafeBytes { ChunkKey(body: $0, context: context) }
    }

    var bytes: [UInt8] {
        var w = ByteWriter(capacity: 16)
        w.u64BE(high)
        w.u64BE(low)
        return w.bytes
    }

    init(bytes: UnsafeRawBufferPointer) throws(CorruptDataError) {
        var r = ByteReader(bytes)
        high = try r.u64BE()
        low = try r.u64BE()
    }

    public var description: String {
        let h = String(high, radix: 16)
        let l = String(low, radix: 16)
        return String(repeating: "0", count: 16 - h.count) + h + String(repeating: "0", count: 16 - l.count) + l
    }
}
