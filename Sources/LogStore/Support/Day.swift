/// UTC day arithmetic for day segments.
public enum Day {
    static let nanosPerDay: Int64 = 86_400 * 1_000_000_000

    /// The UTC day (days since 1970-01-01) of a timestamp in nanoseconds.
    public static func of(_ nanos: Int64) -> Int32 {
        let d = nanos >= 0 ? nanos / nanosPerDay : (nanos + 1) / nanosPerDay - 1
        return Int32(clamping: d)
    }

    /// First nanosecond of `day`.
    public static func start(_ day: Int32) -> Int64 { Int64(day) * nanosPerDay }

    /// `YYYY-MM-DD` of a day number (proleptic Gregorian, Howard Hinnant's algorithm).
    public static func name(_ day: Int32) -> String {
        let (y, m, d) = civil(Int64(day))
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    /// Parses `YYYY-MM-DD` back to a day number.
    public static func parse(_ text: some StringProtocol) -> Int32? {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]),
            (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        return Int32(clamping: daysFromCivil(y, m, d))
    }

    /// Year, month and day of `days` since 1970-01-01.
    @inlinable
    public static func civil(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// Days since the epoch of a civil date (`m` in 1...12).
    @inlinable
    public static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Number of days in `month` (1...12) of `year`.
    @inlinable
    public static func daysInMonth(_ year: Int64, _ month: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
