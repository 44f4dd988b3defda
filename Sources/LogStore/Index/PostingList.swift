import Foundation

/// One token's (or one test's) postings in a segment: at most one per block, in ascending block
/// order. Built from the stored postings, packed runs and pending index (each in block order),
/// then united and intersected by merging; a block is looked up by binary search. A sorted array
/// rather than a dictionary: a common token (the field marker, a namespace) has a posting in
/// every block of the day, and hashing tens of thousands of postings per query cost more than
/// the rest of a count.
struct PostingList: Sendable, Sequence {
    private(set) var items: [Posting]

    init() { items = [] }

    /// `items` must be in ascending block order, one per block.
    private init(sorted items: [Posting]) { self.items = items }

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }

    func makeIterator() -> IndexingIterator<[Posting]> { items.makeIterator() }

    /// The posting of `block`, if any.
    subscript(block: UInt32) -> Posting? {
        var low = 0
        var high = items.count
        while low < high {
            let mid = (low + high) / 2
            let b = items[mid].block
            if b == block { return items[mid] }
            if b < block { low = mid + 1 } else { high = mid }
        }
        return nil
    }

    /// The postings for which `keep` is true.
    func filter(_ keep: (Posting) -> Bool) -> PostingList { PostingList(sorted: items.filter(keep)) }

    /// Counts added, the larger bound kept: the postings of a block for several tokens, any of
    /// which a matching line holds.
    static func summed(_ a: Posting, _ b: Posting) -> Posting {
        Posting(block: a.block, count: a.count &+ b.count, maxOffset: Swift.max(a.maxOffset, b.maxOffset))
    }

    /// Every block of any list, with `summed` postings.
    static func union(_ lists: [PostingList]) -> PostingList {
        let parts = lists.filter { !$0.isEmpty }
        guard var merged = parts.first?.items else { return PostingList() }
        for part in parts.dropFirst() { merged = merge(merged, part.items) }
        return PostingList(sorted: merged)
    }

    private static func merge(_ a: [Posting], _ b: [Posting]) -> [Posting] {
        var out: [Posting] = []
        out.reserveCapacity(Swift.max(a.count, b.count))
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            let x = a[i]
            let y = b[j]
            if x.block < y.block {
                out.append(x)
                i += 1
            } else if y.block < x.block {
                out.append(y)
                j += 1
            } else {
                out.append(summed(x, y))
                i += 1
                j += 1
            }
        }
        out.append(contentsOf: a[i...])
        out.append(contentsOf: b[j...])
        return out
    }

    /// The blocks in every list (none given: nil, every block); counts and bounds are the
    /// smallest of each.
    static func intersection(_ lists: [PostingList]) -> PostingList? {
        guard let smallest = lists.indices.min(by: { lists[$0].count < lists[$1].count }) else { return nil }
        var out = lists[smallest].items
        for (n, other) in lists.enumerated() where n != smallest {
            var kept: [Posting] = []
            kept.reserveCapacity(out.count)
            var j = 0
            let o = other.items
            for p in out {
                while j < o.count && o[j].block < p.block { j += 1 }
                guard j < o.count, o[j].block == p.block else { continue }
                let q = o[j]
                kept.append(Posting(block: p.block, count: Swift.min(p.count, q.count), maxOffset: Swift.min(p.maxOffset, q.maxOffset)))
            }
            out = kept
            if out.isEmpty { break }
        }
        return PostingList(sorted: out)
    }

    /// Collects postings that come mostly in block order (each source in order; sources one
    /// after another).
    struct Builder {
        private var items: [Posting] = []
        private var ordered = true

        init() {}

        mutating func append(_ p: Posting) {
            if let last = items.last, last.block >= p.block { ordered = false }
            items.append(p)
        }

        /// The list; of two postings of one block the later one is kept (`sum`: false) or
        /// the two are `summed`.
        consuming func build(sum: Bool) -> PostingList {
            if ordered { return PostingList(sorted: items) }
            // Stable: the later of equal blocks stays later.
            let order = items.indices.sorted { items[$0].block != items[$1].block ? items[$0].block < items[$1].block : $0 < $1 }
            var out: [Posting] = []
            out.reserveCapacity(items.count)
            for i in order {
                let p = items[i]
                if let last = out.last, last.block == p.block {
                    out[out.count - 1] = sum ? PostingList.summed(last, p) : p
                } else {
                    out.append(p)
                }
            }
            return PostingList(sorted: out)
        }
    }
}
