import Foundation

/// Candidate blocks of one segment for a query, by block number: `nil` = every block.
/// For each candidate: an upper bound of its matching lines and of their highest LSN offset.
typealias BlockCandidates = [UInt32: Posting]?

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
        var termPostings: [[UInt8]: [UInt32: Posting]] = [:]
        func usePending(_ p: Posting) -> Bool { p.block >= indexed && p.block < next }
        for token in tokens {
            var found: [UInt32: Posting] = [:]
            try txn.scan(segment.postings, prefix: token + [0]) { k, v in
                try Postings.decode(key: k, value: v) { p in if p.block < indexed { found[p.block] = p } }
                return true
            }
            if let runs = segment.postingRuns {
                for p in try PostingRuns.lookup(txn, runs, token: token) where p.block < indexed { found[p.block] = p }
            }
            for p in pending.tokens[token] ?? [] where usePending(p) { found[p.block] = p }
            termPostings[token] = found
        }
        var prefixPostings: [[UInt8]: [UInt32: Posting]] = [:]
        for prefix in prefixes {
            var found: [UInt32: Posting] = [:]
            func add(_ p: Posting) {
                if let old = found[p.block] {
                    found[p.block] = Posting(block: p.block, count: old.count &+ p.count, maxOffset: max(old.maxOffset, p.maxOffset))
                } else {
                    found[p.block] = p
                }
            }
            try txn.scan(segment.postings, prefix: prefix) { k, v in
                try Postings.decode(key: k, value: v) { p in if p.block < indexed { add(p) } }
                return true
            }
            if let runs = segment.postingRuns {
                try PostingRuns.scan(txn, runs, prefix: prefix) { postings in for p in postings where p.block < indexed { add(p) } }
            }
            for p in pending.prefixes[prefix] ?? [] where usePending(p) { add(p) }
            prefixPostings[prefix] = found
        }
        // Blocks written before field tokens existed (no marker) may hold any field.
        let docLeaves = Self.docLeaves(query)
        var legacy: [UInt32: Posting] = [:]
        if !docLeaves.isEmpty {
            let marked = termPostings[[FieldTokens.marker]] ?? [:]
            try txn.scan(segment.blockDir) { k, _ in
                let number = try Keys.decodeU32(k)
                if number >= indexed { return false }
                if marked[number] == nil { legacy[number] = Posting(block: number, count: UInt32.max, maxOffset: UInt64.max >> 2) }
                return true
            }
        }
        var listed: [[UInt8]: FieldValuePostings] = [:]
        for path in phrasePaths {
            listed[path] = try FieldValuePostings.read(path: path, segment: segment, txn: txn, indexed: indexed, covered: pending.covered)
        }
        var phrases: [FieldPredicate: [UInt32: ExactCounts.PhraseBlock]] = [:]
        var docCandidates: [FieldPredicate: [UInt32: Posting]] = [:]
        for case .doc(let p) in docLeaves where docCandidates[p] == nil {
            let needed = Self.fieldTokens(p)
            if needed.isEmpty { continue }
            var union = legacy
            var sources = needed.map { termPostings[$0] ?? [:] }
            if case .tokens(let want) = p.test, let values = listed[Array(p.field.utf8)] ?? nil {
                // The blocks with a value that holds the phrase (or cannot tell), or a slot.
                var blocks: [UInt32: ExactCounts.PhraseBlock] = [:]
                sources = [termPostings[FieldTokens.slotToken(Array(p.field.utf8))] ?? [:]]
                for value in values.values {
                    let passes = value.unsure || DocumentFields.holdsPhrase(value.text, want)
                    let token = value.token
                    for (block, posting) in value.postings {
                        if value.unsure {
                            blocks[block, default: ExactCounts.PhraseBlock()].unsure = true
                        } else if passes {
                            blocks[block, default: ExactCounts.PhraseBlock()].passing.append((token, Int(posting.count)))
                        }
                    }
                    if passes { sources.append(value.postings) }
                }
                phrases[p] = blocks
            }
            if Self.isBucketed(p) {
                // Blocks that hold the field but were written without range buckets.
                let bucketed = termPostings[[FieldTokens.rangeMarker]] ?? [:]
                sources.append((termPostings[FieldTokens.presenceToken(Array(p.field.utf8))] ?? [:]).filter { bucketed[$0.key] == nil })
            }
            for postings in sources {
                for (block, posting) in postings {
                    if let old = union[block] {
                        union[block] = Posting(block: block, count: old.count &+ posting.count, maxOffset: max(old.maxOffset, posting.maxOffset))
                    } else {
                        union[block] = posting
                    }
                }
            }
            docCandidates[p] = union
        }
        func evaluate(_ q: Query) -> BlockCandidates {
            switch q {
            case .doc(let p): return docCandidates[p]
            case .all, .field, .not, .lsns: return nil
            case .term(let t): return termPostings[Array(t.utf8)] ?? [:]
            case .prefix(let p): return prefixPostings[Array(p.utf8)] ?? [:]
            case .phrase(let parts): return intersect(parts.map { termPostings[Array($0.utf8)] ?? [:] })
            case .and(let xs): return intersect(xs.compactMap { evaluate($0) })
            case .or(let xs):
                var union: [UInt32: Posting] = [:]
                for x in xs {
                    guard let part = evaluate(x) else { return nil }
                    for (block, p) in part {
                        if let old = union[block] {
                            union[block] = Posting(block: block, count: old.count &+ p.count, maxOffset: max(old.maxOffset, p.maxOffset))
                        } else {
                            union[block] = p
                        }
                    }
                }
                return union
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

    /// Blocks in every set (none given: every block); bounds are the smallest of each.
    private func intersect(_ sets: [[UInt32: Posting]]) -> BlockCandidates {
        guard var smallest = sets.min(by: { $0.count < $1.count }) else { return nil }
        for other in sets {
            for (block, p) in smallest {
                guard let q = other[block] else {
                    smallest[block] = nil
                    continue
                }
                smallest[block] = Posting(block: block, count: min(p.count, q.count), maxOffset: min(p.maxOffset, q.maxOffset))
            }
        }
        return smallest
    }
}
