import Foundation

/// A block's entry in a token's postings.
struct Posting: Sendable, Equatable {
    var block: UInt32
    /// Lines of the block that hold the token.
    var count: UInt32
    /// Highest LSN of those lines minus the block's first LSN; or, with `quantizedFlag` set
    /// (postings from packed runs), a 4-bit bucket of it (`maxLSN(firstLSN:lastLSN:)`).
    var maxOffset: UInt64
}

extension Posting {
    /// Set in `maxOffset` when it holds a 4-bit bucket (packed runs) rather than an offset.
    static let quantizedFlag: UInt64 = 1 << 63

    /// Upper bound of the LSNs of the block's lines holding the token.
    func maxLSN(firstLSN: LSN, lastLSN: LSN) -> LSN {
        if maxOffset & Self.quantizedFlag == 0 { return min(lastLSN, firstLSN &+ maxOffset) }
        let q = maxOffset & 15
        let span = lastLSN &- firstLSN
        // ⌈(q+1)(span+1)/16⌉ − 1 ≥ the offset whose bucket is q.
        let bound = ((q + 1) * (span &+ 1) + 15) / 16 - 1
        return min(lastLSN, firstLSN &+ bound)
    }
}
