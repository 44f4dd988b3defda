import Foundation
import LogStore
import Testing
import TestSupport

@testable import LogStoreHTTP

/// The values aggregations read from a line's fields (`LineFields`) are the values the field
/// index sees (`DocumentFields`' walk, which `FieldTokens` and so `terms` from whole blocks rely
/// on): random documents nesting objects, flat dotted keys, arrays of scalars, arrays of objects
/// and arrays of arrays, for every path they hold and some they do not.
@Suite("Line fields")
struct LineFieldsTests {
    static let keys = ["a", "b", "c", "a.b", "b.c"]
    static let paths = ["a", "b", "c", "a.b", "b.c", "a.c", "a.b.c", "b.c.a", "c.a.b", "a.a", "a.b.b", "d"]

    static func scalar(_ g: inout SeededRandom) -> Any {
        switch Int.random(in: 0..<6, using: &g) {
        case 0: return ["x", "y", "q\"uote", "tab\there", "é"].randomElement(using: &g)!
        case 1: return Int.random(in: -5...5, using: &g)
        case 2: return [0.5, 1e3, -2.25].randomElement(using: &g)!
        case 3: return Bool.random(using: &g)
        case 4: return NSNull()
        default: return "v\(Int.random(in: 0..<4, using: &g))"
        }
    }

    static func value(_ g: inout SeededRandom, depth: Int) -> Any {
        let kind = depth >= 3 ? 0 : Int.random(in: 0..<4, using: &g)
        switch kind {
        case 1: return object(&g, depth: depth + 1)
        case 2, 3:
            // Arrays of scalars, of objects, of arrays, mixed.
            return (0..<Int.random(in: 0...3, using: &g)).map { _ in
                Int.random(in: 0..<3, using: &g) == 0 ? scalar(&g) : value(&g, depth: depth + 1)
            }
        default: return scalar(&g)
        }
    }

    static func object(_ g: inout SeededRandom, depth: Int) -> [String: Any] {
        var o: [String: Any] = [:]
        for _ in 0..<Int.random(in: 0...3, using: &g) { o[keys.randomElement(using: &g)!] = value(&g, depth: depth) }
        return o
    }

    static func comparable(_ v: FieldValue) -> String {
        switch v {
        case .string(let s): return "s:" + s
        case .number(let d): return "n:\(d)"
        case .bool(let b): return "b:\(b)"
        }
    }

    @Test func lineFieldsEqualTheFieldIndexWalk() throws {
        var g = SeededRandom(seed: 27)
        let fields = LineFields(paths: Self.paths)
        var withArraysOfObjects = 0
        for round in 0..<3000 {
            let doc = Self.object(&g, depth: 0)
            let bytes = Array(try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys]))
            bytes.withUnsafeBytes { fields.load($0) }
            let walked = DocumentFields.values(fields: bytes, message: [], timestamp: 0)
            for (k, path) in Self.paths.enumerated() {
                let expected = walked.filter { $0.path == path && $0.path != "log" && $0.path != "@timestamp" }.map { v -> String in
                    switch v.kind {
                    case .string, .date: return "s:" + v.text
                    case .number: return "n:\(Double(v.text)!)"
                    case .bool: return "b:\(v.text == "true")"
                    }
                }
                let got = fields.values[k].map(Self.comparable)
                #expect(got.sorted() == expected.sorted(), "round \(round) path \(path): \(String(decoding: bytes, as: UTF8.self))")
            }
            let text = String(decoding: bytes, as: UTF8.self)
            if text.contains("[{") || text.contains("[[{") { withArraysOfObjects += 1 }
        }
        #expect(withArraysOfObjects > 100, "documents with arrays of objects: \(withArraysOfObjects)")
    }

    @Test func arraysOfObjectsAreFlattened() {
        let fields = LineFields(paths: ["a.b", "a.b.c", "k.j"])
        let json = #"{"a":[{"b":1},{"b":[2,{"c":"deep"}]},[{"b":"x"}],{"b.c":"flat"}],"k":{"j":[["u"],"v"]},"a.b":true}"#
        Array(json.utf8).withUnsafeBytes { fields.load($0) }
        #expect(fields.values[0].map(Self.comparable).sorted() == ["b:true", "n:1.0", "n:2.0", "s:x"])
        #expect(fields.values[1].map(Self.comparable).sorted() == ["s:deep", "s:flat"])
        #expect(fields.values[2].map(Self.comparable).sorted() == ["s:u", "s:v"])
    }
}
