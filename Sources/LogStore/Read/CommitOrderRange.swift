import Foundation

/// Which lines of a commit-order read: those after an LSN, or the last few.
public enum CommitOrderRange: Sendable, Equatable {
    /// The lines with `LSN > after`, oldest first, at most `limit`.
    case after(LSN, limit: Int)
    /// The last `count` lines (highest LSNs), given oldest first.
    case last(Int)
}
