import Foundation
import Hummingbird

/// RequestNumber reads the numbers a request controls (sizes, offsets, counts, durations) with
/// overflow-safe parsing and bounds, so no later arithmetic on them can trap: a value that is
/// not a number, does not fit, or is outside its bounds is a 400 naming the parameter and the
/// accepted range, never a crash and never a silently clamped answer.
///
/// ```swift
/// let size = try RequestNumber.integer(request, "size", in: 0...10_000) ?? 10
/// let step = try RequestNumber.duration(request, "step", in: .seconds(1)...(.seconds(86_400 * 366)))
/// ```
public enum RequestNumber {
    /// RequestNumber.parseInteger returns the value of an optionally signed run of ASCII
    /// digits, or nil when `text` is anything else (empty, spaces, `1e3`, `0x10`) or does not
    /// fit in an `Int`.
    public static func parseInteger(_ text: Substring) -> Int? {
        var utf8 = text.utf8[...]
        var negative = false
        if let first = utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            utf8 = utf8.dropFirst()
        }
        guard !utf8.isEmpty else { return nil }
        var value = 0
        for byte in utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let digit = Int(byte - UInt8(ascii: "0"))
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative ? times10.subtractingReportingOverflow(digit) : times10.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = next
        }
        return value
    }

    /// RequestNumber.parseDuration returns the duration of `<digits><unit>` (unit `ms`, `s`,
    /// `m`, `h`, `d`; none means seconds), or nil when `text` is not one or its nanoseconds do
    /// not fit in an `Int64`.
    public static func parseDuration(_ text: Substring) -> Duration? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let value = Int64(digits) else { return nil }
        let nanosecondsPerUnit: Int64
        switch text.dropFirst(digits.count).lowercased() {
        case "ms": nanosecondsPerUnit = 1_000_000
        case "s", "": nanosecondsPerUnit = 1_000_000_000
        case "m": nanosecondsPerUnit = 60 * 1_000_000_000
        case "h": nanosecondsPerUnit = 3600 * 1_000_000_000
        case "d": nanosecondsPerUnit = 86_400 * 1_000_000_000
        default: return nil
        }
        let (nanoseconds, overflow) = value.multipliedReportingOverflow(by: nanosecondsPerUnit)
        return overflow ? nil : .nanoseconds(nanoseconds)
    }

    /// RequestNumber.integer returns the query parameter `name` of `request` as an integer in
    /// `range`, nil when the parameter is absent; a 400 naming the parameter otherwise.
    public static func integer(_ request: Request, _ name: String, in range: ClosedRange<Int>) throws(OpenSearchError) -> Int? {
        guard let text = request.uri.queryParameters[Substring(name)] else { return nil }
        return try integer(Substring(text), name: name, in: range)
    }

    /// RequestNumber.integer returns `text`, the value of parameter `name`, as an integer in
    /// `range`; a 400 naming the parameter and the range when it is not one.
    public static func integer(_ text: Substring, name: String, in range: ClosedRange<Int>) throws(OpenSearchError) -> Int {
        guard let value = parseInteger(text), range.contains(value) else {
            throw OpenSearchError.badRequest(
                "[\(name)] '\(text.prefix(64))' must be an integer from \(range.lowerBound) to \(range.upperBound)",
                type: "illegal_argument_exception")
        }
        return value
    }

    /// RequestNumber.duration returns the query parameter `name` of `request` as a duration in
    /// `range` (e.g. `30s`, `5m`, `1h`, `7d`), nil when absent; a 400 naming it otherwise.
    public static func duration(_ request: Request, _ name: String, in range: ClosedRange<Duration>) throws(OpenSearchError) -> Duration? {
        guard let text = request.uri.queryParameters[Substring(name)] else { return nil }
        return try duration(Substring(text), name: name, in: range)
    }

    /// RequestNumber.duration returns `text`, the value of parameter `name`, as a duration in
    /// `range`; a 400 naming the parameter and the range when it is not one.
    public static func duration(_ text: Substring, name: String, in range: ClosedRange<Duration>) throws(OpenSearchError) -> Duration {
        guard let value = parseDuration(text), range.contains(value) else {
            throw OpenSearchError.badRequest(
                "[\(name)] '\(text.prefix(64))' must be a duration from \(describe(range.lowerBound)) to \(describe(range.upperBound)) "
                    + "(a number with ms, s, m, h or d)",
                type: "illegal_argument_exception")
        }
        return value
    }

    /// RequestNumber.integer returns `value`, the JSON member `name` of a request body (a JSON
    /// number or a string of digits), as an integer in `range`; a 400 naming the member and the
    /// range when it is anything else (a fraction, `1e30`, a boolean, out of range).
    public static func integer(json value: Any, name: String, in range: ClosedRange<Int>) throws(OpenSearchError) -> Int {
        if let text = value as? String { return try integer(Substring(text), name: name, in: range) }
        if let number = value as? NSNumber, !QueryDSL.isBool(number) {
            let d = number.doubleValue
            // |d| < 2^53: exact in a Double, and converting it to an Int cannot trap.
            if d.isFinite, d.rounded() == d, abs(d) < 9_007_199_254_740_992, range.contains(Int(d)) { return Int(d) }
        }
        throw OpenSearchError.badRequest(
            "[\(name)] '\(String(describing: value).prefix(64))' must be an integer from \(range.lowerBound) to \(range.upperBound)",
            type: "illegal_argument_exception")
    }

    /// RequestNumber.epochMilliseconds is the largest epoch-millisecond magnitude a request may
    /// give (about the year 2255): its nanoseconds, and a bucket or a step around them, fit in
    /// an `Int64`.
    public static let epochMilliseconds: ClosedRange<Int> = -9_000_000_000_000...9_000_000_000_000

    /// RequestNumber.nanoseconds returns `milliseconds` (within ``epochMilliseconds``) as epoch
    /// nanoseconds; a 400 naming `name` otherwise.
    public static func nanoseconds(milliseconds text: Substring, name: String) throws(OpenSearchError) -> Int64 {
        Int64(try integer(text, name: name, in: epochMilliseconds)) * 1_000_000
    }

    /// A duration as the largest whole unit that divides it (`90s`, `2h`, `30d`).
    static func describe(_ duration: Duration) -> String {
        let ns = duration.nanoseconds
        for (unit, size) in [("d", Int64(86_400_000_000_000)), ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000)]
        where ns != 0 && ns % size == 0 {
            return "\(ns / size)\(unit)"
        }
        return "\(ns / 1_000_000)ms"
    }
}
