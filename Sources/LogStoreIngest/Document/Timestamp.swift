import LogStore

/// Parsing and formatting of log timestamps as Int64 nanoseconds since the Unix epoch (UTC).
///
/// Accepted text forms: RFC 3339 / ISO 8601 dates `YYYY-MM-DD[(T|t| )hh:mm[:ss[(.|,)fraction]]][zone]`
/// with up to 9 fractional digits (more are truncated), zone `Z`, `+hh:mm`, `+hhmm`, `+hh` or
/// none (= UTC). This covers FluentBit's `iso8601` and `java_sql_timestamp` date formats.
/// Accepted numbers: epoch seconds with an optional fraction (`1714564800.123457`); integers
/// (or numbers) of magnitude ≥ 1e11 are read as milliseconds, ≥ 1e14 as microseconds and ≥ 1e17
/// as nanoseconds. Representable range: years 1678–2261.
public enum Timestamp: Sendable {
    /// Parses a date/time text; `nil` when it is not a recognised form or out of range.
    public static func parse(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parse($0) }
    }

    /// Parses a date/time text given as UTF-8 bytes.
    public static func parse(_ bytes: [UInt8]) -> Int64? {
        bytes.withUnsafeBufferPointer { parse($0) }
    }

    /// Parses a date/time text given as UTF-8 bytes.
    public static func parse(_ s: UnsafeBufferPointer<UInt8>) -> Int64? { DateText.parse(s) }

    /// Parses a JSON number (epoch seconds with optional fraction, or ms/µs/ns by magnitude).
    public static func parseNumber(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parseNumber($0) }
    }

    /// Parses a JSON number given as UTF-8 bytes; same rules as the `String` overload.
    public static func parseNumber(_ s: UnsafeBufferPointer<UInt8>) -> Int64? { DateText.parseNumber(s) }

    /// Formats nanoseconds since the epoch as RFC 3339 UTC: milliseconds when the sub-millisecond
    /// digits are zero (`2024-09-24T11:49:58.253Z`), else microseconds or nanoseconds as needed.
    public static func formatRFC3339(_ nanos: Int64) -> String {
        String(unsafeUninitializedCapacity: 32) { buf in writeRFC3339(nanos, to: buf.baseAddress!) }
    }

    /// Writes the RFC 3339 form of `nanos` at `buf` (room for 30 bytes); returns its length.
    public static func writeRFC3339(_ nanos: Int64, to buf: UnsafeMutablePointer<UInt8>) -> Int {
        let (days, secondOfDay, fraction) = split(nanos)
        writeDate(days, to: buf)
        return 11 + writeTimeOfDay(secondOfDay, fraction, to: buf + 11)
    }

    /// `nanos` as whole days since the epoch, the second of that day and the nanoseconds of
    /// that second (floored: times before the epoch count back from the day's start).
    @inline(__always)
    static func split(_ nanos: Int64) -> (days: Int64, secondOfDay: Int, fraction: Int) {
        let (secondsQ, nanosR) = nanos.quotientAndRemainder(dividingBy: 1_000_000_000)
        var seconds = secondsQ
        var fraction = nanosR
        if fraction < 0 {
            fraction += 1_000_000_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        return (days, Int(secondOfDay), Int(fraction))
    }

    /// Writes `YYYY-MM-DDT` (11 bytes) of day `days` at `buf`. Every day of the `Int64`
    /// nanosecond range (years 1677–2262) has a four-digit year.
    static func writeDate(_ days: Int64, to buf: UnsafeMutablePointer<UInt8>) {
        let (year, month, day) = Day.civil(days)
        writeDigits(Int(year), 4, at: buf)
        buf[4] = UInt8(ascii: "-")
        writeDigits(Int(month), 2, at: buf + 5)
        buf[7] = UInt8(ascii: "-")
        writeDigits(Int(day), 2, at: buf + 8)
        buf[10] = UInt8(ascii: "T")
    }

    /// Writes `HH:MM:SS.fffZ` at `buf`: milliseconds when the sub-millisecond digits are zero,
    /// else microseconds or nanoseconds as needed. Returns its length.
    @inline(__always)
    static func writeTimeOfDay(_ secondOfDay: Int, _ fraction: Int, to buf: UnsafeMutablePointer<UInt8>) -> Int {
        writeDigits(secondOfDay / 3600, 2, at: buf)
        buf[2] = UInt8(ascii: ":")
        writeDigits(secondOfDay / 60 % 60, 2, at: buf + 3)
        buf[5] = UInt8(ascii: ":")
        writeDigits(secondOfDay % 60, 2, at: buf + 6)
        buf[8] = UInt8(ascii: ".")
        var end: Int
        if fraction % 1_000_000 == 0 {
            writeDigits(fraction / 1_000_000, 3, at: buf + 9)
            end = 12
        } else if fraction % 1_000 == 0 {
            writeDigits(fraction / 1_000, 6, at: buf + 9)
            end = 15
        } else {
            writeDigits(fraction, 9, at: buf + 9)
            end = 18
        }
        buf[end] = UInt8(ascii: "Z")
        end += 1
        return end
    }

    /// "00" to "99", for writing two digits at once.
    static let digitPairs: StaticString =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

    /// Writes `value` (≥ 0) as exactly `width` decimal digits at `p`, two at a time.
    @inline(__always)
    static func writeDigits(_ value: Int, _ width: Int, at p: UnsafeMutablePointer<UInt8>) {
        let pairs = digitPairs.utf8Start
        var v = value
        var k = width
        while k >= 2 {
            let r = v % 100
            v /= 100
            k -= 2
            p[k] = pairs[2 &* r]
            p[k &+ 1] = pairs[2 &* r &+ 1]
        }
        if k == 1 { p[0] = UInt8(truncatingIfNeeded: 0x30 &+ v % 10) }
    }
}
