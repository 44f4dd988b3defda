/// Builds JSON text by hand, in a fixed key order (responses whose order matters, NDJSON output),
/// faster than `JSONEncoder` and without a tree.
public struct JSONText: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }
    public mutating func raw(_ data: some Sequence<UInt8>) { bytes.append(contentsOf: data) }

    /// Appends `s` as a quoted JSON string.
    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { string(bytes: $0) }
    }

    /// Appends UTF-8 `data` as a quoted JSON string, escaping `"`, `\` and control characters.
    public mutating func string(bytes data: some Collection<UInt8>) {
        bytes.append(0x22)
        for b in data {
            switch b {
            case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
            case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
            case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
            case 0x00..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: bytes.append(b)
            }
        }
        bytes.append(0x22)
    }

    /// `"key":` (the key is escaped).
    public mutating func key(_ k: String) {
        string(k)
        bytes.append(0x3A)
    }

    public mutating func number(_ v: some BinaryInteger) { raw(String(v)) }

    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
