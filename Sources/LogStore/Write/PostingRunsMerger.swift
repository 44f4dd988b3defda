import Foundation

/// PostingRunsMerger merges a segment's appendable postings (given token by token in byte
/// order) with the runs an earlier compaction wrote, into new `PostingRuns`: postings of blocks
/// no longer in the block directory are dropped, exact highest-LSN offsets are bucketed.
struct PostingRunsMerger {
    private let earlier: [([UInt8], [Posting])]
    private let spans: [UInt32: UInt64]
    private var builder: PostingRuns.Builder
    private var next = 0

    /// - Parameters:
    ///   - earlier: the earlier runs' postings by token, in byte order.
    ///   - spans: each block in the directory → its LSN span (last − first).
    init(earlier: [([UInt8], [Posting])], spans: [UInt32: UInt64], level: Int32) {
        self.earlier = earlier
        self.spans = spans
        builder = PostingRuns.Builder(level: level)
    }

    /// Adds `token`'s appendable postings (tokens in byte order), after any earlier token
    /// preceding it.
    mutating func add(_ token: [UInt8], _ postings: [Posting]) throws {
        while next < earlier.count && earlier[next].0.lexicographicallyPrecedes(token) {
            try builder.add(earlier[next].0, quantized(earlier[next].1))
            next += 1
        }
        var all = postings
        if next < earlier.count && earlier[next].0 == token {
            all += earlier[next].1
            next += 1
        }
        try builder.add(token, quantized(all))
    }

    /// Adds the earlier tokens left and returns the runs (first token, value).
    mutating func finish() throws -> [([UInt8], [UInt8])] {
        while next < earlier.count {
            try builder.add(earlier[next].0, quantized(earlier[next].1))
            next += 1
        }
        try builder.flush()
        return builder.runs
    }

    private func quantized(_ postings: [Posting]) -> [Posting] {
        var out: [Posting] = []
        out.reserveCapacity(postings.count)
        for p in postings {
            guard let span = spans[p.block] else { continue }  // removed block
            let q = p.maxOffset & Posting.quantizedFlag != 0 ? p.maxOffset & 15 : PostingRuns.bucket(offset: p.maxOffset, span: span)
            out.append(Posting(block: p.block, count: p.count, maxOffset: q))
        }
        return out.sorted { $0.block < $1.block }
    }
}
