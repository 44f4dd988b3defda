import Foundation

/// Parses durations such as `30s`, `15m`, `1h`, `30d` (CLI flags and API parameters).
public enum DurationText {
    /// DurationText.parse returns the duration of `<digits><unit>` (unit `ms`, `s`, `m`, `h`,
    /// `d`; none means seconds; case and surrounding spaces ignored), or nil when `text` is not
    /// one or its nanoseconds do not fit in an `Int64` (so no arithmetic on it traps).
    public static func parse(_ text: String) -> Duration? {
        RequestNumber.parseDuration(Substring(text.trimmingCharacters(in: .whitespaces).lowercased()))
    }
}
