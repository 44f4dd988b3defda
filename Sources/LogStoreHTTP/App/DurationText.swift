import Foundation

/// Parses durations such as `30s`, `15m`, `1h`, `30d` (CLI flags and API parameters).
public enum DurationText {
    /// The duration, or nil when `text` is not one.
    public static func parse(_ text: String) -> Duration? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = t.prefix { $0.isNumber }
        guard let value = Int64(digits) else { return nil }
        switch t.dropFirst(digits.count) {
        case "ms": return .milliseconds(value)
        case "s", "": return .seconds(value)
        case "m": return .seconds(value * 60)
        case "h": return .seconds(value * 3600)
        case "d": return .seconds(value * 86400)
        default: return nil
        }
    }
}
