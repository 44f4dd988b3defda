import Foundation

/// What a reader took from a `PendingIndex`.
struct PendingView {
    var covered: Set<UInt32>
    var tokens: [[UInt8]: [Posting]] = [:]
    var prefixes: [[UInt8]: [Posting]] = [:]
}
