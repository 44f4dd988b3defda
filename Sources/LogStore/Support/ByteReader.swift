/// Reads what `ByteWriter` wrote, with bounds checks that throw `CorruptDataError`.
public struct ByteReader {
    public let base: UnsafeRawBufferPointer
    public private(set) var offset: Int

    public init(_ base: UnsafeRawBufferPointer, offset: Int = 0) {
        self.base = base
        self.offset = offset
    }

    public var remaining: Int { base.count - offset }
    public var isAtEnd: Bool { offset >= base.count }

    @inline(__always) mutating func need(_ n: Int) throws(CorruptDataError) {
        if n < 0 || offset + n > base.count { throw CorruptDataError("truncated record: need \(n) bytes at \(offset) of \(base.count)") }
    }

    @inline(__always) public mutating func u8() throws(CorruptDataError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return base[offset]
    }

    @inline(__always) public mutating func u32BE() throws(CorruptDataError) -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always) public mutating func u64BE() throws(CorruptDataError) -> UInt64 {
        try need(8)
        defer { offset += 8 }
        return UInt64(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always) public mutating func i64BE() throws(CorruptDataError) -> Int64 {
        Int64(bitPattern: try u64BE() ^ (1 << 63))
    }

    @inline(__always) public mutating func u32LE() throws(CorruptDataError) -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always) public mutating func u64LE() throws(CorruptDataError) -> UInt64 {
        try need(8)
        defer { offset += 8 }
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always) public mutating func varint() throws(CorruptDataError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            if offset >= base.count { throw CorruptDataError("truncated varint at \(offset)") }
            let byte = base[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw CorruptDataError("varint overflow at \(offset)") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { throw CorruptDataError("varint too long at \(offset)") }
        }
    }

    @inline(__always) public mutating func zigzag() throws(CorruptDataError) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    /// A length (varint) checked against the bytes left.
    @inline(__always) public mutating func length() throws(CorruptDataError) -> Int {
        let n = try varint()
        guard n <= UInt64(remaining) else { throw CorruptDataError("length \(n) exceeds the \(remaining) bytes left at \(offset)") }
        return Int(n)
    }

    /// The next `n` bytes, borrowed.
    public mutating func bytes(_ n: Int) throws(CorruptDataError) -> UnsafeRawBufferPointer {
        try need(n)
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: base[offset..<offset + n])
    }

    public mutating func lengthPrefixedString() throws(CorruptDataError) -> String {
        let n = try length()
        return String(decoding: try bytes(n), as: UTF8.self)
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes as a new array.
    var array: [UInt8] { [UInt8](self) }
}
