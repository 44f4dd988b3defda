import Testing
import TestSupport

@testable import LogStore

/// ``PostingList`` against a dictionary model: lists built from postings in any order (the
/// later posting of a block kept, or the two summed), looked up, united and intersected.
@Suite("Posting lists")
struct PostingListTests {
    typealias Model = [UInt32: Posting]

    static func random(_ rng: inout SeededRandom, blocks: UInt32) -> [Posting] {
        (0..<Int.random(in: 0...60, using: &rng)).map { _ in
            Posting(
                block: UInt32.random(in: 0..<blocks, using: &rng), count: UInt32.random(in: 1...200, using: &rng),
                maxOffset: UInt64.random(in: 0...5_000, using: &rng))
        }
    }

    static func model(_ postings: [Posting], sum: Bool) -> Model {
        var m: Model = [:]
        for p in postings {
            if sum, let old = m[p.block] {
                m[p.block] = Posting(block: p.block, count: old.count &+ p.count, maxOffset: max(old.maxOffset, p.maxOffset))
            } else {
                m[p.block] = p
            }
        }
        return m
    }

    static func check(_ list: PostingList, equals model: Model, blocks: UInt32) {
        #expect(list.count == model.count)
        #expect(list.map(\.block) == model.keys.sorted())
        for b in 0...blocks { #expect(list[b] == model[b]) }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func equalsADictionary(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        for _ in 0..<200 {
            let blocks = UInt32.random(in: 1...80, using: &rng)
            // Sources in block order one after another, sometimes not: both paths of the builder.
            var parts: [[Posting]] = []
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                var part = Self.random(&rng, blocks: blocks)
                if Bool.random(using: &rng) { part.sort { $0.block < $1.block } }
                parts.append(part)
            }
            let all = parts.flatMap { $0 }
            for sum in [false, true] {
                var builder = PostingList.Builder()
                for p in all { builder.append(p) }
                Self.check(builder.build(sum: sum), equals: Self.model(all, sum: sum), blocks: blocks)
            }

            let lists = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                let postings = Self.random(&rng, blocks: blocks)
                var builder = PostingList.Builder()
                for p in postings { builder.append(p) }
                return (builder.build(sum: false), Self.model(postings, sum: false))
            }
            // Union: every block of any list, counts summed, the larger bound.
            var union: Model = [:]
            for (_, m) in lists {
                for (b, p) in m {
                    if let old = union[b] {
                        union[b] = Posting(block: b, count: old.count &+ p.count, maxOffset: max(old.maxOffset, p.maxOffset))
                    } else {
                        union[b] = p
                    }
                }
            }
            Self.check(PostingList.union(lists.map(\.0)), equals: union, blocks: blocks)
            // Intersection: the blocks in every list, the smallest count and bound; none: nil.
            let intersection = PostingList.intersection(lists.map(\.0))
            if lists.isEmpty {
                #expect(intersection == nil)
            } else {
                var both: Model = [:]
                for b in lists[0].1.keys where lists.allSatisfy({ $0.1[b] != nil }) {
                    let ps = lists.map { $0.1[b]! }
                    both[b] = Posting(block: b, count: ps.map(\.count).min()!, maxOffset: ps.map(\.maxOffset).min()!)
                }
                Self.check(intersection ?? PostingList(), equals: both, blocks: blocks)
            }
            if let (list, m) = lists.first {
                let odd = m.filter { $0.key % 2 == 1 }
                Self.check(list.filter { $0.block % 2 == 1 }, equals: odd, blocks: blocks)
            }
        }
    }
}
