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
/// Combinations: an `and` is exact when each part is and all parts but one match every line of
/// the block (a stream attribute of the top-level `and`, or a field every line holds — the
/// REANA pod's namespace); any part matching no line makes it 0. An `or` is exact when its
/// parts are and at most one matches lines of the block.
struct ExactCounts {
    /// What a phrase test on a field finds in one block: the value tokens that pass it, and
    /// whether some value's token cannot tell.
    struct PhraseBlock {
        /// Passing value tokens and their line counts in the block.
        var passing: [[UInt8]: Int] = [:]
        var unsure = false
    }

    let query: Query
    /// The tokens' postings the planner looked up, by block.
    let postings: [[UInt8]: [UInt32: Posting]]
    /// For each phrase test whose path's values were listed: its blocks with a value there.
    let phrases: [FieldPredicate: [UInt32: PhraseBlock]]

    /// The exact number of lines of block `block` (of `lines` lines) that match the query, or
    /// nil when the index cannot tell. `streamPasses`: the block's stream is not ruled out by
    /// the query's stream attributes (then those of the top-level `and` hold for every line).
    func count(block: UInt32, lines: Int, streamPasses: Bool) -> Int? {
        guard streamPasses else { return 0 }
        return count(query, top: true, block: block, lines: lines)
    }

    private func count(_ q: Query, top: Bool, block: UInt32, lines: Int) -> Int? {
        switch q {
        case .all: return lines
        case .term(let t): return tokenCount(Array(t.utf8), block)
        case .field: return top ? lines : nil
        case .doc: return valueCount([q], block: block)
        case .and(let xs):
            var partial: Int?
            var unknown = false
            for x in xs {
                let c = count(x, top: top, block: block, lines: lines)
                guard let c else {
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
            if let c = valueCount(xs, block: block) { return c }
            var found = 0
            var seen = false
            for x in xs {
                guard let c = count(x, top: false, block: block, lines: lines) else { return nil }
                if c == 0 { continue }
                if seen { return nil }
                seen = true
                found = c
            }
            return found
        case .not, .phrase, .prefix, .lsns: return nil
        }
    }

    private func tokenCount(_ token: [UInt8], _ block: UInt32) -> Int? {
        guard let postings = postings[token] else { return nil }
        return Int(postings[block]?.count ?? 0)
    }

    /// The lines of `block` passing any of `tests` (field tests on one path), when the value
    /// tokens tell: the passing values of the block, if at most one, give the count.
    private func valueCount(_ tests: [Query], block: UInt32) -> Int? {
        var path: String?
        var passing: [[UInt8]: Int] = [:]
        for q in tests {
            guard case .doc(let p) = q, !p.field.isEmpty, path == nil || path == p.field else { return nil }
            path = p.field
            switch p.test {
            case .equals(let v):
                let value = Array(v.utf8)
                guard value.count < FieldTokens.maxValueBytes, FieldTokens.canonicalNumber(value) == nil else { return nil }
                let token = FieldTokens.valueToken(Array(p.field.utf8), value)
                guard let found = postings[token] else { return nil }
                if let posting = found[block] { passing[token] = Int(posting.count) }
            case .tokens:
                guard let blocks = phrases[p] else { return nil }
                if let b = blocks[block] {
                    if b.unsure { return nil }
                    passing.merge(b.passing) { a, _ in a }
                }
            default: return nil
            }
        }
        guard let path else { return nil }
        // Blocks without the marker were written before field tokens; a slot holds values the
        // index does not list.
        guard let marked = postings[[FieldTokens.marker]], marked[block] != nil,
            let slots = postings[FieldTokens.slotToken(Array(path.utf8))], slots[block] == nil
        else { return nil }
        if passing.isEmpty { return 0 }
        return passing.count == 1 ? passing.first?.value : nil
    }
}
