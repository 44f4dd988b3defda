import Foundation

/// Decides exactly whether one log line matches a `Query`.
///
/// Built once per query, then run over every candidate line, so the work is split accordingly:
/// - `init` normalizes the query and compiles it into a flat tree whose leaves are the distinct
///   predicates (terms, prefixes, phrases, fields); the tokens of terms and phrases go into a
///   small open-addressing table.
/// - `matches` first evaluates the tree with the field leaves known and the text leaves unknown
///   (three-valued logic): when the stream alone decides, the message is never tokenized.
///   Otherwise it tokenizes the message once, in a single pass and without heap allocation (the
///   scratch token, the leaf states and the phrase window live on the stack): each token is looked
///   up in the table (marking terms, advancing phrases) and checked against the pending prefixes.
///   As soon as a leaf becomes true the tree is re-evaluated, and the scan stops once the answer
///   is known; leaves still unknown at the end of the message are false.
/// - Before tokenizing an ASCII message, it looks for the bytes of one token that every matching
///   line must hold (the longest of the query's required tokens), ignoring ASCII case: a line
///   without them cannot match and is not tokenized. Most lines of the blocks a phrase or an
///   `AND` has to decode fail this test.
public struct QueryMatcher: Sendable {
    /// The normalized query this matcher evaluates.
    public let query: Query

    // The tree. kind: 0 all, 1 leaf(a), 2 and(children[a..<b]), 3 or(children[a..<b]), 4 not(a).
    private struct Node: Sendable {
        var kind: UInt8
        var a: Int32
        var b: Int32
    }
    private var nodes: [Node] = []
    private var children: [Int32] = []
    private var root: Int32 = 0

    private var leafCount = 0
    private var textLeafCount = 0
    /// (leaf, field, value) for every field leaf.
    private var fieldLeaves: [(leaf: Int32, field: QueryField, value: String)] = []
    /// The document predicates and their leaves (evaluated together, in one walk of the fields).
    private var docPredicates: [FieldPredicate] = []
    private var docLeaves: [Int32] = []
    private var document = DocumentFields([])
    /// The `.lsns` leaves: a line's LSN decides them (callers that test lines pass it).
    private var lsnLeaves: [(leaf: Int32, lsns: Set<LSN>)] = []

    // Vocabulary: the distinct tokens of the terms and phrases; a token's id is its index.
    private var vocabBytes: [UInt8] = []
    private var vocabStart: [Int32] = [0]
    private var table: [Int32] = []  // slot → vocab id, -1 empty; count is a power of two
    private var tableMask = 0
    /// vocab id → the term leaf for that token, or -1.
    private var termLeaf: [Int32] = []
    /// vocab id → range in `phraseEnds` of the phrase leaves whose last token it is.
    private var phraseEndStart: [Int32] = []
    private var phraseEnds: [Int32] = []
    /// The vocab ids of all phrases, back to back; leaf → its range (`phraseStart[leaf]..<…End`).
    private var phraseTokens: [Int32] = []
    private var phraseStart: [Int32] = []
    private var phraseEnd: [Int32] = []
    private var maxPhrase = 1

    // Prefixes: bytes, offsets, leaf.
    private var prefixBytes: [UInt8] = []
    private var prefixStart: [Int32] = [0]
    private var prefixLeaf: [Int32] = []

    /// Tokens every matching line holds, longest first (at most `maxRequired`, none shorter
    /// than 3 bytes: not worth a search): ASCII lines without the bytes of one of them are
    /// answered false untokenized.
    private var prefilterTokens: [[UInt8]] = []
    static let maxRequired = 4

    public init(_ query: Query) {
        self.init(query, prefilter: true)
    }

    /// `prefilter: false` tokenizes every line (tests compare both ways).
    init(_ query: Query, prefilter: Bool) {
        self.query = query.normalized()
        compile()
        if prefilter {
            // Longest first: a longer token is usually the rarer one. The others are looked
            // for only in lines that hold it: a phrase of two common words ("connection
            // closed") no longer tokenizes every line with just one of them.
            prefilterTokens = Array(
                Self.requiredTokens(self.query).map { Array($0.utf8) }.filter { $0.count >= 3 }
                    .sorted { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1) }
                    .prefix(Self.maxRequired))
        }
    }

    /// Tokens that every line matching `q` holds: a term's, a phrase's, all of an AND's
    /// operands', those common to every operand of an OR; none for NOT, prefixes and fields.
    static func requiredTokens(_ q: Query) -> Set<String> {
        switch q {
        case .term(let token): return [token]
        case .phrase(let tokens): return Set(tokens)
        case .and(let operands): return operands.reduce(into: Set<String>()) { $0.formUnion(requiredTokens($1)) }
        case .or(let operands):
            guard let first = operands.first else { return [] }
            return operands.dropFirst().reduce(requiredTokens(first)) { $0.intersection(requiredTokens($1)) }
        case .all, .prefix, .field, .doc, .lsns, .not: return []
        }
    }

    /// Whether `line` (ASCII) holds `token` (lowercase letters and digits) with letters in any
    /// case. A superset of "has the token as a word", which is all the prefilter needs.
    ///
    /// Eight bytes at a time to the next byte equal to the token's first, then compared in
    /// full. (Comparing the first and the last byte of eight start positions at a time, the
    /// usual SIMD way, was no faster on the loghub lines: 55–66 ns a line either way, slower
    /// for tokens whose first letter is rare, faster for `error`.)
    static func containsFolded(_ line: UnsafeRawBufferPointer, _ token: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = line.count
        let m = token.count
        guard m > 0, m <= n, let base = line.baseAddress else { return m == 0 }
        let h = base.assumingMemoryBound(to: UInt8.self)
        let first = token[0]
        let ones: UInt64 = 0x0101_0101_0101_0101
        let pattern = ones &* UInt64(first)
        let last = n - m
        var i = 0
        while i <= last {
            if i + 8 <= n {
                // Eight bytes at a time to the next byte equal to the first, case folded.
                let x = (base + i).loadUnaligned(as: UInt64.self) | (ones &* 0x20) ^ pattern
                let zero = (x &- ones) & ~x & (ones &* 0x80)
                if zero == 0 {
                    i += 8
                    continue
                }
                i += zero.trailingZeroBitCount / 8
                if i > last { return false }
            }
            if h[i] | 0x20 == first {
                var j = 1
                while j < m, h[i + j] | 0x20 == token[j] { j += 1 }
                if j == m { return true }
            }
            i += 1
        }
        return false
    }

    /// True when a line's message is needed to decide (the query has text predicates).
    public var needsMessage: Bool { textLeafCount > 0 }
    /// True when a line's fields are needed to decide (the query tests document fields).
    public var needsFields: Bool { !docLeaves.isEmpty }
    /// True when a line's LSN is needed to decide (the query names lines by `_id`).
    public var needsLSN: Bool { !lsnLeaves.isEmpty }

    /// The answer for every line of `stream` when the stream alone decides it (the query has no
    /// text predicate, or its field predicates settle it), nil when the message is needed.
    public func matches(stream: StreamKey) -> Bool? {
        if leafCount == 0 { return evaluate(root, nil) == 1 }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: leafCount) { buffer in
            let state = buffer.baseAddress!
            state.initialize(repeating: 0, count: leafCount)
            setFields(state, stream)
            let r = evaluate(root, state)
            return r == 0 ? nil : r == 1
        }
    }

    public func matches(message: String, stream: StreamKey) -> Bool {
        var message = message
        return message.withUTF8 { matches(message: UnsafeRawBufferPointer($0), stream: stream) }
    }

    public func matches(message: UnsafeRawBufferPointer, stream: StreamKey) -> Bool {
        matches(message: message, fields: UnsafeRawBufferPointer(start: nil, count: 0), timestamp: 0, stream: stream)
    }

    /// Whether the line with this message, fields value and time, of `stream`, matches.
    public func matches(message: String, fields: String, timestamp: Int64, stream: StreamKey, lsn: LSN? = nil) -> Bool {
        var message = message
        var fields = fields
        return message.withUTF8 { m in
            fields.withUTF8 { f in
                matches(message: UnsafeRawBufferPointer(m), fields: UnsafeRawBufferPointer(f), timestamp: timestamp, stream: stream, lsn: lsn)
            }
        }
    }

    /// The document predicates' results for the last fields bytes seen (by address): the
    /// lines of a decoded block that share a fields value share its bytes. One per block (or
    /// per run of lines whose bytes stay put).
    public struct FieldsCache {
        var base: UnsafeRawPointer?
        var count = -1
        var bytes: [UInt8] = []
        var states: [UInt8] = []
        public init() {}

        /// Whether `fields` are the bytes the states were worked out for (same address, or
        /// equal bytes: head lines each have their own copy).
        func holds(_ fields: UnsafeRawBufferPointer) -> Bool {
            guard count >= 0, count == fields.count else { return false }
            if base != nil && base == fields.baseAddress { return true }
            if count == 0 { return true }
            return bytes.withUnsafeBytes { memcmp($0.baseAddress!, fields.baseAddress!, count) == 0 }
        }
    }

    /// Whether the line with this message, fields value and time, of `stream`, matches.
    public func matches(
        message: UnsafeRawBufferPointer, fields: UnsafeRawBufferPointer, timestamp: Int64, stream: StreamKey, lsn: LSN? = nil
    ) -> Bool {
        var cache = FieldsCache()
        return matches(message: message, fields: fields, timestamp: timestamp, stream: stream, lsn: lsn, cache: &cache)
    }

    /// `matches`, reusing the document predicates' results of the previous line when it had the
    /// very same fields bytes and they did not depend on its message or time. `lsn`: the line's,
    /// which an `.lsns` leaf needs (without it such a leaf is false).
    public func matches(
        message: UnsafeRawBufferPointer, fields: UnsafeRawBufferPointer, timestamp: Int64, stream: StreamKey, lsn: LSN? = nil,
        cache: inout FieldsCache
    ) -> Bool {
        if leafCount == 0 { return evaluate(root, nil) == 1 }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: leafCount) { buffer in
            let state = buffer.baseAddress!
            state.initialize(repeating: 0, count: leafCount)
            setFields(state, stream)
            for l in lsnLeaves { state[Int(l.leaf)] = lsn.map { l.lsns.contains($0) } == true ? 1 : 2 }
            var known = evaluate(root, state)
            if known != 0 { return known == 1 }
            if !docLeaves.isEmpty {
                if cache.holds(fields) {
                    for (j, leaf) in docLeaves.enumerated() { state[Int(leaf)] = cache.states[j] }
                } else if document.evaluate(fields: fields, message: message, timestamp: timestamp, leaves: docLeaves, state: state) {
                    cache.count = -1
                } else {
                    cache.base = fields.baseAddress
                    cache.count = fields.count
                    cache.bytes = Array(fields)
                    cache.states = docLeaves.map { state[Int($0)] }
                }
                known = evaluate(root, state)
                if known != 0 { return known == 1 }
            }
            if !prefilterTokens.isEmpty, Tokenizer.isASCII(message) {
                for token in prefilterTokens where !token.withUnsafeBufferPointer({ Self.containsFolded(message, $0) }) {
                    return false
                }
            }
            return withUnsafeTemporaryAllocation(of: Int32.self, capacity: maxPhrase) { window in
                scan(message, state, window.baseAddress!)
            }
        }
    }

    // MARK: - Matching

    /// Leaf states: 0 unknown, 1 true, 2 false.
    private func setFields(_ state: UnsafeMutablePointer<UInt8>, _ stream: StreamKey) {
        for f in fieldLeaves {
            state[Int(f.leaf)] = f.field.value(in: stream) == f.value ? 1 : 2
        }
    }

    private func scan(
        _ message: UnsafeRawBufferPointer, _ state: UnsafeMutablePointer<UInt8>, _ window: UnsafeMutablePointer<Int32>
    ) -> Bool {
        var decided: UInt8 = 0
        var position = 0  // index of the current token
        var slot = 0  // position % maxPhrase
        let windowSize = maxPhrase
        let hasPhrases = windowSize > 1
        let prefixCount = prefixLeaf.count
        var pendingPrefixes = prefixCount
        _ = vocabBytes.withUnsafeBufferPointer { vocab in
            prefixBytes.withUnsafeBufferPointer { prefixes in
                Tokenizer.scanTokens(message) { token in
                    var changed = false
                    let id = lookup(token, vocab)
                    if id >= 0 {
                        let t = Int(termLeaf[Int(id)])
                        if t >= 0, state[t] == 0 {
                            state[t] = 1
                            changed = true
                        }
                        let ends = Int(phraseEndStart[Int(id)])..<Int(phraseEndStart[Int(id) + 1])
                        for e in ends {
                            let leaf = phraseEnds[e]
                            if state[Int(leaf)] != 0 { continue }
                            if phraseFound(leaf, position, slot, window, windowSize) {
                                state[Int(leaf)] = 1
                                changed = true
                            }
                        }
                    }
                    if hasPhrases {
                        window[slot] = id
                        slot = slot + 1 == windowSize ? 0 : slot + 1
                    }
                    position += 1
                    if pendingPrefixes > 0 {
                        for p in 0..<prefixCount {
                            let leaf = Int(prefixLeaf[p])
                            if state[leaf] != 0 { continue }
                            let start = Int(prefixStart[p])
                            let length = Int(prefixStart[p + 1]) - start
                            if token.count >= length,
                                QueryMatcher.equal(token.baseAddress!, prefixes.baseAddress! + start, length)
                            {
                                state[leaf] = 1
                                pendingPrefixes -= 1
                                changed = true
                            }
                        }
                    }
                    if changed {
                        let r = evaluate(root, state)
                        if r != 0 {
                            decided = r
                            return false
                        }
                    }
                    return true
                }
            }
        }
        if decided != 0 { return decided == 1 }
        for i in 0..<leafCount where state[i] == 0 { state[i] = 2 }
        return evaluate(root, state) == 1
    }

    /// Whether the phrase `leaf` ends at the current token (whose id matched its last token):
    /// the previous tokens, kept in `window`, must be its other tokens in order.
    private func phraseFound(
        _ leaf: Int32, _ position: Int, _ slot: Int, _ window: UnsafeMutablePointer<Int32>, _ windowSize: Int
    ) -> Bool {
        let start = phraseStart[Int(leaf)]
        let end = phraseEnd[Int(leaf)]
        let count = Int(end - start)
        if position < count - 1 { return false }
        var s = slot
        var k = Int(end) - 2
        while k >= Int(start) {
            s = s == 0 ? windowSize - 1 : s - 1
            if window[s] != phraseTokens[k] { return false }
            k -= 1
        }
        return true
    }

    @inline(__always)
    private static func equal(_ a: UnsafeRawPointer, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        let a = a.assumingMemoryBound(to: UInt8.self)
        for i in 0..<count where a[i] != b[i] { return false }
        return true
    }

    @inline(__always)
    private static func hash(_ length: Int, _ first: UInt8, _ last: UInt8) -> Int {
        let x = UInt32(truncatingIfNeeded: length) &* 0x9E37_79B1 ^ (UInt32(first) << 8 | UInt32(last)) &* 0x85EB_CA6B
        return Int(x ^ (x >> 15))
    }

    /// The vocab id of `token`, or -1.
    @inline(__always)
    private func lookup(_ token: UnsafeRawBufferPointer, _ vocab: UnsafeBufferPointer<UInt8>) -> Int32 {
        if tableMask == 0 { return -1 }
        let length = token.count
        let first = token[0]
        let last = token[length - 1]
        var slot = QueryMatcher.hash(length, first, last) & tableMask
        while true {
            let id = table[slot]
            if id < 0 { return -1 }
            let start = Int(vocabStart[Int(id)])
            if Int(vocabStart[Int(id) + 1]) - start == length, vocab[start] == first,
                QueryMatcher.equal(token.baseAddress!, vocab.baseAddress! + start, length)
            {
                return id
            }
            slot = (slot + 1) & tableMask
        }
    }

    /// Three-valued evaluation: 1 true, 2 false, 0 unknown. `state` nil: no leaves.
    private func evaluate(_ index: Int32, _ state: UnsafeMutablePointer<UInt8>?) -> UInt8 {
        let node = nodes[Int(index)]
        switch node.kind {
        case 0:
            return 1
        case 1:
            return state![Int(node.a)]
        case 2:
            var result: UInt8 = 1
            for c in Int(node.a)..<Int(node.b) {
                let v = evaluate(children[c], state)
                if v == 2 { return 2 }
                if v == 0 { result = 0 }
            }
            return result
        case 3:
            var result: UInt8 = 2
            for c in Int(node.a)..<Int(node.b) {
                let v = evaluate(children[c], state)
                if v == 1 { return 1 }
                if v == 0 { result = 0 }
            }
            return result
        default:
            let v = evaluate(node.a, state)
            return v == 0 ? 0 : 3 - v
        }
    }

    // MARK: - Compilation

    // One function: its nested helpers share the leaf, vocabulary and phrase tables being built,
    // which would otherwise travel through every call as inout parameters.
    private mutating func compile() {
        var leaves: [Query: Int32] = [:]
        var vocab: [String: Int32] = [:]
        var phrases: [(leaf: Int32, ids: [Int32])] = []
        var termOf: [Int32: Int32] = [:]  // vocab id → term leaf

        func vocabID(_ token: String) -> Int32 {
            if let id = vocab[token] { return id }
            let id = Int32(vocab.count)
            vocab[token] = id
            vocabBytes.append(contentsOf: token.utf8)
            vocabStart.append(Int32(vocabBytes.count))
            return id
        }

        func leaf(_ q: Query) -> Int32 {
            if let id = leaves[q] { return id }
            let id = Int32(leaves.count)
            leaves[q] = id
            switch q {
            case .term(let t):
                termOf[vocabID(t)] = id
                textLeafCount += 1
            case .phrase(let tokens):
                phrases.append((id, tokens.map(vocabID)))
                textLeafCount += 1
            case .prefix(let p):
                prefixBytes.append(contentsOf: p.utf8)
                prefixStart.append(Int32(prefixBytes.count))
                prefixLeaf.append(id)
                textLeafCount += 1
            case .field(let f, let value):
                fieldLeaves.append((id, f, value))
            case .doc(let predicate):
                docPredicates.append(predicate)
                docLeaves.append(id)
            case .lsns(let set):
                lsnLeaves.append((id, set))
            default:
                preconditionFailure("not a leaf: \(q)")
            }
            return id
        }

        func node(_ q: Query) -> Int32 {
            switch q {
            case .all:
                nodes.append(Node(kind: 0, a: 0, b: 0))
            case .term, .prefix, .phrase, .field, .doc, .lsns:
                let l = leaf(q)
                nodes.append(Node(kind: 1, a: l, b: 0))
            case .not(let operand):
                let c = node(operand)
                nodes.append(Node(kind: 4, a: c, b: 0))
            case .and(let operands), .or(let operands):
                let ids = operands.map(node)
                let start = Int32(children.count)
                children.append(contentsOf: ids)
                let isAnd: Bool
                if case .and = q { isAnd = true } else { isAnd = false }
                nodes.append(Node(kind: isAnd ? 2 : 3, a: start, b: Int32(children.count)))
            }
            return Int32(nodes.count - 1)
        }

        root = node(query)
        leafCount = leaves.count
        document = DocumentFields(docPredicates)

        // Vocabulary hash table, at most half full.
        let words = vocab.count
        termLeaf = Array(repeating: -1, count: words)
        for (id, l) in termOf { termLeaf[Int(id)] = l }
        if words > 0 {
            var size = 8
            while size < words * 2 { size *= 2 }
            table = Array(repeating: -1, count: size)
            tableMask = size - 1
            for id in 0..<words {
                let start = Int(vocabStart[id])
                let end = Int(vocabStart[id + 1])
                var slot = QueryMatcher.hash(end - start, vocabBytes[start], vocabBytes[end - 1]) & tableMask
                while table[slot] >= 0 { slot = (slot + 1) & tableMask }
                table[slot] = Int32(id)
            }
        }

        // Phrases, grouped by their last token.
        var byEnd: [[Int32]] = Array(repeating: [], count: words)
        phraseStart = Array(repeating: 0, count: leafCount)
        phraseEnd = Array(repeating: 0, count: leafCount)
        for p in phrases {
            phraseStart[Int(p.leaf)] = Int32(phraseTokens.count)
            phraseTokens.append(contentsOf: p.ids)
            phraseEnd[Int(p.leaf)] = Int32(phraseTokens.count)
            byEnd[Int(p.ids.last!)].append(p.leaf)
            maxPhrase = max(maxPhrase, p.ids.count)
        }
        phraseEndStart = [0]
        for list in byEnd {
            phraseEnds.append(contentsOf: list)
            phraseEndStart.append(Int32(phraseEnds.count))
        }
    }
}
