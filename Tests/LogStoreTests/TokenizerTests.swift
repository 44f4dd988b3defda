import Testing

@testable import LogStore
import TestSupport

@Suite("Tokenizer")
struct TokenizerTests {
    @Test(arguments: [
        ("reana-run-job-a02532f6", ["reana", "run", "job", "a02532f6"]),
        ("OOMKilled", ["oomkilled"]),
        ("10.0.0.1:9200", ["10", "0", "0", "1", "9200"]),
        ("Café_ÉTÉ", ["café", "été"]),
        ("", []),
        ("   ", []),
        ("-_.:/\\ ,;!?()[]{}<>\"'`~@#$%^&*+=|\t\r\n", []),
        ("a", ["a"]),
        ("  Hello,   World!  ", ["hello", "world"]),
        ("ERROR: Connection refused (errno=111)", ["error", "connection", "refused", "errno", "111"]),
        ("2024-09-24T12:34:56.789Z", ["2024", "09", "24t12", "34", "56", "789z"]),
        ("/var/lib/data/file_0001.root", ["var", "lib", "data", "file", "0001", "root"]),
        ("日本語のログ", ["日本語のログ"]),
        ("Ошибка: ФАЙЛ не найден", ["ошибка", "файл", "не", "найден"]),
        ("ΣΟΦΊΑ σοφία", ["σοφία", "σοφία"]),
        ("emoji😀split🎉here", ["emoji", "split", "here"]),
        ("price€5", ["price", "5"]),
        ("Straße STRASSE", ["straße", "strasse"]),
        ("mixedÜmlautWORD", ["mixedümlautword"]),
        ("x²+y²", ["x²", "y²"]),
        ("٣٤ arabic-indic", ["٣٤", "arabic", "indic"]),
        ("nbsp\u{00A0}separated", ["nbsp", "separated"]),
        ("e\u{0301}t\u{0301}e\u{0301}", ["e\u{0301}t\u{0301}e\u{0301}"]),
        ("İstanbul", ["i\u{0307}stanbul"]),
    ])
    func rules(input: String, expected: [String]) {
        #expect(Tokenizer.tokens(input) == expected)
        #expect(Tokenizer.tokens(Array(input.utf8)) == expected)
    }

    @Test func invalidUTF8BytesAreSeparators() {
        let cases: [([UInt8], [String])] = [
            ([0x61, 0xFF, 0x62], ["a", "b"]),
            ([0x80, 0x80, 0x41], ["a"]),
            ([0x41, 0xC3], ["a"]),  // truncated 2-byte sequence at the end
            ([0x41, 0xE2, 0x82, 0x42], ["a", "b"]),  // truncated 3-byte sequence
            ([0xC0, 0xAF, 0x78], ["x"]),  // overlong '/'
            ([0xED, 0xA0, 0x80, 0x79], ["y"]),  // UTF-16 surrogate
            ([0xF4, 0x90, 0x80, 0x80, 0x7A], ["z"]),  // > U+10FFFF
            ([0x63, 0x61, 0x66, 0xC3, 0xA9, 0xFE, 0x43], ["café", "c"]),
            ([0xF0, 0x9F, 0x98], []),
        ]
        for (bytes, expected) in cases {
            #expect(Tokenizer.tokens(bytes) == expected, "\(bytes)")
        }
    }

    @Test func everyByteValueIsSafe() {
        var rng = SeededRandom(seed: 7)
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let tokens = Tokenizer.tokens(bytes)
            for token in tokens {
                #expect(!token.isEmpty)
                #expect(token.utf8.count <= Tokenizer.maxTokenBytes)
            }
            // Same tokens as the text Swift decodes (invalid sequences become U+FFFD, a separator).
            #expect(tokens == Tokenizer.tokens(String(decoding: bytes, as: UTF8.self)))
        }
    }

    /// The indexer's ASCII fast path yields exactly the general tokenizer's tokens, with the
    /// token table's hash of each (random ASCII text, long runs included).
    @Test func asciiFastPathMatchesTheTokenizer() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("abcXYZ019 -_.:/=\"{}\t\n,;".utf8)
        for round in 0..<2000 {
            var text: [UInt8] = (0..<Int.random(in: 0...200, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            if round % 10 == 0 { text += [UInt8](repeating: UInt8(ascii: "q"), count: Int.random(in: 60...150, using: &rng)) + Array(" tail".utf8) }
            #expect(text.withUnsafeBytes { Tokenizer.isASCII($0) })
            var expected: [[UInt8]] = []
            text.withUnsafeBytes { Tokenizer.forEachToken($0) { expected.append(Array($0)) } }
            var sink = CollectingSink()
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Tokenizer.scratchCapacity) { scratch in
                text.withUnsafeBytes { bytes in Tokenizer.forEachASCIIToken(bytes, scratch.baseAddress!, &sink) }
            }
            #expect(sink.tokens == expected)
            #expect(sink.hashesMatch)
        }
        #expect(Array("café".utf8).withUnsafeBytes { !Tokenizer.isASCII($0) })
        #expect(Array("0123456789abcdé".utf8).withUnsafeBytes { !Tokenizer.isASCII($0) })
    }

    struct CollectingSink: ASCIITokenSink {
        var tokens: [[UInt8]] = []
        var hashesMatch = true
        mutating func token(_ token: UnsafeRawBufferPointer, hash: UInt32) {
            tokens.append(Array(token))
            if TokenTable.hash(token) != hash { hashesMatch = false }
        }
    }

    @Test func longTokensAreCutAt64Bytes() {
        let long = String(repeating: "A", count: 200)
        #expect(Tokenizer.tokens(long) == [String(repeating: "a", count: 64)])
        #expect(Tokenizer.tokens("x \(long) y") == ["x", String(repeating: "a", count: 64), "y"])
        // 63 ASCII bytes, then a 2-byte letter: it does not fit, nor does anything after it.
        let edge = String(repeating: "b", count: 63) + "éz"
        #expect(Tokenizer.tokens(edge) == [String(repeating: "b", count: 63)])
        // Cut at a code point boundary: 21 × 3-byte characters = 63 bytes.
        let cjk = String(repeating: "日", count: 30)
        #expect(Tokenizer.tokens(cjk) == [String(repeating: "日", count: 21)])
        // Exactly 64 bytes stays whole; the next token is unaffected.
        let exact = String(repeating: "c", count: 64)
        #expect(Tokenizer.tokens(exact + " d") == [exact, "d"])
        // Counted after lowercasing: İ (2 bytes) lowercases to 3 bytes.
        let dotted = String(repeating: "a", count: 62) + "İ"
        #expect(Tokenizer.tokens(dotted) == [String(repeating: "a", count: 62) + "i"])
    }

    /// Every code point of the Basic Multilingual Plane (and a few beyond): a word character
    /// gives its Unicode lowercase mapping, anything else nothing. Covers the fast paths.
    @Test func everyScalarAlone() {
        let ranges: [ClosedRange<UInt32>] = [0...0xFFFF, 0x1_0000...0x1_04FF, 0x1_F600...0x1_F64F, 0x2_0000...0x2_0100]
        for range in ranges {
            for v in range {
                guard let scalar = Unicode.Scalar(v) else { continue }
                let expected = Tokenizer.isWordCharacter(scalar) ? [scalar.properties.lowercaseMapping] : []
                let actual = Tokenizer.tokens(String(Character(scalar)))
                if actual != expected {
                    Issue.record("U+\(String(v, radix: 16)): \(actual) != \(expected)")
                }
            }
        }
    }

    @Test func mixedScripts() {
        #expect(Tokenizer.tokens("job日本Abc-Дом42") == ["job日本abc", "дом42"])
        #expect(Tokenizer.tokens("a\u{200B}b") == ["a", "b"])  // zero-width space is a separator (Cf)
    }

    @Test func forEachTokenYieldsScratchBytes() {
        var seen: [[UInt8]] = []
        Array("Foo BAR baz".utf8).withUnsafeBytes { buffer in
            Tokenizer.forEachToken(buffer) { seen.append(Array($0)) }
        }
        #expect(seen == [Array("foo".utf8), Array("bar".utf8), Array("baz".utf8)])
    }

    @Test func scanTokensStopsEarly() {
        var seen: [String] = []
        let completed = Array("one two three four".utf8).withUnsafeBytes { buffer in
            Tokenizer.scanTokens(buffer) { token in
                seen.append(String(decoding: token, as: UTF8.self))
                return seen.count < 2
            }
        }
        #expect(!completed)
        #expect(seen == ["one", "two"])
        let all = Array("one two".utf8).withUnsafeBytes { Tokenizer.scanTokens($0) { _ in true } }
        #expect(all)
    }

    @Test func emptyBuffer() {
        var count = 0
        Tokenizer.forEachToken(UnsafeRawBufferPointer(start: nil, count: 0)) { _ in count += 1 }
        #expect(count == 0)
        #expect(Tokenizer.tokens([UInt8]()) == [])
    }

    /// Compares with a naive version built on Swift strings over random text.
    @Test func matchesNaiveReference() {
        let alphabet: [String] = [
            "a", "B", "z", "Q", "0", "9", " ", "-", "_", ".", ":", "/", "\t", "\n", "é", "É", "ß", "日", "Я", "я",
            "€", "😀", "٣", "Ü", "ñ", "\"",
        ]
        var rng = SeededRandom(seed: 42)
        for _ in 0..<2000 {
            var text = ""
            for _ in 0..<Int.random(in: 0...30, using: &rng) { text += alphabet.randomElement(using: &rng)! }
            if Int.random(in: 0..<20, using: &rng) == 0 {
                text += String(
                    repeating: alphabet.randomElement(using: &rng)!, count: Int.random(in: 30...90, using: &rng))
            }
            #expect(Tokenizer.tokens(text) == naiveTokens(text), "\(text)")
        }
    }
}

/// Reference tokenizer: lowercase, split on characters that are neither letters nor numbers,
/// cut each word to its longest prefix of whole scalars within 64 UTF-8 bytes.
func naiveTokens(_ text: String) -> [String] {
    text.lowercased()
        .split { !($0.isLetter || $0.isNumber) }
        .map { word in
            var out = ""
            for scalar in word.unicodeScalars {
                if out.utf8.count + String(scalar).utf8.count > 64 { break }
                out.unicodeScalars.append(scalar)
            }
            return out
        }
}
