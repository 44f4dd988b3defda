/// JSONText builds JSON text by hand, in a fixed key order (responses whose order matters, NDJSON output),
/// faster than `JSONEncoder` and without a tree.
public struct JSONText: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    // Concrete forms of the hot calls: the generic ones are not specialized across modules
    // (the HTTP answers write every line through these).
    @inlinable public mutating func raw(_ data: [UInt8]) { bytes.append(contentsOf: data) }
    @inlinable public mutating func raw(_ data: UnsafeRawBufferPointer) { bytes.append(contentsOf: data) }

    @inlinable public mutating func number(_ v: UInt64) { digits(v) }
    @inlinable public mutating func number(_ v: Int64) {
        if v < 0 { bytes.append(0x2D) }
        digits(v.magnitude)
    }
    @inlinable public mutating func number(_ v: Int) { number(Int64(v)) }

    public mutating func raw(_ data: some Sequence<UInt8>) {
        if data.withContiguousStorageIfAvailable({ bytes.append(contentsOf: $0) }) == nil { bytes.append(contentsOf: data) }
    }

    /// Appends `s` as a quoted JSON string.
    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { string(bytes: $0) }
    }

    /// Appends UTF-8 `data` as a quoted JSON string, escaping `"`, `\` and control characters.
    public mutating func string(bytes data: some Collection<UInt8>) {
        if let done: Void = data.withContiguousStorageIfAvailable({ string(contiguous: $0) }) { return done }
        let copy = Array(data)
        copy.withUnsafeBufferPointer { string(contiguous: $0) }
    }

    /// Escaped by `JSONCursor`, a slice at a time through a small scratch buffer (the read
    /// answers' hot loops use the cursor directly).
    @inlinable
    mutating func string(contiguous data: UnsafeBufferPointer<UInt8>) {
        // Room for the plain case, growing geometrically (`reserveCapacity` alone reallocates
        // to the exact size, every time once the estimate is passed).
        let needed = bytes.count + data.count + 2
        if bytes.capacity < needed { bytes.reserveCapacity(Swift.max(needed, bytes.capacity &* 2)) }
        bytes.append(0x22)
        let slice = 512
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: JSONCursor.maxStringCount(slice)) { scratch in
            let base = scratch.baseAddress!
            var start = 0
            while start < data.count {
                let end = Swift.min(start + slice, data.count)
                var cursor = JSONCursor(base)
                cursor.escaped(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: data[start..<end])))
                bytes.append(contentsOf: UnsafeBufferPointer(start: base, count: cursor.position - base))
                start = end
            }
        }
        bytes.append(0x22)
    }

    /// False when none of the 8 bytes of `w` is a control character, a quote or a backslash (true may be a
    /// false positive: the caller then looks at the bytes one by one).
    @inlinable @inline(__always)
    static func mayNeedEscape(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let control = (w &- ones &* 0x20) & ~w & high
        let q = w ^ (ones &* 0x22)
        let quote = (q &- ones) & ~q & high
        let b = w ^ (ones &* 0x5C)
        let backslash = (b &- ones) & ~b & high
        return control | quote | backslash != 0
    }

    /// `"key":` (the key is escaped).
    public mutating func key(_ k: String) {
        string(k)
        bytes.append(0x3A)
    }

    public mutating func number(_ v: some BinaryInteger) {
        if let u = UInt64(exactly: v) {
            digits(u)
        } else if let i = Int64(exactly: v), i < 0 {
            bytes.append(0x2D)
            digits(i.magnitude)
        } else {
            raw(String(v))
        }
    }

    @inlinable
    mutating func digits(_ value: UInt64) {
        var v = value
        var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes ≥ 20 digits
        withUnsafeMutableBytes(of: &buffer) { out in
            var i = out.count
            repeat {
                i -= 1
                out[i] = UInt8(truncatingIfNeeded: v % 10) + 0x30
                v /= 10
            } while v > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: out[i...]))
        }
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
