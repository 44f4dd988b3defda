import Foundation
import LogStore
import LogStoreIngest
import Testing

/// Collects everything the scanner reports.
struct Recorder: JSONObjectVisitor {
    var members: [JSONMember] = []
    var matches: [JSONMatch] = []
    mutating func visitMember(_ member: JSONMember) { members.append(member) }
    mutating func visitMatch(_ match: JSONMatch) { matches.append(match) }
}

func scan(_ text: String, paths: [String] = [], maxDepth: Int = 64) throws(IngestError) -> Recorder {
    let bytes = Array(text.utf8)
    return try scan(bytes, paths: paths, maxDepth: maxDepth)
}

func scan(_ bytes: [UInt8], paths: [String] = [], maxDepth: Int = 64) throws(IngestError) -> Recorder {
    let set = JSONPathSet(paths)
    return try bytes.withUnsafeBufferPointer { (buf) throws(IngestError) -> Recorder in
        var r = Recorder()
        let end = try JSONScanner.scanObject(buf, from: 0, paths: set, maxDepth: maxDepth, visitor: &r)
        guard JSONScanner.skipWhitespace(buf, from: end) == buf.count else {
            throw .malformedJSON(offset: end, reason: "trailing data")
        }
        return r
    }
}

func scanError(_ text: String, maxDepth: Int = 64) -> IngestError? {
    scanError(Array(text.utf8), maxDepth: maxDepth)
}

func scanError(_ bytes: [UInt8], maxDepth: Int = 64) -> IngestError? {
    do {
        _ = try scan(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

/// Encodes a string as a JSON string literal the way a strict encoder might (escapes chosen at random).
func encodeJSONString(_ s: String, seed: inout UInt64) -> String {
    func next() -> UInt64 {
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return seed >> 33
    }
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case "/" where next() % 2 == 0: out += "\\/"
        default:
            if scalar.value < 0x20 || next() % 4 == 0 {
                // \u escape, surrogate pair above the BMP
                for unit in String(scalar).utf16 {
                    let hex = String(unit, radix: 16, uppercase: next() % 2 == 0)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

@Suite struct JSONScannerTests {
    @Test func membersAndRawRanges() throws {
        let text = #"{"a":1, "b" : "x\"y" ,"c":{"d":[1,2,{"e":null}]},"f":true,"g":false,"h":-1.5e3}"#
        let bytes = Array(text.utf8)
        let r = try scan(bytes)
        #expect(r.members.count == 6)
        let raw = r.members.map { String(decoding: bytes[$0.valueRange], as: UTF8.self) }
        #expect(raw == ["1", #""x\"y""#, #"{"d":[1,2,{"e":null}]}"#, "true", "false", "-1.5e3"])
        let keys = r.members.map { String(decoding: bytes[$0.keyRange], as: UTF8.self) }
        #expect(keys == [#""a""#, #""b""#, #""c""#, #""f""#, #""g""#, #""h""#])
        #expect(r.members.map(\.kind) == [.number, .string, .object, .bool, .bool, .number])
        #expect(try scan("{}").members.isEmpty)
        #expect(try scan("  { }  ").members.isEmpty)
    }

    @Test func nestedAndFlatPathsMatchAlike() throws {
        let paths = ["kubernetes.labels.job-name"]
        let nested = #"{"kubernetes":{"labels":{"job-name":"x"}}}"#
        let flat = #"{"kubernetes.labels.job-name":"x"}"#
        let mixed = #"{"kubernetes.labels":{"job-name":"x"}}"#
        let mixed2 = #"{"kubernetes":{"labels.job-name":"x"}}"#
        for text in [nested, flat, mixed, mixed2] {
            #expect(try JSONScanner.strings(at: paths, in: Array(text.utf8)) == ["x"], "\(text)")
        }
        let r = try scan(nested, paths: paths)
        #expect(r.matches.count == 1)
        #expect(r.matches[0].memberIndex == nil)
        let f = try scan(flat, paths: paths)
        #expect(f.matches[0].memberIndex == 0)
        // Escaped keys are decoded before matching.
        #expect(try JSONScanner.strings(at: ["a.b"], in: Array(#"{"\u0061":{"b":"y"}}"#.utf8)) == ["y"])
        // Absent, non-string and deeper values.
        #expect(
            try JSONScanner.strings(at: ["a", "b", "c.d.e"], in: Array(#"{"a":1,"c":{"d":{"e":"deep"}}}"#.utf8))
                == [nil, nil, "deep"])
    }

    @Test func decodesAllEscapes() throws {
        let text =
            #"{"m":"q\" b\\ s\/ \b\f\n\r\t \u00e9 \u2713 \ud83d\ude00 \uD83D\uDE00 caf\u00E9 lone \ud800 x \udc00"}"#
        let values = try JSONScanner.strings(at: ["m"], in: Array(text.utf8))
        #expect(values == ["q\" b\\ s/ \u{08}\u{0C}\n\r\t é ✓ 😀 😀 café lone \u{FFFD} x \u{FFFD}"])
    }

    @Test func rawUTF8Accepted() throws {
        let text = "{\"m\":\"café ✓ 😀 日本\"}"
        #expect(try JSONScanner.strings(at: ["m"], in: Array(text.utf8)) == ["café ✓ 😀 日本"])
    }

    @Test func malformedInputs() {
        let cases: [String] = [
            "", "{", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{\"a\":01}",
            "{\"a\":1.}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":[1,]}", "{\"a\":[1 2]}",
            "{\"a\":\"x}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12G4\"}", "{\"a\":1]", "{\"a\":'x'}",
            "{\"a\":1}}",
        ]
        for c in cases {
            let e = scanError(c)
            #expect(e != nil, "\(c)")
            if case .malformedJSON = e {} else { #expect(Bool(false), "\(c): \(String(describing: e))") }
        }
    }

    @Test func errorsNameTheOffset() {
        #expect(
            scanError(#"{"a":1 "b":2}"#)
                == .malformedJSON(offset: 7, reason: "expected ',' or '}' after object member, found '\"'"))
        let e = scanError("{\"a\":\"x\ty\"}")
        #expect(e == .malformedJSON(offset: 7, reason: "raw control character byte 0x09 in string (must be escaped)"))
        #expect(e?.description.contains("byte 7") == true)
        #expect(scanError("{\"a\":1") == .malformedJSON(offset: 6, reason: "unexpected end of input"))
    }

    @Test func notAnObject() {
        for c in ["[1,2]", "\"x\"", "12", "true", "null"] {
            #expect(scanError(c) == .notAnObject, "\(c)")
        }
    }

    @Test func invalidUTF8() {
        let bad: [[UInt8]] = [
            [0xFF], [0xC0, 0x80], [0xC3], [0xE2, 0x9C], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0xE0, 0x80, 0x80], [0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
        ]
        for seq in bad {
            let doc = Array("{\"a\":\"ok ".utf8) + seq + Array(" x\"}".utf8)
            #expect(scanError(doc) == .invalidUTF8(offset: 9), "\(seq)")
        }
        // Outside a string a non-ASCII byte is a syntax error.
        #expect(scanError([0x7B, 0xC3, 0xA9, 0x7D]) != nil)
    }

    @Test func depthLimit() {
        let deep = "{\"a\":" + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}"
        if case .tooDeep(_, let limit) = scanError(deep) {
            #expect(limit == 64)
        } else {
            Issue.record("expected tooDeep")
        }
        let ok = "{\"a\":" + String(repeating: "[", count: 62) + String(repeating: "]", count: 62) + "}"
        #expect(scanError(ok) == nil)
        let nested = String(repeating: "{\"a\":", count: 65) + "1" + String(repeating: "}", count: 65)
        if case .tooDeep = scanError(nested) {} else { Issue.record("expected tooDeep for objects") }
        #expect(scanError("{\"a\":[[[1]]]}", maxDepth: 3) != nil)
        #expect(scanError("{\"a\":[[1]]}", maxDepth: 3) == nil)
    }

    @Test func agreesWithFoundationOnValidity() {
        // Random mutations of a valid document: whenever Foundation accepts an object, so do we.
        let seed = Array(#"{"a":[1,2.5,-3e2,{"b":"c\u00e9\n"}],"d":true,"e":null,"f":"x"}"#.utf8)
        var x: UInt64 = 42
        let alphabet = Array(#"{}[]:,"\ae01-.tn"#.utf8)
        for _ in 0..<3000 {
            var doc = seed
            x = x &* 6_364_136_223_846_793_005 &+ 1
            let pos = Int(x >> 33) % doc.count
            x = x &* 6_364_136_223_846_793_005 &+ 1
            doc[pos] = alphabet[Int(x >> 33) % alphabet.count]
            let foundation = (try? JSONSerialization.jsonObject(with: Data(doc))) as? [String: Any]
            let ours = scanError(doc) == nil
            #expect(ours == (foundation != nil), "\(String(decoding: doc, as: UTF8.self))")
        }
    }

    @Test func randomStringsRoundTrip() throws {
        var seed: UInt64 = 7
        let pool: [Unicode.Scalar] = [
            "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\r", "\u{08}", "\u{0C}", "\u{01}", "\u{1F}", "\u{7F}",
            "é", "✓", "日", "😀", "𝄞", "\u{FFFD}", "\u{10FFFF}", "\u{E000}",
        ]
        for _ in 0..<500 {
            var s = ""
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = Int(seed >> 58)
            for _ in 0..<length {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                s.unicodeScalars.append(pool[Int(seed >> 33) % pool.count])
            }
            let literal = encodeJSONString(s, seed: &seed)
            let doc = "{\"k\":" + literal + ",\"n\":{\"k\":" + literal + "}}"
            let values = try JSONScanner.strings(at: ["k", "n.k"], in: Array(doc.utf8))
            #expect(values == [s, s], "\(literal)")
            // And Foundation reads the same string.
            let object = Fixtures.jsonObject(Array(doc.utf8))
            #expect(object?["k"] as? String == s)
        }
    }
}
