import Foundation

/// ExactCounts tells, block by block, how many lines of a block match a query when the index
/// alone knows it, so that a count (`hits`, `_count`, `hits.total`) adds the number up instead
/// of decoding the block.
///
/// The index counts lines per token and block (`Posting.count`). That count is the number of
/// matching lines of a leaf when:
/// - a word (`.term`): always (the message's tokens are indexed exactly);
/// - a field test on values (`.doc` `equals` a string under `FieldTokens.maxValueBytes` that is
///   not a number; a phrase, `tokens`, on a path whose values the segment lists —
///   ``FieldValuePostings``): when the block carries field tokens (the marker), has no template
///   slot at that path (values taken from the message or time are not value tokens), and one
///   value token of the block at that path passes the test (a line holds it or not; two could
///   be held by one line). The same holds for an `or` of such tests on one path.
///
/// A stream attribute (or its negation) in the top-level `and` holds for every line of a stream
/// the query does not rule out.
///
/// Combinations: an `and` is exact when each part is and all parts but one match every line of
/// the block (a stream attribute of the top-level `and`, or a field every line holds — the
/// REANA pod's namespace); any part matching no line makes it 0. An `or` is exact when its
/// parts are and at most one matches lines of the block.
///
/// The query is compiled once per segment into nodes holding the postings they read, so a
/// block costs lookups by block number only.
struct ExactCounts {
    /// What a phrase test on a field finds, block by block: the value tokens that pass it with
    /// their line counts, and the values whose token cannot tell.
    struct PhraseBlocks {
        struct Entry {
            var block: UInt32
            /// Index into `tokens`; −1: a value whose token cannot tell.
            var value: Int32
            var count: UInt32
        }

        var tokens: [[UInt8]] = []
        /// In ascending block order.
        var entries: [Entry] = []

        struct Builder {
            private var blocks = PhraseBlocks()
            private var ordered = true

            mutating func add(unsure postings: PostingList) { add(value: -1, postings) }

            mutating func add(passing token: [UInt8], _ postings: PostingList) {
                blocks.tokens.append(token)
                add(value: Int32(blocks.tokens.count - 1), postings)
            }

            private mutating func add(value: Int32, _ postings: PostingList) {
                for p in postings {
                    if let last = blocks.entries.last, last.block > p.block { ordered = false }
                    blocks.entries.append(Entry(block: p.block, value: value, count: p.count))
                }
            }

            consuming func build() -> PhraseBlocks {
                if !ordered { blocks.entries.sort { $0.block < $1.block } }
                return blocks
            }
        }

        /// The entries of `block`.
        func entries(of block: UInt32) -> ArraySlice<Entry> {
            var low = 0
            var high = entries.count
            while low < high {
                let mid = (low + high) / 2
                if entries[mid].block < block { low = mid + 1 } else { high = mid }
            }
            var end = low
            while end < entries.count && entries[end].block == block { end += 1 }
            return entries[low..<end]
        }
    }

    /// One test of a values node.
    enum ValueTest {
        case equals(token: [UInt8], postings: PostingList)
        case phrase(PhraseBlocks)
    }

    indirect enum Node {
        /// Every line of the block (`.all`; a stream attribute of the top-level `and`).
        case every
        /// The index cannot tell.
        case unknown
        case term(PostingList)
        /// Tests on one path, any of which a line passes; `marker` and `slot` are the postings
        /// of the field-token marker and of the path's slot token.
        case values(marker: PostingList, slot: PostingList, tests: [ValueTest])
        case and([Node])
        case or([Node])
    }

    let root: Node

    /// `postings`: the tokens' postings the planner looked up, by block; `phrases`: for each
    /// phrase test whose path's values were listed, its blocks with a value there.
    init(query: Query, postings: [[UInt8]: PostingList], phrases: [FieldPredicate: PhraseBlocks]) {
        func values(_ tests: [Query]) -> Node? {
            var path: String?
            var compiled: [ValueTest] = []
            for q in tests {
                guard case .doc(let p) = q, !p.field.isEmpty, path == nil || path == p.field else { return nil }
                path = p.field
                switch p.test {
                case .equals(let v):
                    let value = Array(v.utf8)
                    guard value.count < FieldTokens.maxValueBytes, FieldTokens.canonicalNumber(value) == nil else { return .unknown }
                    let token = FieldTokens.valueToken(Array(p.field.utf8), value)
                    guard let found = postings[token] else { return .unknown }
                    compiled.append(.equals(token: token, postings: found))
                case .tokens:
                    guard let blocks = phrases[p] else { return .unknown }
                    compiled.append(.phrase(blocks))
                default: return .unknown
                }
            }
            guard let path, let marker = postings[[FieldTokens.marker]], let slot = postings[FieldTokens.slotToken(Array(path.utf8))]
            else { return .unknown }
            return .values(marker: marker, slot: slot, tests: compiled)
        }
        func compile(_ q: Query, top: Bool) -> Node {
            switch q {
            case .all: return .every
            case .term(let t): return postings[Array(t.utf8)].map { .term($0) } ?? .unknown
            case .field: return top ? .every : .unknown
            case .doc: return values([q]) ?? .unknown
            case .and(let xs): return .and(xs.map { compile($0, top: top) })
            case .or(let xs):
                if let node = values(xs) { return node }
                return .or(xs.map { compile($0, top: false) })
            case .not(let x):
                // A stream attribute's negation decides by the stream, like the attribute.
                if top, case .field = x { return .every }
                return .unknown
            case .phrase, .prefix, .lsns: return .unknown
            }
        }
        root = compile(query, top: true)
    }

    /// The exact number of lines of block `block` (of `lines` lines) that match the query, or
    /// nil when the index cannot tell. `streamPasses`: the block's stream is not ruled out by
    /// the query's stream attributes (then those of the top-level `and` hold for every line).
    func count(block: UInt32, lines: Int, streamPasses: Bool) -> Int? {
        guard streamPasses else { return 0 }
        return count(root, block: block, lines: lines)
    }

    private func count(_ node: Node, block: UInt32, lines: Int) -> Int? {
        switch node {
        case .every: return lines
        case .unknown: return nil
        case .term(let postings): return Int(postings[block]?.count ?? 0)
        case .values(let marker, let slot, let tests): return valueCount(marker: marker, slot: slot, tests: tests, block: block)
        case .and(let xs):
            var partial: Int?
            var unknown = false
            for x in xs {
                guard let c = count(x, block: block, lines: lines) else {
                    unknown = true
                    continue
                }
                if c == 0 { return 0 }
                if c == lines { continue }
                if partial != nil { unknown = true }
                partial = c
            }
            return unknown ? nil : partial ?? lines
        case .or(let xs):
            var found = 0
            var seen = false
            for x in xs {
                guard let c = count(x, block: block, lines: lines) else { return nil }
                if c == 0 { continue }
                if seen { return nil }
                seen = true
                found = c
            }
            return found
        }
    }

    /// The lines of `block` passing any of `tests`, when one value token of the block passes.
    private func valueCount(marker: PostingList, slot: PostingList, tests: [ValueTest], block: UInt32) -> Int? {
        // Blocks without the marker were written before field tokens; a slot holds values the
        // index does not list.
        guard marker[block] != nil, slot[block] == nil else { return nil }
        var only: (token: [UInt8], count: Int)?
        func pass(_ token: [UInt8], _ count: Int) -> Bool {
            if let o = only { return o.token == token }
            only = (token, count)
            return true
        }
        for test in tests {
            switch test {
            case .equals(let token, let postings):
                if let p = postings[block], !pass(token, Int(p.count)) { return nil }
            case .phrase(let blocks):
                let found = blocks.entries(of: block)
                if found.contains(where: { $0.value < 0 }) { return nil }
                for e in found where !pass(blocks.tokens[Int(e.value)], Int(e.count)) { return nil }
            }
        }
        return only?.count ?? 0
    }
}
