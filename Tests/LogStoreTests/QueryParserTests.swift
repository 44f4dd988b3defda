import Testing

@testable import LogStore
import TestSupport

@Suite("QueryParser")
struct QueryParserTests {
    func parse(_ text: String) throws -> Query { try QueryParser.parse(text) }

    @Test func emptyAndStar() throws {
        #expect(try parse("") == .all)
        #expect(try parse("   \t ") == .all)
        #expect(try parse("*") == .all)
        #expect(try parse("* error") == .term("error"))
        #expect(try parse("error OR *") == .all)
        #expect(try parse("NOT *") == .not(.all))
        #expect(try parse("-*") == .not(.all))
        #expect(try parse("*").isMatchAll)
        #expect(try !parse("x").isMatchAll)
    }

    @Test func terms() throws {
        #expect(try parse("error") == .term("error"))
        #expect(try parse("OOMKilled") == .term("oomkilled"))
        #expect(try parse("Café") == .term("café"))
        // A word that splits into several tokens is a phrase.
        #expect(try parse("reana-run-job-a02532f6") == .phrase(["reana", "run", "job", "a02532f6"]))
        #expect(try parse("10.0.0.1:9200") == .phrase(["10", "0", "0", "1", "9200"]))
        // Lowercase keywords are ordinary words.
        #expect(try parse("or and not") == .and([.term("or"), .term("and"), .term("not")]))
        #expect(try parse("Or") == .term("or"))
        // Words without letters or digits constrain nothing.
        #expect(try parse("error -- failed") == .and([.term("error"), .term("failed")]))
        #expect(try parse("error -> failed") == .and([.term("error"), .term("failed")]))
        #expect(try parse("...") == .all)
        #expect(try parse("a - b") == .and([.term("a"), .term("b")]))
        // Long words are cut like indexed tokens.
        let long = String(repeating: "x", count: 100)
        #expect(try parse(long) == .term(String(repeating: "x", count: 64)))
    }

    @Test func prefixes() throws {
        #expect(try parse("err*") == .prefix("err"))
        #expect(try parse("ERR*") == .prefix("err"))
        #expect(try parse("a*") == .prefix("a"))
        #expect(try parse("reana-run*") == .and([.term("reana"), .prefix("run")]))
        #expect(try parse("reana-run-job-*") == .phrase(["reana", "run", "job"]))
        #expect(try parse("-err*") == .not(.prefix("err")))
        // A separator right before '*' completes the word: `a.*` is the term a.
        #expect(try parse("a.*") == .term("a"))
    }

    @Test func phrases() throws {
        #expect(try parse("\"connection refused\"") == .phrase(["connection", "refused"]))
        #expect(try parse("\"Connection   REFUSED!\"") == .phrase(["connection", "refused"]))
        #expect(try parse("\"single\"") == .term("single"))
        #expect(try parse("\"\"") == .all)
        #expect(try parse("\"OR AND NOT\"") == .phrase(["or", "and", "not"]))
        #expect(try parse("\"say \\\"hi\\\" \\\\ there\"") == .phrase(["say", "hi", "there"]))
        #expect(try parse("\"a(b)c\"") == .phrase(["a", "b", "c"]))
        #expect(try parse("x\"y z\"") == .and([.term("x"), .phrase(["y", "z"])]))
        #expect(try parse("\"job:x\"") == .phrase(["job", "x"]))
        #expect(try parse("\"fo*o\"") == .phrase(["fo", "o"]))
    }

    @Test func fields() throws {
        #expect(try parse("workflow:abc-123") == .field(.workflow, "abc-123"))
        #expect(try parse("job:reana-run-job-A1") == .field(.job, "reana-run-job-A1"))
        #expect(try parse("index:fluentbit-job_log") == .field(.index, "fluentbit-job_log"))
        #expect(try parse("job:\"a b\"") == .field(.job, "a b"))
        #expect(try parse("job:\"\"") == .field(.job, ""))
        #expect(try parse("job:\"x\\\"y\"") == .field(.job, "x\"y"))
        #expect(try parse("JOB:x") == .field(.job, "x"))
        #expect(try parse("index:a:b") == .field(.index, "a:b"))
        #expect(try parse("job:OR") == .field(.job, "OR"))
        #expect(try parse("(job:x)") == .field(.job, "x"))
        #expect(try parse("-job:x") == .not(.field(.job, "x")))
        #expect(try parse("job:x error") == .and([.field(.job, "x"), .term("error")]))
    }

    @Test func operators() throws {
        let a = Query.term("a")
        let b = Query.term("b")
        let c = Query.term("c")
        #expect(try parse("a b") == .and([a, b]))
        #expect(try parse("a AND b") == .and([a, b]))
        #expect(try parse("a OR b") == .or([a, b]))
        #expect(try parse("NOT a") == .not(a))
        #expect(try parse("-a") == .not(a))
        #expect(try parse("a -b") == .and([a, .not(b)]))
        #expect(try parse("a NOT b") == .and([a, .not(b)]))
        #expect(try parse("a AND NOT b") == .and([a, .not(b)]))
        #expect(try parse("-(a b)") == .not(.and([a, b])))
        #expect(try parse("NOT (a OR b)") == .not(.or([a, b])))
        #expect(try parse("-\"a b\"") == .not(.phrase(["a", "b"])))
        #expect(try parse("(a)") == a)
        #expect(try parse("((a))") == a)
        #expect(try parse("a(b)c") == .and([a, b, c]))
    }

    @Test func precedence() throws {
        let (a, b, c, d) = (Query.term("a"), Query.term("b"), Query.term("c"), Query.term("d"))
        // AND binds tighter than OR.
        #expect(try parse("a b OR c") == .or([.and([a, b]), c]))
        #expect(try parse("a OR b c") == .or([a, .and([b, c])]))
        #expect(try parse("a AND b OR c AND d") == .or([.and([a, b]), .and([c, d])]))
        // NOT binds tighter than AND and OR.
        #expect(try parse("NOT a b") == .and([.not(a), b]))
        #expect(try parse("NOT a OR b") == .or([.not(a), b]))
        #expect(try parse("-a OR -b") == .or([.not(a), .not(b)]))
        // Parentheses override.
        #expect(try parse("a (b OR c)") == .and([a, .or([b, c])]))
        #expect(try parse("(a OR b) (c OR d)") == .and([.or([a, b]), .or([c, d])]))
    }

    @Test func normalization() throws {
        let (a, b, c, d) = (Query.term("a"), Query.term("b"), Query.term("c"), Query.term("d"))
        #expect(try parse("a (b (c d))") == .and([a, b, c, d]))
        #expect(try parse("a OR (b OR (c OR d))") == .or([a, b, c, d]))
        #expect(try parse("NOT NOT a") == a)
        #expect(try parse("--a") == a)
        #expect(try parse("-(-a)") == a)
        #expect(try parse("a a") == a)
        #expect(try parse("a OR a OR b") == .or([a, b]))
        #expect(try parse("A a") == a)
        // A query of only negations: every line except those.
        #expect(try parse("-a -b") == .and([.not(a), .not(b)]))
        #expect(try parse("NOT a") == .not(a))
        // Nothing matches.
        #expect(try parse("a -*") == .not(.all))
        #expect(try parse("-* OR a") == a)
        // Token-less operands vanish entirely, even negated.
        #expect(try parse("a NOT ...") == a)
        #expect(try parse("(...) OR a") == a)
        #expect(try parse("reana-run* job") == .and([.term("reana"), .prefix("run"), .term("job")]))
    }

    @Test func descriptionIsCanonical() throws {
        let cases: [(String, String)] = [
            ("", "*"),
            ("Error", "error"),
            ("a b OR c", "(a b) OR c"),
            ("a AND (b OR c)", "a (b OR c)"),
            ("NOT a", "-a"),
            ("-(a b)", "-(a b)"),
            ("\"Connection Refused\"", "\"connection refused\""),
            ("ERR*", "err*"),
            ("job:\"a b\"", "job:\"a b\""),
            ("workflow:w-1", "workflow:w-1"),
            ("job:\"\"", "job:\"\""),
            ("job:\"x*\"", "job:\"x*\""),
            ("NOT *", "-*"),
            ("-(a OR b) c", "-(a OR b) c"),
            ("Error AND (Disk OR net*)", "error (disk OR net*)"),
            ("NOT (a b) NOT NOT c", "-(a b) c"),
            ("\"Connection  Refused!\"", "\"connection refused\""),
            ("JOB:\"my job\"", "job:\"my job\""),
        ]
        for (input, canonical) in cases {
            let q = try parse(input)
            #expect(q.description == canonical, "\(input)")
            #expect(try parse(q.description) == q, "\(input)")
        }
    }

    @Test(arguments: [
        ("(foo", 0, "unbalanced parentheses: '(' is never closed"),
        ("a (b (c) d", 2, "unbalanced parentheses: '(' is never closed"),
        ("foo)", 3, "unbalanced parentheses: ')' without a matching '('"),
        ("a ) b", 2, "unbalanced parentheses: ')' without a matching '('"),
        (")", 0, "unbalanced parentheses: ')' without a matching '('"),
        ("\"foo", 0, "unterminated quote: missing closing '\"'"),
        ("a \"b \\\"", 2, "unterminated quote: missing closing '\"'"),
        ("job:\"abc", 4, "unterminated quote: missing closing '\"'"),
        ("foo OR", 4, "'OR' needs a search term after it"),
        ("foo AND", 4, "'AND' needs a search term after it"),
        ("foo NOT", 4, "'NOT' needs a search term after it"),
        ("NOT", 0, "'NOT' needs a search term after it"),
        ("OR foo", 0, "'OR' needs a search term before it"),
        ("(AND foo)", 1, "'AND' needs a search term before it"),
        ("foo AND OR bar", 8, "expected a search term after 'AND' but found 'OR'"),
        ("a (b OR ) c", 8, "expected a search term after 'OR' but found ')'"),
        ("(a NOT)", 6, "expected a search term after 'NOT' but found ')'"),
        ("-OR", 1, "expected a search term after '-' but found 'OR'"),
        ("()", 0, "empty parentheses"),
        ("a (  ) b", 2, "empty parentheses"),
        ("foo:", 0, "field 'foo' needs a value: foo:VALUE or foo:\"VALUE\""),
        ("x f:[a b]", 4, "a range is [LOW TO HIGH] (or {…} to leave the ends out)"),
        ("fo*o", 2, "'*' is only allowed at the end of a word (prefix search: word*)"),
        ("**", 0, "'*' is only allowed at the end of a word (prefix search: word*)"),
        ("a*b*", 1, "'*' is only allowed at the end of a word (prefix search: word*)"),
        (".*", 0, "a prefix search needs a letter or digit before '*'"),
        ("job:", 0, "field 'job' needs a value: job:VALUE or job:\"VALUE\""),
        ("x workflow: y", 2, "field 'workflow' needs a value: workflow:VALUE or workflow:\"VALUE\""),
        ("job:abc*", 7, "wildcards are not supported in field values (job:… is an exact match)"),
        ("日本 (x", 3, "unbalanced parentheses: '(' is never closed"),
        ("é\u{301}é OR", 3, "'OR' needs a search term after it"),
    ])
    func errors(input: String, position: Int, message: String) {
        #expect(throws: QueryParseError(position: position, message: message)) {
            try QueryParser.parse(input)
        }
    }

    @Test func errorDescription() {
        let e = QueryParseError(position: 3, message: "empty parentheses")
        #expect(e.description == "query error at position 3: empty parentheses")
    }

    /// Random queries from a small grammar: parsing the canonical form gives the same query, and
    /// normalizing is idempotent.
    @Test func randomRoundTrip() throws {
        var rng = SeededRandom(seed: 99)
        for _ in 0..<1000 {
            let text = randomQueryText(&rng, depth: 3)
            let q = try QueryParser.parse(text)
            #expect(q.normalized() == q, "\(text)")
            #expect(try QueryParser.parse(q.description) == q, "\(text) → \(q)")
        }
    }
}

/// A random, valid query string over a small vocabulary (shared with the matcher tests).
func randomQueryText(_ rng: inout SeededRandom, depth: Int) -> String {
    let words = ["error", "Error", "warn", "café", "日本", "job", "or", "reana-run", "a02532f6", "10.0.0.1", "x"]
    let prefixes = ["err*", "ca*", "re*", "a0*", "日*", "reana-r*"]
    let phrases = ["\"connection refused\"", "\"reana run\"", "\"error error\"", "\"x y\"", "\"run job\""]
    let fields = ["job:j1", "job:j2", "workflow:w1", "index:i1", "job:\"j 3\"", "workflow:\"\""]
    func atom(_ rng: inout SeededRandom) -> String {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0...3: return words.randomElement(using: &rng)!
        case 4: return prefixes.randomElement(using: &rng)!
        case 5, 6: return phrases.randomElement(using: &rng)!
        case 7: return fields.randomElement(using: &rng)!
        case 8: return "*"
        default: return "--"
        }
    }
    func expr(_ rng: inout SeededRandom, _ depth: Int) -> String {
        if depth == 0 || Int.random(in: 0..<3, using: &rng) == 0 { return atom(&rng) }
        let n = Int.random(in: 1...3, using: &rng)
        var parts: [String] = []
        for k in 0..<n {
            var part = expr(&rng, depth - 1)
            if Int.random(in: 0..<4, using: &rng) == 0 { part = "(\(part))" }
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: part = "NOT " + part
            case 1: part = "-(\(part))"
            default: break
            }
            if k > 0 {
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: parts.append("OR")
                case 1: parts.append("AND")
                default: break
                }
            }
            parts.append(part)
        }
        return parts.joined(separator: " ")
    }
    return expr(&rng, depth)
}

@Suite("QueryParser limits")
struct QueryParserLimitTests {
    @Test func nestingIsCappedAtMaxDepth() throws {
        let hundred = String(repeating: "(", count: 100) + "x" + String(repeating: ")", count: 100)
        #expect(try QueryParser.parse(hundred) == .term("x"))
        for deep in [String(repeating: "(", count: 50_000) + "x", String(repeating: "-", count: 100_000) + "x",
            String(repeating: "NOT ", count: 100_000) + "x"]
        {
            #expect {
                try QueryParser.parse(deep)
            } throws: { error in
                (error as? QueryParseError)?.message.contains("nests too deep: at most 100 levels") == true
            }
        }
    }

    @Test func clausesAreCappedAtTheLimit() throws {
        let allowed = (0..<Limits.maxQueryClauses).map { "w\($0)" }.joined(separator: " OR ")
        guard case .or(let operands) = try QueryParser.parse(allowed) else { throw TestFailure("not an OR") }
        #expect(operands.count == Limits.maxQueryClauses)
        let over = allowed + " OR extra"
        #expect {
            try QueryParser.parse(over)
        } throws: { error in
            (error as? QueryParseError)?.message.contains("too many clauses: at most 1024") == true
        }
    }

    /// A quote or parenthesis followed by a combining mark keeps its meaning (as one grapheme
    /// cluster it was read as part of a word).
    @Test func combiningMarksAfterSyntax() throws {
        #expect(try QueryParser.parse("\"\u{0595}ab cd\"") == .phrase(["\u{0595}ab", "cd"]).normalized())
        #expect(try QueryParser.parse("(\u{0301}x)") == QueryParser.parse("\u{0301}x"))
        let printed = try QueryParser.parse("t \"\u{0595} ab\"")
        #expect(try QueryParser.parse(printed.description) == printed)
        // A field pattern's `?` followed by an escaped combining mark stays a wildcard.
        let pattern = try QueryParser.parse("j:?\\\u{061A}")
        #expect(try QueryParser.parse(pattern.description) == pattern)
        // A quoted value's `?` with a combining mark is printed escaped.
        let quoted = try QueryParser.parse("f:\"w?\u{061A}\" index:x")
        #expect(try QueryParser.parse(quoted.description) == quoted)
    }

    /// A prepend mark (U+0602) forms one grapheme cluster with the character after it, even a
    /// space or a parenthesis: the parser still reads that character as syntax, and every text
    /// form reads back to the same query.
    @Test func prependMarksBeforeSyntax() throws {
        let bound = try QueryParser.parse("u:>\u{0602}")
        #expect(bound.description == "u:{\u{0602} TO *]")
        #expect(try QueryParser.parse(bound.description) == bound)
        let and = try QueryParser.parse("u:>\u{0602} AND x")
        #expect(and == .and([bound, .term("x")]).normalized())
        let group = try QueryParser.parse("(a\u{0602}) b")
        #expect(group == .and([.term("a\u{0602}"), .term("b")]).normalized())
        // A bound holding a bracket with a combining mark is refused like a bare bracket.
        #expect(throws: QueryParseError.self) { try QueryParser.parse("p:>T}\u{061A}8") }
        for text in ["f:\u{0602}\\(", "f:\"a\u{0602} (b\"", "f:[\u{0602} TO \u{0602}]", "f:\u{0602}\\?x*", "g:\u{0602}\\\u{0602}\\\"z"] {
            let query = try QueryParser.parse(text)
            #expect(try QueryParser.parse(query.description) == query, "\(text) → \(query.description)")
        }
    }

    /// The input FuzzQuery found marks after a space with (its printed form read back as a phrase).
    static let fuzzedMarksAfterSpace: [UInt8] = [
        0x41, 0x5f, 0x6c, 0x2f, 0xd8, 0x9a, 0x9b, 0xff, 0x9c, 0x64, 0x23, 0x3b, 0x20, 0xd8, 0x3f, 0x9a,
        0x2d, 0xd8, 0x9a, 0x62, 0x5f, 0x2d, 0xd8, 0x9a, 0x62, 0x5f, 0x2d, 0xd8, 0x9a, 0x62, 0x5f, 0x6c,
        0x2f, 0x2d, 0xd8, 0x9a, 0x62, 0x3a, 0x2e, 0xfc, 0x2d, 0xd8, 0x9a, 0x62, 0x5f, 0x6c, 0x2f, 0x2d,
        0xd8, 0x9a, 0x62, 0x3a, 0x2e, 0xfc, 0xff, 0xff, 0x9c, 0x64, 0xe4, 0x2a, 0x20, 0x0d, 0x0a, 0xd8,
        0x9a, 0x2d, 0xd8, 0x9a, 0x62, 0x5f, 0x2d, 0xd8, 0x9a, 0x62, 0x5f, 0x2d, 0xd8, 0x9a, 0x62, 0x5f,
        0x6c, 0x2f, 0xff, 0xff, 0x9c, 0x64, 0xe4, 0x2a, 0x20, 0x0d, 0x0a, 0xd8, 0x9a, 0xcd, 0x9b, 0x2d,
        0xd8, 0x9a, 0x62, 0x5f, 0x2d, 0xd8, 0x9a, 0x62, 0x5f, 0x2d, 0xd8, 0x9a, 0x62, 0x5f, 0x6c, 0x2f,
        0x2d, 0xd8, 0x9a, 0x62, 0x3a, 0x2d, 0x9a, 0x62, 0x74, 0x60, 0x00, 0x9a, 0x62, 0x5f, 0x6c, 0x25,
        0x2d, 0xd8, 0x9a, 0x62, 0x5f, 0x6c, 0x2e,
    ]

    /// A field name holding a backslash that carries a combining mark prints each scalar
    /// escaped, so it reads back as the same field; a range bound holding whitespace (a line
    /// break beside `TO`) is refused rather than printed as a different range.
    @Test func marksOnEscapesAndWhitespaceInBounds() throws {
        let name = "obi\u{061A}o\u{064C}" + String(repeating: "\\\\", count: 27) + "\\\u{030C}" + String(repeating: "\\\\", count: 39) + "\\p:-"
        let query = try QueryParser.parse(name)
        guard case .doc(let p) = query else { throw TestFailure("\(query) is not a field test") }
        #expect(p.field == "obi\u{061A}o\u{064C}" + String(repeating: "\\", count: 27) + "\u{030C}" + String(repeating: "\\", count: 39) + "p")
        #expect(try QueryParser.parse(query.description) == query, "\(query.description)")
        for text in ["a\\\u{030C}:x", "a\\\u{030C}\\\u{0301}b:x", "\u{0602}x\\\u{030C}:y"] {
            let q = try QueryParser.parse(text)
            #expect(try QueryParser.parse(q.description) == q, "\(text) → \(q.description)")
        }
        for text in ["e:[a TO\r TO }", "e:[a b TO c]", "e:[a TO b\tc]", "e:[a\u{2028}b TO c]"] {
            #expect(throws: QueryParseError.self, "\(text)") { try QueryParser.parse(text) }
        }
        #expect(try QueryParser.parse("e:[a  TO  b]") == QueryParser.parse("e:[a TO b]"))
        // Marks that start a field name read the same after a space (which they join as one
        // cluster) as after a line break (where they start their own): the printed form, which
        // separates with spaces, reads back as the same field test.
        for separator in ["\r\n", " ", "\n", "-", "("] {
            let text = "\"a\"" + separator + "\u{061A}\u{035B}-b_l/-b:-x" + (separator == "(" ? ")" : "")
            let q = try QueryParser.parse(text)
            #expect(try QueryParser.parse(q.description) == q, "\(text.debugDescription) → \(q.description.debugDescription)")
        }
        let spaced = try QueryParser.parse("\"a\" \u{061A}\u{035B}-b:x")
        guard case .and(let parts) = spaced, case .doc(let p) = parts.last else { throw TestFailure("\(spaced) has no field test") }
        #expect(p.field == "\u{061A}\u{035B}-b")
        // Marks escaped after a name's `@` or `_` join it as one cluster in the printed form,
        // which still reads as a field name starting with `@` or `_`; so does a `.` with marks.
        for text in ["@\\\u{05B0}\u{05B0}\u{059C}\u{059B}:t", "_\\\u{0301}:t", "a.\\\u{0301}b:t", "\\@\u{05B0}:t"] {
            let q = try QueryParser.parse(text)
            #expect(try QueryParser.parse(q.description) == q, "\(text.debugDescription) → \(q.description.debugDescription)")
        }
        let escapedMarks = try QueryParser.parse("@\\\u{05B0}\u{05B0}\u{059C}\u{059B}:t")
        guard case .doc(let marked) = escapedMarks else { throw TestFailure("\(escapedMarks) is not a field test") }
        #expect(marked.field == "@\u{05B0}\u{05B0}\u{059C}\u{059B}")
        let fuzzed = try QueryParser.parse(String(decoding: Self.fuzzedMarksAfterSpace, as: UTF8.self))
        #expect(try QueryParser.parse(fuzzed.description) == fuzzed)
        // A quoted value whose backslash follows a prepend mark (one cluster): escaped as a scalar.
        for text in ["index:\"a\u{0604}\\\\\" z", "index:\"\u{0604}\\\"\"", "\"x\u{0602}\\\\ y\"", "job:\"\u{0301}\\\\\u{0604}\\\\\""] {
            let q = try QueryParser.parse(text)
            #expect(try QueryParser.parse(q.description) == q, "\(text) → \(q.description)")
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
