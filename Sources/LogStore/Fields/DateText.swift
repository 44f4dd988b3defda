/// DateText reads the time forms documents use (docs/QUERY.md), as nanoseconds since the
/// Unix epoch (UTC): the one parser behind ingest's timestamps (`Timestamp` in LogStoreIngest)
/// and the engine's date comparisons on fields.
///
/// Text: RFC 3339 / ISO 8601 `YYYY-MM-DD[(T|t| )hh:mm[:ss[(.|,)fraction]]][zone]` with up to 9
/// fractional digits (more are truncated), zone `Z`, `+hh:mm`, `+hhmm`, `+hh` or none (UTC).
/// Numbers: epoch seconds with an optional fraction; magnitude ≥ 1e11 is milliseconds, ≥ 1e14
/// microseconds, ≥ 1e17 nanoseconds.
public enum DateText {
    /// Parses a date/time text given as UTF-8 bytes.
    public static func parse(_ s: UnsafeBufferPointer<UInt8>) -> Int64? {
        let n = s.count
        guard n >= 10, let year = digits(s, 0, 4), s[4] == 0x2D, let month = digits(s, 5, 2), s[7] == 0x2D,
            let day = digits(s, 8, 2)
        else { return nil }
        guard month >= 1, month <= 12, day >= 1, day <= Day.daysInMonth(Int64(year), Int64(month)) else { return nil }
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
        let days = Day.daysFromCivil(Int64(year), Int64(month), Int64(day))
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second - offsetSeconds)
        // Int64 nanoseconds cover about ±292 years around 1970.
        guard seconds > -9_223_372_036, seconds < 9_223_372_035 else { return nil }
        return seconds * 1_000_000_000 + fraction
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

    /// Parses a date text held in a String.
    public static func parse(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parse($0) }
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
