import Foundation

/// A page of lines and the cursor to pass as `after` for the next page.
public struct LogPage: Sendable {
    public var lines: [LogLine]
    /// Position of the last line returned; nil when the page is empty.
    public var next: LogPosition?
    /// True when the page was cut by the limit (more lines may follow).
    public var truncated: Bool
}
