import Foundation

/// FieldValuePostings are the exact-value tokens (`FieldTokens` `0x02`) of one field path in one
/// segment, listed with their postings: what a phrase test on a field (`match`, `query_string`
/// `name:word` on a text field) is pruned and counted by. A block is a candidate for the phrase
/// when one of its values at the path holds the phrase's tokens (as the matcher tokenizes the
/// value), when a value's token cannot tell (cut at `FieldTokens.maxValueBytes`, or a number,
/// whose token is its canonical form), or when the block has a template slot there.
struct FieldValuePostings {
    /// Paths with more distinct values than this in a segment are pruned by presence only:
    /// listing them would cost more than it saves.
    static let maxValues = 4096

    struct Value {
        /// The value token, and the value's text as it holds it.
        var token: [UInt8]
        var text: ArraySlice<UInt8>
        /// True when the token's text may differ from the text the matcher tokenizes.
        var unsure: Bool
        var postings: PostingList
    }

    var values: [Value]

    /// The token prefix of every value at `path`.
    static func prefix(_ path: [UInt8]) -> [UInt8] { [FieldTokens.value] + path + [FieldTokens.separator] }

    /// The values at `path` in the stored postings (blocks below `indexed`), the packed runs and
    /// the pending index (blocks `covered` by the read's view); nil past `maxValues`.
    static func read(
        path: [UInt8], segment: Segment, txn: borrowing LMDBTransaction, indexed: UInt32, covered: Set<UInt32>
    ) throws -> FieldValuePostings? {
        let prefix = prefix(path)
        // A token's postings come together in each source: the token is looked up when it
        // changes, not for every posting.
        var index: [ByteKey: Int] = [:]
        var tokens: [[UInt8]] = []
        var postings: [PostingList.Builder] = []
        var current = -1
        func use(_ token: some Collection<UInt8>) -> Bool {
            if current >= 0 && tokens[current].elementsEqual(token) { return true }
            let key = ByteKey(Array(token))
            if let known = index[key] {
                current = known
                return true
            }
            if tokens.count >= maxValues { return false }
            current = tokens.count
            index[key] = current
            tokens.append(key.bytes)
            postings.append(PostingList.Builder())
            return true
        }
        var tooMany = false
        try txn.scan(segment.postings, prefix: prefix) { k, v in
            guard use(Postings.token(ofKey: k)) else {
                tooMany = true
                return false
            }
            try Postings.decode(key: k, value: v) { p in if p.block < indexed { postings[current].append(p) } }
            return true
        }
        if tooMany { return nil }
        if let runs = segment.postingRuns {
            try PostingRuns.scanTokens(txn, runs, packs: segment.packs, prefix: prefix) { token, found in
                guard !tooMany, found.contains(where: { $0.block < indexed }) else { return }
                guard use(token) else {
                    tooMany = true
                    return
                }
                for p in found where p.block < indexed { postings[current].append(p) }
            }
        }
        if tooMany { return nil }
        for (token, found) in segment.pending.entries(prefix: prefix) {
            guard found.contains(where: { $0.block >= indexed && covered.contains($0.block) }) else { continue }
            guard use(token) else { return nil }
            for p in found where p.block >= indexed && covered.contains(p.block) { postings[current].append(p) }
        }
        return FieldValuePostings(
            values: tokens.indices.map { i in
                let text = tokens[i].dropFirst(prefix.count)
                let unsure = text.count >= FieldTokens.maxValueBytes || FieldTokens.canonicalNumber(Array(text)) != nil
                return Value(token: tokens[i], text: text, unsure: unsure, postings: postings[i].build(sum: false))
            })
    }
}
