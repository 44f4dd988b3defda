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
    public static func parse(_ s: UnsafeBufferPointer<UInt8>) -> Int64? {
        let n = s.count
        guard n >= 10, let year = digits(s, 0, 4), s[4] == 0x2D, let month = digits(s, 5, 2), s[7] == 0x2D,
            let day = digits(s, 8, 2)
        else { return nil }
        guard month >= 1, month <= 12, day >= 1, day <= daysInMonth(year, month) else { return nil }
        var hour = 0
        var minute = 0
        var second = 0
        var fraction: Int64 = 0
        var offsetSeconds = 0
        var i = 10
        if i < n {
            let sep = s[i]
            guard sep == 0x54 || sep == 0x74 || sep == 0x20 else { return nil }  // T t space
            i += 1
            guard i + 5 <= n, let h = digits(s, i, 2), s[i + 2] == 0x3A, let m = digits(s, i + 3, 2) else { return nil }
            hour = h
            minute = m
            i += 5
            if i < n, s[i] == 0x3A {
                guard i + 3 <= n, let sec = digits(s, i + 1, 2) else { return nil }
                second = sec
                i += 3
                if i < n, s[i] == 0x2E || s[i] == 0x2C {  // . or ,
                    i += 1
                    var count = 0
                    while i < n, s[i] &- 0x30 < 10 {
                        if count < 9 {
                            fraction = fraction * 10 + Int64(s[i] &- 0x30)
                            count += 1
                        }
                        i += 1
                    }
                    guard count > 0 else { return nil }
                    while count < 9 {
                        fraction *= 10
                        count += 1
                    }
                }
            }
            guard hour <= 23, minute <= 59, second <= 60 else { return nil }
            if i < n {
                let z = s[i]
                if z == 0x5A || z == 0x7A {  // Z z
                    i += 1
                } else if z == 0x2B || z == 0x2D {  // + -
                    let sign = z == 0x2D ? -1 : 1
                    i += 1
                    guard i + 2 <= n, let oh = digits(s, i, 2) else { return nil }
                    i += 2
                    var om = 0
                    if i < n {
                        if s[i] == 0x3A { i += 1 }
                        guard i + 2 <= n, let mm = digits(s, i, 2) else { return nil }
                        om = mm
                        i += 2
                    }
                    guard oh <= 23, om <= 59 else { return nil }
                    offsetSeconds = sign * (oh * 3600 + om * 60)
                } else {
                    return nil
                }
            }
            guard i == n else { return nil }
        }
        let days = daysFromCivil(year, month, day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second - offsetSeconds)
        // Int64 nanoseconds cover about ±292 years around 1970.
        guard seconds > -9_223_372_036, seconds < 9_223_372_035 else { return nil }
        return seconds * 1_000_000_000 + fraction
    }

    /// Parses a JSON number (epoch seconds with optional fraction, or ms/µs/ns by magnitude).
    public static func parseNumber(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parseNumber($0) }
    }

    /// Parses a JSON number given as UTF-8 bytes; same rules as the `String` overload.
    ///
    /// One pass over the digits (sign, integer part, fraction, exponent, then the unit chosen by
    /// magnitude) in one function of ~85 lines: the steps share the running digit counts.
    public static func parseNumber(_ s: UnsafeBufferPointer<UInt8>) -> Int64? {
        let n = s.count
        var i = 0
        var negative = false
        if i < n, s[i] == 0x2D {
            negative = true
            i += 1
        } else if i < n, s[i] == 0x2B {
            i += 1
        }
        // Collect up to 19 significant digits as an integer `mantissa` scaled by 10^`exponent`.
        var mantissa: UInt64 = 0
        var exponent = 0
        var significant = 0
        var sawDigit = false
        while i < n, s[i] &- 0x30 < 10 {
            let d = UInt64(s[i] &- 0x30)
            sawDigit = true
            if significant == 0 && d == 0 {
                // leading zero
            } else if significant < 19 {
                mantissa = mantissa * 10 + d
                significant += 1
            } else {
                exponent += 1
            }
            i += 1
        }
        if i < n, s[i] == 0x2E {
            i += 1
            while i < n, s[i] &- 0x30 < 10 {
                let d = UInt64(s[i] &- 0x30)
                sawDigit = true
                if significant == 0 && d == 0 {
                    exponent -= 1
                } else if significant < 19 {
                    mantissa = mantissa * 10 + d
                    significant += 1
                    exponent -= 1
                }
                i += 1
            }
        }
        guard sawDigit else { return nil }
        if i < n, s[i] | 0x20 == 0x65 {  // e E
            i += 1
            var expNegative = false
            if i < n, s[i] == 0x2D || s[i] == 0x2B {
                expNegative = s[i] == 0x2D
                i += 1
            }
            var e = 0
            var expDigits = 0
            while i < n, s[i] &- 0x30 < 10 {
                if e < 10_000 { e = e * 10 + Int(s[i] &- 0x30) }
                expDigits += 1
                i += 1
            }
            guard expDigits > 0 else { return nil }
            exponent += expNegative ? -e : e
        }
        let integerDigits = significant + exponent  // digits before the decimal point
        guard i == n else { return nil }
        if mantissa == 0 { return 0 }
        // Unit heuristic on the magnitude of the integer part.
        let unitExponent: Int
        switch integerDigits {
        case 18...: unitExponent = 0  // ≥ 1e17: nanoseconds
        case 15...17: unitExponent = 3  // ≥ 1e14: microseconds
        case 12...14: unitExponent = 6  // ≥ 1e11: milliseconds
        default: unitExponent = 9  // seconds
        }
        var scale = exponent + unitExponent
        var value = mantissa
        while scale < 0 && value != 0 {
            value /= 10
            scale += 1
        }
        while scale > 0 {
            let (m, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            value = m
            scale -= 1
        }
        guard value <= UInt64(Int64.max) else { return nil }
        return negative ? -Int64(value) : Int64(value)
    }

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
        let (year, month, day) = civilFromDays(days)
        writeDigits(year, 4, at: buf)
        buf[4] = UInt8(ascii: "-")
        writeDigits(month, 2, at: buf + 5)
        buf[7] = UInt8(ascii: "-")
        writeDigits(day, 2, at: buf + 8)
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

    // MARK: - Calendar arithmetic (proleptic Gregorian, Howard Hinnant's algorithms)

    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = Int(days) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    static func daysInMonth(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    @inline(__always)
    static func digits(_ s: UnsafeBufferPointer<UInt8>, _ at: Int, _ count: Int) -> Int? {
        guard at + count <= s.count else { return nil }
        var v = 0
        for k in at..<(at + count) {
            let d = s[k] &- 0x30
            guard d < 10 else { return nil }
            v = v * 10 + Int(d)
        }
        return v
    }
}
