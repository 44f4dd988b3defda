import Foundation

/// Candidate blocks of one segment for a query, by block number: `nil` = every block.
/// For each candidate: an upper bound of its matching lines and of their highest LSN offset.
typealias BlockCandidates = PostingList?

/// Evaluates a normalized query against a segment's index.
struct IndexPlanner: Sendable {
    let query: Query
    let tokens: Set<[UInt8]>
    let prefixes: Set<[UInt8]>
    /// Paths of phrase tests on fields, whose values a segment lists (``FieldValuePostings``).
    let phrasePaths: Set<[UInt8]>

    init(_ query: Query) {
        self.query = query
        var tokens = Set<[UInt8]>()
        var prefixes = Set<[UInt8]>()
        var phrasePaths = Set<[UInt8]>()
        func collect(_ q: Query) {
            switch q {
            case .term(let t): tokens.insert(Array(t.utf8))
            case .phrase(let parts): for p in parts { tokens.insert(Array(p.utf8)) }
            case .prefix(let p): prefixes.insert(Array(p.utf8))
            case .and(let xs), .or(let xs): for x in xs { collect(x) }
            case .doc(let p):
                let needed = Self.fieldTokens(p)
                if !needed.isEmpty {
                    tokens.formUnion(needed)
                    tokens.insert([FieldTokens.marker])
                }
                if Self.isBucketed(p) {
                    tokens.insert(FieldTokens.presenceToken(Array(p.field.utf8)))
                    tokens.insert([FieldTokens.rangeMarker])
                }
                if case .tokens(let want) = p.test, !want.isEmpty, !p.field.isEmpty {
                    phrasePaths.insert(Array(p.field.utf8))
                    tokens.insert(FieldTokens.slotToken(Array(p.field.utf8)))
                }
            case .not, .field, .all, .lsns: break  // cannot narrow the blocks
            }
        }
        collect(query)
        self.tokens = tokens
        self.prefixes = prefixes
        self.phrasePaths = phrasePaths
    }

    /// The field tokens one of which a block holds when a line of it can pass `p` (none: the
    /// index cannot tell, e.g. a test on the message itself).
    static func fieldTokens(_ p: FieldPredicate) -> [[UInt8]] {
        let path = Array(p.field.utf8)
        if path.isEmpty { return [] }
        switch p.test {
        case .equals(let q):
            var out = [FieldTokens.valueToken(path, Array(q.utf8)), FieldTokens.slotToken(path)]
            if let canonical = FieldTokens.canonicalNumber(Array(q.utf8)) { out.append(FieldTokens.valueToken(path, canonical)) }
            return out
        case .range(let lower, let upper):
            // Blocks without range buckets are added by `candidates` (presence, no bucket marker).
            guard let buckets = RangeBuckets.covering(path, lower: lower, upper: upper) else { return [FieldTokens.presenceToken(path)] }
            return buckets + [FieldTokens.slotToken(path)]
        default:
            return [FieldTokens.presenceToken(path)]
        }
    }

    /// Whether `p` is a range pruned by bucket tokens.
    static func isBucketed(_ p: FieldPredicate) -> Bool {
        guard case .range(let lower, let upper) = p.test, !p.field.isEmpty else { return false }
        return RangeBuckets.covering([], lower: lower, upper: upper) != nil
    }

    /// True when the index cannot narrow anything for this query.
    var isUseless: Bool { tokens.isEmpty && prefixes.isEmpty && phrasePaths.isEmpty }

    /// Candidate blocks among those numbered below `indexed` (stored postings) or covered by
    /// `pending` (and below `next`, the blocks this transaction can see).
    func candidates(segment: Segment, txn: borrowing LMDBTransaction, indexed: UInt32, next: UInt32, pending: PendingView) throws
        -> BlockCandidates
    {
        try candidatesAndCounts(segment: segment, txn: txn, indexed: indexed, next: next, pending: pending).candidates
    }

    /// `candidates`, and what the postings it read tell of each candidate's exact count
    /// (``ExactCounts``; nil when the index cannot narrow anything).
    func candidatesAndCounts(segment: Segment, txn: borrowing LMDBTransaction, indexed: UInt32, next: UInt32, pending: PendingView) throws
        -> (candidates: BlockCandidates, counts: ExactCounts?)
    {
        if isUseless { return (nil, nil) }
        var termPostings: [[UInt8]: PostingList] = [:]
        func usePending(_ p: Posting) -> Bool { p.block >= indexed && p.block < next }
        for token in tokens {
            var found = PostingList.Builder()
            try txn.scan(segment.postings, prefix: token + [0]) { k, v in
                try Postings.decode(key: k, value: v) { p in if p.block < indexed { found.append(p) } }
                return true
            }
            if let runs = segment.postingRuns {
                for p in try PostingRuns.lookup(txn, runs, packs: segment.packs, token: token) where p.block < indexed { found.append(p) }
            }
            for p in pending.tokens[token] ?? [] where usePending(p) { found.append(p) }
            termPostings[token] = found.build(sum: false)
        }
        var prefixPostings: [[UInt8]: PostingList] = [:]
        for prefix in prefixes {
            var found = PostingList.Builder()
            try txn.scan(segment.postings, prefix: prefix) { k, v in
                try Postings.decode(key: k, value: v) { p in if p.block < indexed { found.append(p) } }
                return true
            }
            if let runs = segment.postingRuns {
                try PostingRuns.scan(txn, runs, packs: segment.packs, prefix: prefix) { postings in for p in postings where p.block < indexed { found.append(p) } }
            }
            for p in pending.prefixes[prefix] ?? [] where usePending(p) { found.append(p) }
            prefixPostings[prefix] = found.build(sum: true)
        }
        // Blocks written before field tokens existed (no marker) may hold any field.
        let docLeaves = Self.docLeaves(query)
        var legacy = PostingList()
        if !docLeaves.isEmpty {
            let marked = termPostings[[FieldTokens.marker]] ?? PostingList()
            var unmarked = PostingList.Builder()
            var m = marked.makeIterator()
            var nextMarked = m.next()
            try txn.scan(segment.blockDir) { k, _ in
                let number = try Keys.decodeU32(k)
                if number >= indexed { return false }
                while let p = nextMarked, p.block < number { nextMarked = m.next() }
                if nextMarked?.block != number { unmarked.append(Posting(block: number, count: UInt32.max, maxOffset: UInt64.max >> 2)) }
                return true
            }
            legacy = unmarked.build(sum: false)
        }
        var listed: [[UInt8]: FieldValuePostings] = [:]
        for path in phrasePaths {
            listed[path] = try FieldValuePostings.read(path: path, segment: segment, txn: txn, indexed: indexed, covered: pending.covered)
        }
        var phrases: [FieldPredicate: ExactCounts.PhraseBlocks] = [:]
        var docCandidates: [FieldPredicate: PostingList] = [:]
        for case .doc(let p) in docLeaves where docCandidates[p] == nil {
            let needed = Self.fieldTokens(p)
            if needed.isEmpty { continue }
            var sources = [legacy] + needed.map { termPostings[$0] ?? PostingList() }
            if case .tokens(let want) = p.test, let values = listed[Array(p.field.utf8)] ?? nil {
                // The blocks with a value that holds the phrase (or cannot tell), or a slot.
                sources = [legacy, termPostings[FieldTokens.slotToken(Array(p.field.utf8))] ?? PostingList()]
                var blocks = ExactCounts.PhraseBlocks.Builder()
                for value in values.values {
                    if value.unsure {
                        blocks.add(unsure: value.postings)
                        sources.append(value.postings)
                    } else if DocumentFields.holdsPhrase(value.text, want) {
                        blocks.add(passing: value.token, value.postings)
                        sources.append(value.postings)
                    }
                }
                phrases[p] = blocks.build()
            }
            if Self.isBucketed(p) {
                // Blocks that hold the field but were written without range buckets.
                let bucketed = termPostings[[FieldTokens.rangeMarker]] ?? PostingList()
                sources.append((termPostings[FieldTokens.presenceToken(Array(p.field.utf8))] ?? PostingList()).filter { bucketed[$0.block] == nil })
            }
            docCandidates[p] = PostingList.union(sources)
        }
        func evaluate(_ q: Query) -> PostingList? {
            switch q {
            case .doc(let p): return docCandidates[p]
            case .all, .field, .not, .lsns: return nil
            case .term(let t): return termPostings[Array(t.utf8)] ?? PostingList()
            case .prefix(let p): return prefixPostings[Array(p.utf8)] ?? PostingList()
            case .phrase(let parts): return PostingList.intersection(parts.map { termPostings[Array($0.utf8)] ?? PostingList() })
            case .and(let xs): return PostingList.intersection(xs.compactMap { evaluate($0) })
            case .or(let xs):
                var parts: [PostingList] = []
                for x in xs {
                    guard let part = evaluate(x) else { return nil }
                    parts.append(part)
                }
                return PostingList.union(parts)
            }
        }
        return (evaluate(query), ExactCounts(query: query, postings: termPostings, phrases: phrases))
    }

    /// The document predicates in positive positions of `q`.
    static func docLeaves(_ q: Query) -> [Query] {
        switch q {
        case .doc: return [q]
        case .and(let xs), .or(let xs): return xs.flatMap(docLeaves)
        default: return []
        }
    }
}
