import Foundation

/// Told after every commit, on the writer thread: keep it short.
public struct CommitEvent: Sendable {
    /// Highest LSN now durable.
    public var lastLSN: LSN
    /// Streams that received lines in this commit.
    public var streams: Set<StreamID>
}
