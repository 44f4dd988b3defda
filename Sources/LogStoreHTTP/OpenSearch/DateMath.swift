import LogStore
import LogStoreIngest

/// DateMath evaluates OpenSearch date math in UTC: an anchor (`now`, or a date followed by
/// `||`), then any number of `+N<unit>`, `-N<unit>` and `/<unit>` (rounding), units `y`, `M`,
/// `w`, `d`, `h`/`H`, `m`, `s`. Rounding goes down to the start of the unit, or up to its last
/// nanosecond when `roundUp` (OpenSearch does so for `gt` and `lte`).
enum DateMath {
    static func evaluate(_ text: String, now: Int64, roundUp: Bool) -> Int64? {
        var time: Int64
        var rest: Substring
        if text.hasPrefix("now") {
            time = now
            rest = text.dropFirst(3)
        } else if let bars = text.range(of: "||") {
            guard let anchor = Timestamp.parse(String(text[..<bars.lowerBound])) else { return nil }
            time = anchor
            rest = text[bars.upperBound...]
        } else {
            return nil
        }
        while let op = rest.first {
            rest = rest.dropFirst()
            switch op {
            case "+", "-":
                var digits = ""
                while let c = rest.first, c.isASCII, c.isNumber {
                    digits.append(c)
                    rest = rest.dropFirst()
                }
                guard let unit = rest.first else { return nil }
                rest = rest.dropFirst()
                let n = digits.isEmpty ? 1 : Int(digits)
                guard let n, n <= 1_000_000 else { return nil }
                guard let moved = add(op == "+" ? n : -n, unit, to: time) else { return nil }
                time = moved
            case "/":
                guard let unit = rest.first else { return nil }
                rest = rest.dropFirst()
                guard let start = floor(time, unit) else { return nil }
                if roundUp {
                    guard let next = add(1, unit, to: start) else { return nil }
                    time = next - 1
                } else {
                    time = start
                }
            default:
                return nil
            }
        }
        return time
    }

    static let second: Int64 = 1_000_000_000

    /// `time` moved by `n` units.
    static func add(_ n: Int, _ unit: Character, to time: Int64) -> Int64? {
        let step: Int64
        switch unit {
        case "s": step = second
        case "m": step = 60 * second
        case "h", "H": step = 3600 * second
        case "d": step = 86_400 * second
        case "w": step = 7 * 86_400 * second
        case "M", "y":
            let (days, nanosOfDay) = split(time)
            var (y, m, d) = Day.civil(days)
            let months = unit == "y" ? n * 12 : n
            let total = y * 12 + (m - 1) + Int64(months)
            y = total >= 0 ? total / 12 : (total - 11) / 12
            m = total - y * 12 + 1
            // Nanoseconds since 1970 reach the years 1677–2262 only.
            guard y > 1677, y < 2262 else { return nil }
            d = min(d, Day.daysInMonth(y, m))
            return Day.daysFromCivil(y, m, d) * 86_400 * second + nanosOfDay
        default: return nil
        }
        let (delta, o1) = Int64(n).multipliedReportingOverflow(by: step)
        let (result, o2) = time.addingReportingOverflow(delta)
        return o1 || o2 ? nil : result
    }

    /// The start of the unit holding `time`.
    static func floor(_ time: Int64, _ unit: Character) -> Int64? {
        let (days, nanosOfDay) = split(time)
        let dayStart = days * 86_400 * second
        switch unit {
        case "s": return dayStart + nanosOfDay / second * second
        case "m": return dayStart + nanosOfDay / (60 * second) * 60 * second
        case "h", "H": return dayStart + nanosOfDay / (3600 * second) * 3600 * second
        case "d": return dayStart
        case "w":
            // ISO weeks start on Monday; 1970-01-01 was a Thursday.
            let weekday = ((days % 7) + 7 + 3) % 7
            return (days - weekday) * 86_400 * second
        case "M":
            let (y, m, _) = Day.civil(days)
            return Day.daysFromCivil(y, m, 1) * 86_400 * second
        case "y":
            let (y, _, _) = Day.civil(days)
            return Day.daysFromCivil(y, 1, 1) * 86_400 * second
        default: return nil
        }
    }

    static func split(_ time: Int64) -> (days: Int64, nanosOfDay: Int64) {
        let day = 86_400 * second
        var days = time / day
        var rest = time % day
        if rest < 0 {
            rest += day
            days -= 1
        }
        return (days, rest)
    }
}
