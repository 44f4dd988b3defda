/// JSONCursor writes JSON at a raw pointer: the read answers' per-line loops, where appending each piece to
/// `JSONText.bytes` (a capacity and uniqueness check, and often a retain, per piece) cost about
/// as much as the copying. The caller makes room first: a string of n bytes takes at most
/// `maxStringCount(n)`, a number at most 20 bytes.
public struct JSONCursor {
    /// Where the next byte goes.
    public var position: UnsafeMutablePointer<UInt8>

    @inlinable public init(_ start: UnsafeMutablePointer<UInt8>) { position = start }

    /// The most bytes `string` writes for `count` bytes of text: each escaped as `\u00XX`, in quotes.
    @inlinable public static func maxStringCount(_ count: Int) -> Int { count &* 6 &+ 2 }

    @inlinable public mutating func byte(_ b: UInt8) {
        position.pointee = b
        position += 1
    }

    @inlinable public mutating func raw(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        UnsafeMutableRawPointer(position).copyMemory(from: base, byteCount: bytes.count)
        position += bytes.count
    }

    /// Constant text (no escaping).
    @inlinable public mutating func raw(_ text: StaticString) {
        raw(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inlinable public mutating func number(_ value: UInt64) {
        var digits = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        var v = value
        var p = position + digits
        repeat {
            p -= 1
            p.pointee = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
            v /= 10
        } while v > 0
        position += digits
    }

    @inlinable public mutating func number(_ value: Int64) {
        if value < 0 { byte(0x2D) }
        number(value.magnitude)
    }

    /// UTF-8 `data` as a quoted JSON string: `"`, `\\` and control characters escaped.
    @inlinable public mutating func string(_ data: UnsafeRawBufferPointer) {
        byte(0x22)
        escaped(data)
        byte(0x22)
    }

    /// `string` without the quotes. Runs of bytes that need no escape are copied at once.
    @inlinable public mutating func escaped(_ data: UnsafeRawBufferPointer) {
        guard let base = data.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        let n = data.count
        var start = 0
        var i = 0
        while i < n {
            // Eight bytes at a time while none of them needs an escape.
            while i + 8 <= n, !JSONText.mayNeedEscape(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) {
                i += 8
            }
            if i >= n { break }
            let b = base[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C {
                i += 1
                continue
            }
            raw(UnsafeRawBufferPointer(start: base + start, count: i - start))
            byte(0x5C)
            switch b {
            case 0x22: byte(0x22)
            case 0x5C: byte(0x5C)
            case 0x0A: byte(0x6E)
            case 0x0D: byte(0x72)
            case 0x09: byte(0x74)
            default:
                let hex: StaticString = "0123456789abcdef"
                byte(0x75)
                byte(0x30)
                byte(0x30)
                byte(hex.utf8Start[Int(b >> 4)])
                byte(hex.utf8Start[Int(b & 0xF)])
            }
            i += 1
            start = i
        }
        raw(UnsafeRawBufferPointer(start: base + start, count: n - start))
    }
}
