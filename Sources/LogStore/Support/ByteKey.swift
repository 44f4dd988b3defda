/// Bytes as a dictionary or set key, hashed in one call over the buffer (`[UInt8]`'s own
/// `Hashable` feeds the hasher byte by byte: a tenth of ingest's CPU went there when field
/// tokens were keyed by `[UInt8]`).
struct ByteKey: Hashable, Sendable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    static func == (a: ByteKey, b: ByteKey) -> Bool { a.bytes == b.bytes }
}
