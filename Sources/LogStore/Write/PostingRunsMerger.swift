import Foundation

/// PostingRunsMerger merges a segment's appendable postings (given token by token in byte
/// order) with the runs an earlier compaction wrote, into new `PostingRuns`: postings of blocks
/// no longer in the block directory are dropped.
struct PostingRunsMerger {
    private let earlier: [([UInt8], [Posting])]
    private let blocks: Set<UInt32>
    private var builder: PostingRuns.Builder
    private var next = 0

    /// - Parameters:
    ///   - earlier: the earlier runs' postings by token, in byte order.
    ///   - blocks: the numbers of the blocks in the directory.
    init(earlier: [([UInt8], [Posting])], blocks: Set<UInt32>, level: Int32) {
        self.earlier = earlier
        self.blocks = blocks
        builder = PostingRuns.Builder(level: level)
    }

    /// Adds `token`'s appendable postings (tokens in byte order), after any earlier token
    /// preceding it.
    mutating func add(_ token: [UInt8], _ postings: [Posting]) throws {
        while next < earlier.count && earlier[next].0.lexicographicallyPrecedes(token) {
            try builder.add(earlier[next].0, kept(earlier[next].1))
            next += 1
        }
        var all = postings
        if next < earlier.count && earlier[next].0 == token {
            all += earlier[next].1
            next += 1
        }
        try builder.add(token, kept(all))
    }

    /// Adds the earlier tokens left and returns the runs (first token, value).
    mutating func finish() throws -> [([UInt8], [UInt8])] {
        while next < earlier.count {
            try builder.add(earlier[next].0, kept(earlier[next].1))
            next += 1
        }
        try builder.flush()
        return builder.runs
    }

    /// The postings of blocks still in the directory, in block order.
    private func kept(_ postings: [Posting]) -> [Posting] {
        postings.filter { blocks.contains($0.block) }.sorted { $0.block < $1.block }
    }
}
