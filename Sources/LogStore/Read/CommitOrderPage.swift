import Foundation

/// Lines in commit (LSN) order and the LSN to continue after.
public struct CommitOrderPage: Sendable {
    /// Ascending LSN.
    public var lines: [LogLine]
    /// Pass as `.after(next, …)` to continue: every line of the streams with an LSN up to `next`
    /// that matches the filter has been given (in this page or before). Never below the `after`
    /// asked for.
    public var next: LSN
    /// True when the page was cut by the limit (more lines up to the committed LSN may follow).
    public var truncated: Bool
}
