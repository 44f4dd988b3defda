import Testing

@testable import LogStore
import TestSupport

@Suite("QueryMatcher")
struct QueryMatcherTests {
    let stream = StreamKey(index: "fluentbit-job_log", workflow: "wf-1", job: "reana-run-job-a02532f6")

    func match(_ query: String, _ message: String, stream: StreamKey? = nil) throws -> Bool {
        let matcher = QueryMatcher(try QueryParser.parse(query))
        let key = stream ?? self.stream
        let viaString = matcher.matches(message: message, stream: key)
        let viaBytes = Array(message.utf8).withUnsafeBytes { matcher.matches(message: $0, stream: key) }
        #expect(viaString == viaBytes)
        return viaString
    }

    @Test func all() throws {
        #expect(try match("", "anything"))
        #expect(try match("*", ""))
        #expect(try !match("NOT *", "anything"))
    }

    @Test func term() throws {
        #expect(try match("error", "2024 ERROR: disk full"))
        #expect(try match("Error", "an error occurred"))
        #expect(try !match("error", "errors occurred"))
        #expect(try !match("error", "noerror"))
        #expect(try match("oomkilled", "Reason: OOMKilled"))
        #expect(try match("café", "CAFÉ au lait"))
        #expect(try match("9200", "connect to 10.0.0.1:9200"))
        #expect(try !match("error", ""))
        let long = String(repeating: "z", count: 80)
        #expect(try match(long, "blob " + String(repeating: "Z", count: 70)))
    }

    @Test func prefix() throws {
        #expect(try match("err*", "ERRNO 5"))
        #expect(try match("err*", "x error"))
        #expect(try match("err*", "err"))
        #expect(try !match("err*", "er"))
        #expect(try !match("err*", "terror"))
        #expect(try match("caf*", "Café"))
        #expect(try match("reana-run*", "reana running"))
        #expect(try !match("reana-run*", "reana walking"))
    }

    @Test func phrase() throws {
        #expect(try match("\"connection refused\"", "Error: Connection refused (111)"))
        #expect(try match("\"connection refused\"", "connection-refused"))
        #expect(try !match("\"connection refused\"", "refused connection"))
        #expect(try !match("\"connection refused\"", "connection was refused"))
        #expect(try match("reana-run-job", "pod reana.run.job.x started"))
        #expect(try match("\"a a b\"", "a a a b"))
        #expect(try !match("\"a a b\"", "a b a b"))
        #expect(try match("\"b a b\"", "a b a b"))
        #expect(try match("10.0.0.1:9200", "GET http://10.0.0.1:9200/_bulk"))
        #expect(try !match("10.0.0.1:9200", "GET http://10.0.0.2:9200/_bulk"))
    }

    @Test func fields() throws {
        #expect(try match("job:reana-run-job-a02532f6", "whatever"))
        #expect(try !match("job:reana-run-job", "whatever"))
        #expect(try !match("job:REANA-RUN-JOB-A02532F6", "whatever"))
        #expect(try match("workflow:wf-1", ""))
        #expect(try match("index:fluentbit-job_log", ""))
        #expect(try !match("workflow:\"\"", ""))
        let noWorkflow = StreamKey(index: "i", workflow: "", job: "j")
        #expect(try match("workflow:\"\"", "", stream: noWorkflow))
        #expect(try match("job:\"a b\"", "", stream: StreamKey(index: "i", workflow: "", job: "a b")))
    }

    @Test func booleans() throws {
        #expect(try match("error disk", "ERROR: disk full"))
        #expect(try !match("error network", "ERROR: disk full"))
        #expect(try match("error OR network", "ERROR: disk full"))
        #expect(try !match("warn OR network", "ERROR: disk full"))
        #expect(try match("error -network", "ERROR: disk full"))
        #expect(try !match("error -disk", "ERROR: disk full"))
        #expect(try match("-warn", "ERROR: disk full"))
        #expect(try !match("-error -disk", "ERROR: disk full"))
        #expect(try match("-warn -info", "ERROR: disk full"))
        #expect(try match("(warn OR error) full", "ERROR: disk full"))
        #expect(try match("job:other OR disk", "ERROR: disk full"))
        #expect(try !match("job:other disk", "ERROR: disk full"))
        #expect(try match("workflow:wf-1 -\"disk empty\"", "ERROR: disk full"))
    }

    @Test func streamOnlyDecisions() throws {
        let other = StreamKey(index: "i", workflow: "w", job: "other")
        let fieldsOnly = QueryMatcher(try QueryParser.parse("job:other OR workflow:w"))
        #expect(!fieldsOnly.needsMessage)
        #expect(fieldsOnly.matches(stream: other) == true)
        #expect(fieldsOnly.matches(stream: stream) == false)

        let mixed = QueryMatcher(try QueryParser.parse("job:other error"))
        #expect(mixed.needsMessage)
        #expect(mixed.matches(stream: stream) == false)  // decided without the message
        #expect(mixed.matches(stream: other) == nil)
        #expect(mixed.matches(message: "an error", stream: other))
        #expect(!mixed.matches(message: "fine", stream: other))

        #expect(QueryMatcher(.all).matches(stream: stream) == true)
        #expect(QueryMatcher(.not(.all)).matches(stream: stream) == false)
    }

    @Test func unnormalizedInput() {
        // The matcher normalizes what it is given, so hand-built queries behave like parsed ones.
        let m = QueryMatcher(.and([.term("Connection Refused"), .or([]), .and([])]))
        #expect(!m.matches(message: "connection refused", stream: stream))
        let n = QueryMatcher(.and([.term("Connection Refused"), .and([])]))
        #expect(n.matches(message: "connection refused", stream: stream))
        #expect(!n.matches(message: "refused connection", stream: stream))
        #expect(QueryMatcher(.prefix("ERR")).matches(message: "errno", stream: stream))
    }

    @Test func invalidUTF8Message() {
        let m = QueryMatcher(.phrase(["a", "b"]))
        let bytes: [UInt8] = [0x41, 0xFF, 0x42, 0xC3]
        #expect(bytes.withUnsafeBytes { m.matches(message: $0, stream: stream) })
    }

    @Test func manyPredicates() {
        // More tokens than the smallest hash table holds, plus long phrases.
        let words = (0..<40).map { "w\($0)" }
        let q = Query.and([.or(words.map { .term($0) }), .phrase(Array(words[3..<9]))])
        let m = QueryMatcher(q)
        #expect(m.matches(message: words.joined(separator: " "), stream: stream))
        #expect(!m.matches(message: words.reversed().joined(separator: " "), stream: stream))
        #expect(!m.matches(message: "w39 w38", stream: stream))
    }

    /// The prefilter looks for the bytes of every required token, any ASCII case, anywhere in
    /// the line, eight bytes at a time; a line it rejects must be one the full scan rejects too.
    @Test func prefilterRejectsOnlyLinesThatCannotMatch() throws {
        func has(_ line: [UInt8], _ token: String) -> Bool {
            line.withUnsafeBytes { l in Array(token.utf8).withUnsafeBufferPointer { QueryMatcher.containsFolded(l, $0) } }
        }
        func naiveHas(_ line: [UInt8], _ token: String) -> Bool {
            let t = Array(token.utf8)
            guard t.count <= line.count else { return false }
            return (0...(line.count - t.count)).contains { i in (0..<t.count).allSatisfy { line[i + $0] | 0x20 == t[$0] } }
        }
        #expect(has(Array("Connection closed by 10.0.0.1".utf8), "connection"))
        #expect(has(Array("xxCONNECTIONxx".utf8), "connection"))
        #expect(has(Array("a long line of text before the last word: ClOsEd".utf8), "closed"))
        #expect(!has(Array("connectio n closd".utf8), "connection") && !has(Array("connectio n closd".utf8), "closed"))
        #expect(!has([], "abc") && !has(Array("ab".utf8), "abc"))
        var rng = SeededRandom(seed: 5)
        let alphabet = Array("abcABC019 -_:.\t\u{1}\u{11}".utf8)
        let tokens = ["abc", "cab", "ca1", "09", "aaa", "abcabcabc0"]
        #expect(has(Array("cccccccccccccccccccccccconnectiom connection".utf8), "connection"))
        #expect(!has(Array("cccccccccccccccccccccccconnectiom connectio".utf8), "connection"))
        #expect(has(Array("0123456789abcdefconnection".utf8), "connection"))  // the last start position
        var found = 0
        for _ in 0..<4000 {
            let line = (0..<Int.random(in: 0...90, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            for token in tokens {
                let expected = naiveHas(line, token)
                #expect(has(line, token) == expected, "\(line) \(token)")
                if expected { found += 1 }
            }
        }
        #expect(found > 300, "\(found)")
        // The matcher answers the same with and without it, on lines built to contain the
        // tokens' bytes inside other words, in other cases, and next to control characters.
        let words = ["Connection", "CLOSED", "closed", "connections", "disconnection", "closedown", "by", "10", "\u{11}0", "Ab", "c"]
        let separators = [" ", "", "-", "\t", ".", "é"]
        let queries = ["\"connection closed\"", "connection closed", "closed -by", "closed OR by", "\"ab c\"", "10 closed", "connection*",
                       "connections closedown disconnection", "\"connection closed\" OR \"closed connection\""]
        var matched = 0
        for text in queries {
            let query = try QueryParser.parse(text)
            let (fast, full) = (QueryMatcher(query), QueryMatcher(query, prefilter: false))
            for _ in 0..<400 {
                var message = ""
                for k in 0..<Int.random(in: 0...14, using: &rng) {
                    if k > 0 { message += separators.randomElement(using: &rng)! }
                    message += words.randomElement(using: &rng)!
                }
                let expected = full.matches(message: message, stream: stream)
                #expect(fast.matches(message: message, stream: stream) == expected, "\(text) on \(message)")
                #expect(expected == naiveMatch(query, message, stream), "\(text) on \(message)")
                if expected { matched += 1 }
            }
        }
        #expect(matched > 300)
    }

    // MARK: - Randomized comparison with a naive reference

    static let messageWords = [
        "error", "Error", "ERROR", "errors", "warn", "café", "CAFÉ", "日本", "connection", "Refused", "reana", "run",
        "job", "a02532f6", "10", "0", "1", "x", "y", "or", "ca", String(repeating: "L", count: 70),
    ]
    static let separators = [" ", " ", " ", "-", ": ", ".", "\n", "_", "/", "€"]
    static let tokens = [
        "error", "warn", "café", "日本", "connection", "refused", "reana", "run", "job", "a02532f6", "x", "y", "or",
        "errors", "10", "0", "nothere", String(repeating: "l", count: 64),
    ]
    static let prefixes = ["err", "ca", "re", "a0", "日", "x", "errorsx", "lllll", "e"]
    static let streams = [
        StreamKey(index: "i1", workflow: "w1", job: "j1"),
        StreamKey(index: "i1", workflow: "", job: "j2"),
        StreamKey(index: "i2", workflow: "w2", job: "j 3"),
    ]

    static func randomMessage(_ rng: inout SeededRandom) -> String {
        var text = ""
        for k in 0..<Int.random(in: 0...12, using: &rng) {
            if k > 0 { text += separators.randomElement(using: &rng)! }
            text += messageWords.randomElement(using: &rng)!
        }
        return text
    }

    static func randomQuery(_ rng: inout SeededRandom, depth: Int) -> Query {
        if depth == 0 || Int.random(in: 0..<3, using: &rng) == 0 {
            switch Int.random(in: 0..<12, using: &rng) {
            case 0...3: return .term(tokens.randomElement(using: &rng)!)
            case 4, 5: return .prefix(prefixes.randomElement(using: &rng)!)
            case 6...8:
                return .phrase((0..<Int.random(in: 2...3, using: &rng)).map { _ in tokens.randomElement(using: &rng)! })
            case 9:
                let fields: [(QueryField, String)] = [
                    (.job, "j1"), (.job, "j 3"), (.workflow, ""), (.workflow, "w2"), (.index, "i1"),
                ]
                let (f, v) = fields.randomElement(using: &rng)!
                return .field(f, v)
            case 10: return .all
            default: return .not(.all)
            }
        }
        let operands = (0..<Int.random(in: 0...4, using: &rng)).map { _ in randomQuery(&rng, depth: depth - 1) }
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: return .and(operands)
        case 1: return .or(operands)
        default: return .not(randomQuery(&rng, depth: depth - 1))
        }
    }

    /// Phrases in random queries are usually absent from random messages; half of the time,
    /// take one from the message itself.
    static func phraseFromMessage(_ message: String, _ rng: inout SeededRandom) -> Query? {
        let t = naiveTokens(message)
        guard t.count >= 2 else { return nil }
        let n = Int.random(in: 2...min(4, t.count), using: &rng)
        let start = Int.random(in: 0...(t.count - n), using: &rng)
        return .phrase(Array(t[start..<start + n]))
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomQueriesMatchReference(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        var (checked, matched) = (0, 0)
        for _ in 0..<300 {
            let sample = Self.randomMessage(&rng)
            var query = Self.randomQuery(&rng, depth: 3)
            if let p = Self.phraseFromMessage(sample, &rng), Bool.random(using: &rng) {
                query = Bool.random(using: &rng) ? .or([query, p]) : .and([query, p])
            }
            let matcher = QueryMatcher(query)
            for _ in 0..<20 {
                let message = Bool.random(using: &rng) ? sample : Self.randomMessage(&rng)
                let stream = Self.streams.randomElement(using: &rng)!
                let expected = naiveMatch(query, message, stream)
                let actual = matcher.matches(message: message, stream: stream)
                #expect(actual == expected, "query \(query) message \(message) stream \(stream)")
                checked += 1
                if expected { matched += 1 }
                if let decided = matcher.matches(stream: stream) {
                    #expect(decided == expected, "stream-only: \(query) \(stream)")
                }
            }
        }
        // Both outcomes are well represented, so the comparison means something.
        #expect(matched > checked / 5 && matched < checked * 4 / 5, "\(matched) of \(checked)")
    }

    @Test func randomParsedQueriesMatchReference() throws {
        var rng = SeededRandom(seed: 17)
        var (checked, matched) = (0, 0)
        for _ in 0..<500 {
            let text = randomQueryText(&rng, depth: 3)
            let query = try QueryParser.parse(text)
            let matcher = QueryMatcher(query)
            for _ in 0..<10 {
                let message = Self.randomMessage(&rng)
                let stream = Self.streams.randomElement(using: &rng)!
                let expected = naiveMatch(query, message, stream)
                #expect(
                    matcher.matches(message: message, stream: stream) == expected,
                    "query \(text) → \(query) message \(message)")
                checked += 1
                if expected { matched += 1 }
            }
        }
        #expect(matched > checked / 5 && matched < checked * 4 / 5, "\(matched) of \(checked)")
    }
}

/// Reference semantics on Swift strings; expects terms, prefixes and phrase tokens already
/// lowercased tokens.
func naiveMatch(_ query: Query, _ message: String, _ stream: StreamKey) -> Bool {
    let tokens = naiveTokens(message)
    func eval(_ q: Query) -> Bool {
        switch q {
        case .all: return true
        case .term(let t): return tokens.contains(t)
        case .prefix(let p): return tokens.contains { $0.utf8.starts(with: p.utf8) }
        case .phrase(let p):
            guard p.count <= tokens.count else { return false }
            return (0...(tokens.count - p.count)).contains { Array(tokens[$0..<$0 + p.count]) == p }
        case .field(.workflow, let v): return stream.workflow == v
        case .field(.job, let v): return stream.job == v
        case .field(.index, let v): return stream.index == v
        case .doc, .lsns: return false
        case .and(let qs): return qs.allSatisfy(eval)
        case .or(let qs): return qs.contains(where: eval)
        case .not(let x): return !eval(x)
        }
    }
    return eval(query)
}
