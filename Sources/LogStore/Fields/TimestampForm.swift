/// TimestampForm is how a document wrote its timestamp, in one byte, so the stored source keeps
/// the sender's text without storing it per line: the line's timestamp (nanoseconds) rendered
/// in that form gives back the very bytes that were sent. Ingest picks a form only after
/// checking that rendering reproduces the text; otherwise the member is stored as sent.
///
/// Forms (printable ASCII, so a fields value stays valid UTF-8):
/// - `0x30 + f + 10·s + 20·z`: a JSON string `YYYY-MM-DD<sep>hh:mm:ss[.<f digits>]<zone>`,
///   separator `T` (s = 0) or space (s = 1), zone `Z` (z = 0), `+00:00` (z = 1) or none (z = 2);
/// - `0x70 + f`: a JSON number of epoch seconds with f fraction digits;
/// - `0x7A`, `0x7B`, `0x7C`: a JSON integer of epoch milliseconds, microseconds, nanoseconds.
public enum TimestampForm {
    /// The most bytes `write` produces.
    public static let maxCount = 40

    /// The form of the JSON value `value` (raw bytes, quotes included for a string) when
    /// rendering `nanos` in it gives back exactly `value`; nil otherwise.
    public static func choose(_ value: UnsafeRawBufferPointer, nanos: Int64) -> UInt8? {
        guard value.count >= 1, nanos >= 0 else { return nil }
        var form: UInt8?
        if value[0] == UInt8(ascii: "\"") {
            // "YYYY-MM-DDThh:mm:ss" is 19 bytes, plus the quotes.
            guard value.count >= 21 else { return nil }
            let s: UInt8
            switch value[11] {
            case UInt8(ascii: "T"): s = 0
            case UInt8(ascii: " "): s = 1
            default: return nil
            }
            var i = 20
            var f = 0
            if value[i] == UInt8(ascii: ".") {
                i += 1
                while i < value.count - 1, value[i] &- 0x30 < 10 {
                    f += 1
                    i += 1
                }
                guard f >= 1, f <= 9 else { return nil }
            }
            let zone = value.count - 1 - i
            let z: UInt8
            switch zone {
            case 0: z = 2
            case 1: z = 0
            case 6: z = 1
            default: return nil
            }
            form = 0x30 + UInt8(f) + 10 * s + 20 * z
        } else {
            var dot = -1
            for i in 0..<value.count {
                let b = value[i]
                if b == UInt8(ascii: ".") {
                    dot = i
                } else if b &- 0x30 >= 10 {
                    return nil
                }
            }
            if dot >= 0 {
                let f = value.count - dot - 1
                guard f >= 1, f <= 9 else { return nil }
                form = 0x70 + UInt8(f)
            } else {
                switch value.count {
                case ...11: form = 0x70
                case 12...14: form = 0x7A
                case 15...17: form = 0x7B
                default: form = 0x7C
                }
            }
        }
        guard let form else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxCount) { buffer in
            let n = write(nanos, form: form, to: buffer.baseAddress!)
            guard n == value.count else { return nil }
            for i in 0..<n where buffer[i] != value[i] { return nil }
            return form
        }
    }

    /// Whether `form` is a form `write` knows.
    public static func isValid(_ form: UInt8) -> Bool {
        (0x30...0x6B).contains(form) || (0x70...0x7C).contains(form)
    }

    /// Writes `nanos` in `form` at `buf` (room for `maxCount` bytes), quotes included for the
    /// string forms; returns the length.
    public static func write(_ nanos: Int64, form: UInt8, to buf: UnsafeMutablePointer<UInt8>) -> Int {
        let (secondsQ, remainder) = nanos.quotientAndRemainder(dividingBy: 1_000_000_000)
        var seconds = secondsQ
        var fraction = remainder
        if fraction < 0 {
            fraction += 1_000_000_000
            seconds -= 1
        }
        if form >= 0x70 {
            var p = 0
            switch form {
            case 0x7A: return writeInteger(nanos / 1_000_000, to: buf)
            case 0x7B: return writeInteger(nanos / 1_000, to: buf)
            case 0x7C: return writeInteger(nanos, to: buf)
            default:
                p = writeInteger(seconds, to: buf)
                let f = Int(form - 0x70)
                if f > 0 {
                    buf[p] = UInt8(ascii: ".")
                    p += 1
                    writeFraction(Int(fraction), digits: f, to: buf + p)
                    p += f
                }
                return p
            }
        }
        let code = Int(form) - 0x30
        let f = code % 10
        let s = code / 10 % 2
        let z = code / 20
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = Day.civil(days)
        buf[0] = UInt8(ascii: "\"")
        digits(Int(year), 4, buf + 1)
        buf[5] = UInt8(ascii: "-")
        digits(Int(month), 2, buf + 6)
        buf[8] = UInt8(ascii: "-")
        digits(Int(day), 2, buf + 9)
        buf[11] = s == 0 ? UInt8(ascii: "T") : UInt8(ascii: " ")
        digits(Int(secondOfDay / 3600), 2, buf + 12)
        buf[14] = UInt8(ascii: ":")
        digits(Int(secondOfDay / 60 % 60), 2, buf + 15)
        buf[17] = UInt8(ascii: ":")
        digits(Int(secondOfDay % 60), 2, buf + 18)
        var p = 20
        if f > 0 {
            buf[p] = UInt8(ascii: ".")
            p += 1
            writeFraction(Int(fraction), digits: f, to: buf + p)
            p += f
        }
        switch z {
        case 0:
            buf[p] = UInt8(ascii: "Z")
            p += 1
        case 1:
            for b in "+00:00".utf8 {
                buf[p] = b
                p += 1
            }
        default: break
        }
        buf[p] = UInt8(ascii: "\"")
        return p + 1
    }

    /// The first `count` of the nine digits of `fraction` (nanoseconds).
    private static func writeFraction(_ fraction: Int, digits count: Int, to buf: UnsafeMutablePointer<UInt8>) {
        var value = fraction
        for _ in count..<9 { value /= 10 }
        digits(value, count, buf)
    }

    private static func writeInteger(_ value: Int64, to buf: UnsafeMutablePointer<UInt8>) -> Int {
        var p = 0
        if value < 0 {
            buf[0] = UInt8(ascii: "-")
            p = 1
        }
        var magnitude = value.magnitude
        var n = 1
        var rest = magnitude
        while rest >= 10 {
            rest /= 10
            n += 1
        }
        var k = p + n
        repeat {
            k -= 1
            buf[k] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 0x30
            magnitude /= 10
        } while magnitude > 0
        return p + n
    }

    private static func digits(_ value: Int, _ width: Int, _ p: UnsafeMutablePointer<UInt8>) {
        var v = value
        var k = width
        while k > 0 {
            k -= 1
            p[k] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
            v /= 10
        }
    }
}
