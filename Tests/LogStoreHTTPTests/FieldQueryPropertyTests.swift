import Foundation
import LogStore
import LogStoreIngest
import Testing
import TestSupport

/// Random documents with random field sets (nested objects, flat dotted keys, arrays, numbers,
/// dates, booleans, nulls) go through `/_bulk` into a real store; random queries (term, terms,
/// range, exists, prefix, wildcard, query_string and bool of these) on random fields must give
/// the hits, `hits.total` and `_source`s that a brute-force evaluation over the documents as
/// sent gives (the rules of docs/QUERY.md, "Fields").
@Suite("Field queries against a brute-force model")
struct FieldQueryPropertyTests {
    /// A JSON value with its exact text.
    indirect enum JV {
        case string(String)
        case number(String)
        case bool(Bool)
        case null
        case array([JV])
        case object([(String, JV)])

        var text: String {
            switch self {
            case .string(let s):
                return String(decoding: try! JSONSerialization.data(withJSONObject: s, options: [.fragmentsAllowed]), as: UTF8.self)
            case .number(let n): return n
            case .bool(let b): return b ? "true" : "false"
            case .null: return "null"
            case .array(let xs): return "[" + xs.map(\.text).joined(separator: ",") + "]"
            case .object(let members): return "{" + members.map { JV.string($0.0).text + ":" + $0.1.text }.joined(separator: ",") + "}"
            }
        }
    }

    enum Kind { case string, number, bool }

    /// Every (path, kind, text) of a document, flattened as docs/QUERY.md says.
    static func values(_ doc: JV) -> [(path: String, kind: Kind, text: String)] {
        var out: [(String, Kind, String)] = []
        func walk(_ v: JV, _ path: String) {
            switch v {
            case .string(let s): out.append((path, .string, s))
            case .number(let n): out.append((path, .number, n))
            case .bool(let b): out.append((path, .bool, b ? "true" : "false"))
            case .null: break
            case .array(let xs): for x in xs { walk(x, path) }
            case .object(let members): for (k, x) in members { walk(x, path.isEmpty ? k : path + "." + k) }
            }
        }
        walk(doc, "")
        return out
    }

    // MARK: Model of each test

    static func number(_ s: String) -> Double? { DocumentFields.number(s) }

    static func equals(_ kind: Kind, _ text: String, _ q: String) -> Bool {
        if text == q { return true }
        if kind == .number, let a = number(text), let b = number(q) { return a == b }
        return false
    }

    static func phrase(_ text: String, _ want: [String]) -> Bool {
        let tokens = Tokenizer.tokens(text)
        guard !want.isEmpty, want.count <= tokens.count else { return false }
        return (0...(tokens.count - want.count)).contains { Array(tokens[$0..<($0 + want.count)]) == want }
    }

    static func glob(_ p: [Character], _ t: [Character]) -> Bool {
        if p.isEmpty { return t.isEmpty }
        if p[0] == "*" { return glob(Array(p.dropFirst()), t) || (!t.isEmpty && glob(p, Array(t.dropFirst()))) }
        guard let c = t.first, p[0] == "?" || p[0] == c else { return false }
        return glob(Array(p.dropFirst()), Array(t.dropFirst()))
    }

    struct Bound {
        var json: Any
        var number: Double?
        var date: Int64?
        var text: String
        var inclusive: Bool
    }

    static func inRange(_ kind: Kind, _ text: String, _ lower: Bound?, _ upper: Bound?) -> Bool {
        func compare(_ b: Bound) -> Int? {
            switch kind {
            case .number:
                guard let q = b.number, let v = number(text) else { return nil }
                return v < q ? -1 : v > q ? 1 : 0
            case .string:
                if let q = b.date {
                    guard let v = DateText.parse(text) else { return nil }
                    return v < q ? -1 : v > q ? 1 : 0
                }
                return text.utf8.lexicographicallyPrecedes(b.text.utf8) ? -1 : text == b.text ? 0 : 1
            case .bool: return nil
            }
        }
        if let lower {
            guard let c = compare(lower), c > 0 || (c == 0 && lower.inclusive) else { return false }
        }
        if let upper {
            guard let c = compare(upper), c < 0 || (c == 0 && upper.inclusive) else { return false }
        }
        return true
    }

    /// A query: its DSL object and the model's verdict on a document's values.
    struct Case {
        var dsl: [String: Any]
        var matches: ([(path: String, kind: Kind, text: String)]) -> Bool
    }

    // MARK: Generators

    static let words = ["alpha", "Beta", "gamma-ray", "delta 42", "Node-1", "node-2", "ERROR", "error", "x/y", "a.b", "", "Zeta Eta"]
    static let fields = [
        "level", "status", "user.name", "http.code", "http.method", "tags", "score", "ok", "when", "empty", "mixed", "kubernetes.namespace_name",
        "deep.a.b",
    ]

    static func scalar(_ r: inout SeededRandom, _ field: String) -> JV {
        switch field {
        case "status", "http.code": return .number(String([200, 201, 404, 500, 503][Int.random(in: 0..<5, using: &r)]))
        case "score": return .number(["1.5", "2.25", "10.0", "-3", "0", "7e1"][Int.random(in: 0..<6, using: &r)])
        case "ok": return .bool(Bool.random(using: &r))
        case "when":
            return .string(String(format: "2024-09-%02dT%02d:00:00Z", Int.random(in: 20...28, using: &r), Int.random(in: 0...23, using: &r)))
        case "empty": return Bool.random(using: &r) ? .null : .string("")
        case "mixed":
            return Bool.random(using: &r) ? .number(String(Int.random(in: 0...50, using: &r))) : .string(words[Int.random(in: 0..<words.count, using: &r)])
        case "level": return .string(["INFO", "WARN", "ERROR", "debug"][Int.random(in: 0..<4, using: &r)])
        case "kubernetes.namespace_name": return .string(["belle2", "reana", "default"][Int.random(in: 0..<3, using: &r)])
        default: return .string(words[Int.random(in: 0..<words.count, using: &r)])
        }
    }

    static func document(_ i: Int, _ r: inout SeededRandom) -> JV {
        let ms = i * 997 % 1000
        // Unique times, in line order.
        var members: [(String, JV)] = [
            ("@timestamp", .string(String(format: "2024-09-24T%02d:%02d:%02d.%03dZ", 10 + i / 3600, i / 60 % 60, i % 60, ms)))
        ]
        members.append(("message", .string("doc \(i) " + words[Int.random(in: 0..<words.count, using: &r)])))
        var http: [(String, JV)] = []
        var deep = false
        for field in fields where Int.random(in: 0..<3, using: &r) == 0 {
            switch field {
            case "http.code", "http.method": http.append((String(field.dropFirst(5)), scalar(&r, field)))
            case "user.name": members.append(("user.name", scalar(&r, field)))  // a flat dotted key
            case "tags":
                members.append(("tags", .array((0..<Int.random(in: 0...3, using: &r)).map { _ in scalar(&r, "tags") })))
            case "kubernetes.namespace_name":
                members.append(("kubernetes", .object([("namespace_name", scalar(&r, field)), ("pod_name", .string("pod-\(i % 3)"))])))
            case "deep.a.b": deep = true
            default: members.append((field, scalar(&r, field)))
            }
        }
        if !http.isEmpty { members.append(("http", Bool.random(using: &r) ? .object(http) : .array([.object(http)]))) }
        if deep { members.append(("deep", .object([("a.b", scalar(&r, "deep.a.b"))]))) }
        return .object(members)
    }

    static func bound(_ r: inout SeededRandom, _ field: String, inclusive: Bool) -> Bound {
        if field == "when" {
            let text = String(format: "2024-09-%02dT%02d:00:00Z", Int.random(in: 19...29, using: &r), Int.random(in: 0...23, using: &r))
            return Bound(json: text, number: nil, date: DateText.parse(text), text: text, inclusive: inclusive)
        }
        let n = [0, 1.5, 10, 200, 404, 500, 25, -5][Int.random(in: 0..<8, using: &r)]
        let text = n == n.rounded() ? String(Int(n)) : String(n)
        return Bound(json: n, number: n, date: Int64((n * 1_000_000).rounded()), text: text, inclusive: inclusive)
    }

    static func leaf(_ r: inout SeededRandom, docs: [JV]) -> Case {
        let field = fields[Int.random(in: 0..<fields.count, using: &r)]
        // A value the documents hold at that field, or a fresh one.
        func sample() -> (Kind, String) {
            let held = values(docs[Int.random(in: 0..<docs.count, using: &r)]).filter { $0.path == field }
            if let v = held.randomElement(using: &r), Int.random(in: 0..<4, using: &r) > 0 { return (v.kind, v.text) }
            let fresh = values(.object([(field, scalar(&r, field))]))
            return fresh.first.map { ($0.kind, $0.text) } ?? (.string, "")
        }
        func json(_ v: (Kind, String)) -> Any {
            switch v.0 {
            case .number: return Double(v.1).map { $0 == $0.rounded() && abs($0) < 1e15 ? Int($0) as Any : $0 as Any } ?? v.1
            case .bool: return v.1 == "true"
            case .string: return v.1
            }
        }
        let at: (String) -> ([(path: String, kind: Kind, text: String)]) -> [(path: String, kind: Kind, text: String)] = { name in
            { vs in vs.filter { $0.path == name } }
        }
        switch Int.random(in: 0..<8, using: &r) {
        case 0:
            let v = sample()
            let keyword = v.0 == .string && Bool.random(using: &r)
            let q = json(v)
            let qText = DocumentFieldsTextOf(q)
            return Case(dsl: ["term": [field + (keyword ? ".keyword" : ""): q]]) { vs in at(field)(vs).contains { equals($0.kind, $0.text, qText) } }
        case 1:
            let vs = (0..<Int.random(in: 1...3, using: &r)).map { _ in json(sample()) }
            let texts = vs.map(DocumentFieldsTextOf)
            return Case(dsl: ["terms": [field: vs]]) { values in at(field)(values).contains { v in texts.contains { equals(v.kind, v.text, $0) } } }
        case 2:
            let lower = Bool.random(using: &r) ? bound(&r, field, inclusive: Bool.random(using: &r)) : nil
            let upper = lower == nil || Bool.random(using: &r) ? bound(&r, field, inclusive: Bool.random(using: &r)) : nil
            var spec: [String: Any] = [:]
            if let lower { spec[lower.inclusive ? "gte" : "gt"] = lower.json }
            if let upper { spec[upper.inclusive ? "lte" : "lt"] = upper.json }
            return Case(dsl: ["range": [field: spec]]) { vs in at(field)(vs).contains { inRange($0.kind, $0.text, lower, upper) } }
        case 3:
            let name = ["http", "kubernetes", "deep", "deep.a", field][Int.random(in: 0..<5, using: &r)]
            return Case(dsl: ["exists": ["field": name]]) { vs in vs.contains { $0.path == name || $0.path.hasPrefix(name + ".") } }
        case 4:
            let v = sample().1
            let p = String(v.prefix(Int.random(in: 0...max(0, v.count), using: &r)))
            guard !p.contains("*"), !p.contains("?"), !p.contains("\\") else { return leaf(&r, docs: docs) }
            return Case(dsl: ["prefix": [field: p]]) { vs in at(field)(vs).contains { $0.text.hasPrefix(p) } }
        case 5:
            var pattern = Array(sample().1)
            for k in pattern.indices where Int.random(in: 0..<4, using: &r) == 0 { pattern[k] = Bool.random(using: &r) ? "?" : "*" }
            if pattern.contains("\\") { return leaf(&r, docs: docs) }
            let ci = Bool.random(using: &r)
            let text = String(pattern)
            return Case(dsl: ["wildcard": [field: ["value": text, "case_insensitive": ci]]]) { vs in
                at(field)(vs).contains { glob(Array(ci ? text.lowercased() : text), Array(ci ? $0.text.lowercased() : $0.text)) }
            }
        case 6:
            // query_string `field:"value"`: a phrase of the value's tokens, or the exact value.
            let v = sample().1
            guard !v.contains("\""), !v.contains("\\") else { return leaf(&r, docs: docs) }
            let keyword = Bool.random(using: &r)
            let name = field + (keyword ? ".keyword" : "")
            let tokens = Tokenizer.tokens(v)
            return Case(dsl: ["query_string": ["query": "\(name):\"\(v)\""]]) { vs in
                at(field)(vs).contains { $0.text == v || ($0.kind == .number && equals($0.kind, $0.text, v)) || (!keyword && !tokens.isEmpty && phrase($0.text, tokens)) }
            }
        default:
            var parts: [String: [Any]] = [:]
            var checks: [(String, ([(path: String, kind: Kind, text: String)]) -> Bool)] = []
            for _ in 0..<Int.random(in: 1...3, using: &r) {
                let inner = leaf(&r, docs: docs)
                let occur = ["must", "filter", "should", "must_not"][Int.random(in: 0..<4, using: &r)]
                parts[occur, default: []].append(inner.dsl)
                checks.append((occur, inner.matches))
            }
            let hasMust = parts["must"] != nil || parts["filter"] != nil
            return Case(dsl: ["bool": parts]) { vs in
                var anyShould = false
                var shouldMatched = false
                for (occur, check) in checks {
                    switch occur {
                    case "must", "filter": if !check(vs) { return false }
                    case "must_not": if check(vs) { return false }
                    default:
                        anyShould = true
                        if check(vs) { shouldMatched = true }
                    }
                }
                return hasMust || !anyShould || shouldMatched
            }
        }
    }

    @Test func randomQueriesMatchTheModel() async throws {
        var storageOptions = StorageOptions()
        storageOptions.sealLines = 32
        let server = try await TestServer.start(storageOptions: storageOptions)
        let client = try RawClient(port: server.port)
        var r = SeededRandom(seed: 0x5EED_F1E1D)
        let docs = (0..<300).map { Self.document($0, &r) }
        for chunk in stride(from: 0, to: docs.count, by: 100) {
            try await DocumentFieldsTests.bulk(client, "prop", docs[chunk..<min(chunk + 100, docs.count)].map { $0.text })
        }
        let sent = docs.map { DocumentFieldsTests.object($0.text) }
        let flat = docs.map { Self.values($0) }
        var checked = 0
        var nonEmpty = 0
        var failures = 0
        for round in 0..<2000 {
            let c = Self.leaf(&r, docs: docs)
            let body: [String: Any] = ["query": c.dsl, "size": 1000, "sort": ["@timestamp"], "track_total_hits": true]
            let text = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            let response = try await DocumentFieldsTests.search(client, "/prop/_search", text)
            guard response.status == 200 else {
                Issue.record("round \(round): \(text) → \(response.status) \(response.text)")
                continue
            }
            let expected = flat.indices.filter { c.matches(flat[$0]) }
            let got = DocumentFieldsTests.sources(response)
            let gotMessages = got.compactMap { $0["message"] as? String }
            let expectedMessages = expected.map { sent[$0]["message"] as? String ?? "" }
            if gotMessages != expectedMessages || OpenSearchTests.total(response.json ?? [:]) != expected.count {
                let detail = "got \(gotMessages.count) \(Array(gotMessages.prefix(5))), expected \(expectedMessages.count) \(Array(expectedMessages.prefix(5)))"
                Issue.record("round \(round): \(text): \(detail)")
                failures += 1
                if failures > 20 { break }
                continue
            }
            for (g, k) in zip(got, expected) where !DocumentFieldsTests.same(g, sent[k]) {
                Issue.record("round \(round): _source \(g) != sent \(sent[k])")
            }
            // `_count` adds up the blocks the index counts exactly and reads the others.
            let countBody = String(decoding: try JSONSerialization.data(withJSONObject: ["query": c.dsl]), as: UTF8.self)
            let counted = try await client.exchange(
                request("POST", "/prop/_count", headers: [("Content-Type", "application/json")], body: Array(countBody.utf8)))
            if counted.json?["count"] as? Int != expected.count {
                Issue.record("round \(round): _count \(countBody) → \(counted.text), expected \(expected.count)")
                failures += 1
                if failures > 20 { break }
                continue
            }
            checked += 1
            if !expected.isEmpty && expected.count < docs.count { nonEmpty += 1 }
        }
        #expect(checked == 2000)
        // The generator must produce selective queries, not only all-or-nothing ones.
        #expect(nonEmpty > 600, "\(nonEmpty) of \(checked)")
        await server.stop()
    }
}

/// The text the DSL compares for a JSON scalar (as `QueryDSL.scalarString`).
func DocumentFieldsTextOf(_ value: Any) -> String {
    if let s = value as? String { return s }
    if let b = value as? Bool { return b ? "true" : "false" }
    if let i = value as? Int { return String(i) }
    if let d = value as? Double { return (d as NSNumber).stringValue }
    return "\(value)"
}
