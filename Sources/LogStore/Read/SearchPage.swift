import Foundation

/// Matching lines and the cursor for the next page.
public struct SearchPage: Sendable {
    public var lines: [LogLine]
    /// Pass as `cursor` for the next page; nil when there is no more.
    public var next: LSN?
    /// Blocks decompressed to answer (for diagnostics and benchmarks).
    public var blocksRead: Int
}
