import Foundation
import LogStore
import LogStoreIngest

/// A date histogram's bucket width: a fixed number of milliseconds (`fixed_interval`) or one
/// calendar unit (`calendar_interval`), which follows the time zone's days, months and years.
enum DateStep: Sendable, Equatable {
    case fixed(Int64)
    case calendar(CalendarUnit)

    enum CalendarUnit: String, Sendable {
        case minute, hour, day, week, month, quarter, year
    }

    /// `fixed_interval`: `<n><unit>` with unit ms, s, m, h or d.
    static func parseFixed(_ text: String, name: String) throws -> DateStep {
        guard let ms = fixedMillis(text) else {
            throw OpenSearchError.badRequest(
                "failed to parse setting [\(name)] with value [\(text)] as a time value: use <number><ms|s|m|h|d>", type: "parse_exception")
        }
        return .fixed(ms)
    }

    /// `calendar_interval`: `1m`, `minute`, `1h`, `hour`, `1d`, `day`, `1w`, `week`, `1M`,
    /// `month`, `1q`, `quarter`, `1y`, `year`.
    static func parseCalendar(_ text: String, name: String) throws -> DateStep {
        guard let unit = calendarUnit(text) else {
            throw OpenSearchError.badRequest(
                "The supplied interval [\(text)] could not be parsed as a calendar interval ([\(name)]): "
                    + "use 1m, 1h, 1d, 1w, 1M, 1q, 1y or minute, hour, day, week, month, quarter, year")
        }
        return .calendar(unit)
    }

    /// The legacy `interval`: a calendar unit when it names one, else a fixed width.
    static func legacy(_ text: String) throws -> DateStep {
        if let unit = calendarUnit(text) { return .calendar(unit) }
        return try parseFixed(text, name: "interval")
    }

    static func calendarUnit(_ text: String) -> CalendarUnit? {
        switch text {
        case "1m", "minute": return .minute
        case "1h", "hour": return .hour
        case "1d", "day": return .day
        case "1w", "week": return .week
        case "1M", "month": return .month
        case "1q", "quarter": return .quarter
        case "1y", "year": return .year
        default: return nil
        }
    }

    static func fixedMillis(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            let digits = text.dropLast(suffix.count)
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let n = Int64(digits), n > 0, n <= Int64.max / factor / 4 else { continue }
            return n * factor
        }
        return nil
    }
}

/// A `time_zone`: `UTC`, `Z`, an offset (`+01:00`, `-0530`) or an IANA name (`Europe/Berlin`).
struct AggregationTimeZone: Sendable {
    let name: String
    let zone: TimeZone
    /// The offset when it never changes.
    let fixedOffset: Int64?

    static let utc = AggregationTimeZone(name: "UTC", zone: TimeZone(identifier: "UTC")!, fixedOffset: 0)

    static func parse(_ text: String?) throws -> AggregationTimeZone {
        guard let text, !text.isEmpty else { return .utc }
        if text == "UTC" || text == "Z" || text == "utc" || text == "Etc/UTC" || text == "GMT" { return .utc }
        if let first = text.first, first == "+" || first == "-" {
            let digits = text.dropFirst().filter { $0 != ":" }
            if digits.count == 2 || digits.count == 4, let n = Int(digits) {
                let hours = digits.count == 2 ? n : n / 100
                let minutes = digits.count == 2 ? 0 : n % 100
                if hours <= 18, minutes < 60 {
                    let seconds = (first == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)
                    if let zone = TimeZone(secondsFromGMT: seconds) {
                        return AggregationTimeZone(name: text, zone: zone, fixedOffset: Int64(seconds) * 1000)
                    }
                }
            }
        } else if let zone = TimeZone(identifier: text) {
            return AggregationTimeZone(name: text, zone: zone, fixedOffset: nil)
        }
        throw OpenSearchError.badRequest("Unknown time-zone ID: \(text)")
    }

    /// The zone's offset from UTC at `ms` (epoch milliseconds), in milliseconds.
    @inline(__always)
    func offset(at ms: Int64) -> Int64 {
        if let fixedOffset { return fixedOffset }
        return Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(ms) / 1000))) * 1000
    }
}

/// Rounds epoch milliseconds down to their date-histogram bucket in a time zone.
struct DateRounding: Sendable {
    let step: DateStep
    let zone: AggregationTimeZone
    let offset: Int64

    @inline(__always)
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// The key (start, epoch ms) of the bucket holding `ms`.
    func round(_ ms: Int64) -> Int64 {
        let shifted = ms - offset
        let tz = zone.offset(at: shifted)
        let local = shifted + tz
        let roundedLocal = Self.roundLocal(local, step)
        // The bucket's start in UTC, with the offset in force then (DST changes between).
        let back = roundedLocal - zone.offset(at: roundedLocal - tz)
        return back + offset
    }

    /// The key of the bucket after the one starting at `key`.
    func next(_ key: Int64) -> Int64 {
        switch step {
        case .fixed(let width):
            if zone.fixedOffset != nil { return key + width }
            return round(key + width)
        case .calendar(let unit):
            let shifted = key - offset
            let tz = zone.offset(at: shifted)
            let local = shifted + tz
            let nextLocal: Int64
            switch unit {
            case .minute: nextLocal = local + 60_000
            case .hour: nextLocal = local + 3_600_000
            case .day: nextLocal = local + 86_400_000
            case .week: nextLocal = local + 7 * 86_400_000
            case .month, .quarter, .year:
                let days = Self.floorDiv(local, 86_400_000)
                var (y, m, _) = Self.civil(days)
                let months: Int64 = unit == .month ? 1 : unit == .quarter ? 3 : 12
                m += months
                while m > 12 {
                    m -= 12
                    y += 1
                }
                nextLocal = Self.days(y, m, 1) * 86_400_000
            }
            let back = nextLocal - zone.offset(at: nextLocal - tz)
            return back + offset
        }
    }

    static func roundLocal(_ local: Int64, _ step: DateStep) -> Int64 {
        switch step {
        case .fixed(let width): return floorDiv(local, width) * width
        case .calendar(let unit):
            switch unit {
            case .minute: return floorDiv(local, 60_000) * 60_000
            case .hour: return floorDiv(local, 3_600_000) * 3_600_000
            case .day: return floorDiv(local, 86_400_000) * 86_400_000
            case .week:
                // 1970-01-01 was a Thursday; weeks start on Monday.
                let days = floorDiv(local, 86_400_000)
                return (floorDiv(days + 3, 7) * 7 - 3) * 86_400_000
            case .month, .quarter, .year:
                let (y, m, _) = civil(floorDiv(local, 86_400_000))
                let month = unit == .month ? m : unit == .quarter ? (m - 1) / 3 * 3 + 1 : 1
                return days(y, month, 1) * 86_400_000
            }
        }
    }

    /// The proleptic Gregorian date of `days` since 1970-01-01.
    static func civil(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) { Day.civil(days) }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    static func days(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 { Day.daysFromCivil(year, month, day) }
}

/// How dates are written in `key_as_string`, `value_as_string`, `from_as_string`.
enum DateFormat: Sendable, Equatable {
    /// `strict_date_optional_time`: `2024-05-01T12:00:00.000Z` (or `+02:00` in a zone).
    case iso
    case epochMillis
    case epochSecond
    /// A Java-style pattern (`yyyy-MM-dd HH:mm`), written through ICU.
    case pattern(String)

    static func parse(_ text: String?) -> DateFormat {
        guard let text, !text.isEmpty else { return .iso }
        let first = text.components(separatedBy: "||")[0]
        switch first {
        case "epoch_millis": return .epochMillis
        case "epoch_second": return .epochSecond
        case "strict_date_optional_time", "date_optional_time", "strict_date_optional_time_nanos", "strict_date_time", "date_time":
            return .iso
        case "date", "strict_date", "yyyy-MM-dd": return .pattern("yyyy-MM-dd")
        case "date_hour_minute_second", "strict_date_hour_minute_second": return .pattern("yyyy-MM-dd'T'HH:mm:ss")
        case "basic_date": return .pattern("yyyyMMdd")
        default: return .pattern(first.replacingOccurrences(of: "uuuu", with: "yyyy"))
        }
    }

    /// `ms` written in this format in `zone`.
    func format(_ ms: Int64, zone: AggregationTimeZone, formatters: inout [String: DateFormatter]) -> String {
        switch self {
        case .epochMillis: return String(ms)
        case .epochSecond: return String(DateRounding.floorDiv(ms, 1000))
        case .iso:
            let off = zone.offset(at: ms)
            let local = ms + off
            let days = DateRounding.floorDiv(local, 86_400_000)
            let msOfDay = local - days * 86_400_000
            let (y, m, d) = DateRounding.civil(days)
            func pad(_ v: Int64, _ n: Int) -> String {
                let s = String(v)
                return s.count >= n ? s : String(repeating: "0", count: n - s.count) + s
            }
            var out = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T" + pad(msOfDay / 3_600_000, 2) + ":"
            out += pad(msOfDay / 60000 % 60, 2) + ":" + pad(msOfDay / 1000 % 60, 2) + "." + pad(msOfDay % 1000, 3)
            if off == 0 { return out + "Z" }
            let a = abs(off) / 60000
            return out + (off < 0 ? "-" : "+") + pad(a / 60, 2) + ":" + pad(a % 60, 2)
        case .pattern(let pattern):
            let key = pattern + "\u{0}" + zone.name
            let formatter: DateFormatter
            if let known = formatters[key] {
                formatter = known
            } else {
                formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.timeZone = zone.zone
                formatter.dateFormat = pattern
                formatters[key] = formatter
            }
            return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
        }
    }
}

/// Dates in requests: epoch milliseconds (numbers or digit strings), RFC 3339 / ISO 8601 text,
/// or date math on `now` (`now-1h`, `now/d`, `now-7d/d`).
enum RequestDate {
    static func millis(_ value: Any, name: String, now: Int64 = Storage.now() / 1_000_000) throws -> Int64 {
        if let n = value as? NSNumber, !AggregationParser.isBoolean(value) {
            let d = n.doubleValue
            guard d.isFinite, abs(d) < 9.2e15 else { throw OpenSearchError.badRequest("[\(name)] is out of range: \(n)") }
            return Int64(d.rounded(.down))
        }
        guard let text = value as? String else { throw OpenSearchError.badRequest("[\(name)] must be a date or epoch milliseconds") }
        if let ms = Int64(text) { return ms }
        if text.hasPrefix("now") { return try dateMath(text, name: name, now: now) }
        if let ns = Timestamp.parse(text) { return DateRounding.floorDiv(ns, 1_000_000) }
        throw OpenSearchError.badRequest("failed to parse date field [\(text)] of [\(name)]", type: "parse_exception")
    }

    /// `now` followed by `+N<unit>`, `-N<unit>` and `/<unit>` steps (units y M w d h H m s), in UTC.
    static func dateMath(_ text: String, name: String, now: Int64) throws -> Int64 {
        var ms = now
        var rest = Substring(text.dropFirst(3))
        func unitMillis(_ c: Character) -> DateStep? {
            switch c {
            case "s": return .fixed(1000)
            case "m": return .fixed(60_000)
            case "h", "H": return .fixed(3_600_000)
            case "d": return .calendar(.day)
            case "w": return .calendar(.week)
            case "M": return .calendar(.month)
            case "y": return .calendar(.year)
            default: return nil
            }
        }
        while let op = rest.first {
            rest = rest.dropFirst()
            if op == "/" {
                guard let c = rest.first, let step = unitMillis(c) else { break }
                rest = rest.dropFirst()
                if case .fixed(let w) = step {
                    ms = DateRounding.floorDiv(ms, w) * w
                } else {
                    ms = DateRounding.roundLocal(ms, step)
                }
                continue
            }
            guard op == "+" || op == "-" else { break }
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(digits.count)
            guard let c = rest.first, let step = unitMillis(c) else {
                throw OpenSearchError.badRequest("failed to parse date math [\(text)] of [\(name)]", type: "parse_exception")
            }
            rest = rest.dropFirst()
            let n = Int64(digits.isEmpty ? "1" : String(digits)) ?? 0
            let sign: Int64 = op == "+" ? 1 : -1
            switch step {
            case .fixed(let w): ms += sign * n * w
            case .calendar(.day): ms += sign * n * 86_400_000
            case .calendar(.week): ms += sign * n * 7 * 86_400_000
            case .calendar(let unit):
                let days = DateRounding.floorDiv(ms, 86_400_000)
                let within = ms - days * 86_400_000
                var (y, m, d) = DateRounding.civil(days)
                var months = (unit == .year ? 12 : 1) * n * sign + (m - 1)
                y += DateRounding.floorDiv(months, 12)
                months -= DateRounding.floorDiv(months, 12) * 12
                m = months + 1
                let monthDays = DateRounding.days(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) - DateRounding.days(y, m, 1)
                d = min(d, monthDays)
                ms = DateRounding.days(y, m, d) * 86_400_000 + within
            }
        }
        if !rest.isEmpty {
            throw OpenSearchError.badRequest("failed to parse date math [\(text)] of [\(name)]", type: "parse_exception")
        }
        return ms
    }
}
