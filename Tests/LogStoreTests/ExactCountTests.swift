import Foundation
import Testing
import TestSupport

@testable import LogStore

/// Counts from the index (``ExactCounts``): REANA-shaped pods whose namespace every line of a
/// block holds and whose level varies by line. `Storage.count` equals a count over the lines as
/// appended, and the exact path is really taken (blocks are offered with their counts).
@Suite("Counts the index knows exactly")
struct ExactCountTests {
    struct Sent {
        var key: StreamKey
        var ts: Int64
        var message: String
        var namespace: String
        var level: String
        var n = -1
        var long = ""
    }

    @Test(arguments: [7, 8] as [UInt64])
    func countsEqualTheLinesAsSent(seed: UInt64) async throws {
        var rng = SeededRandom(seed: seed)
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 20
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let namespaces = ["belle2", "atlas", "cms"]
        let keys = (0..<6).map { StreamKey(index: "fluentbit-job_log", workflow: "wf\($0 % 2)", job: "job\($0)") }
        var sent: [Sent] = []
        for step in 0..<12 {
            var batch: [IncomingLine] = []
            for _ in 0..<Int.random(in: 30...90, using: &rng) {
                let p = Int.random(in: 0..<keys.count, using: &rng)
                let level = ["INFO", "INFO", "INFO", "INFO", "ERROR", "WARN"].randomElement(using: &rng)!
                let word = Int.random(in: 0..<5, using: &rng) == 0 ? "refused" : "started"
                let ts = day0 + Int64(step) * 3_600 * nanosPerSecond + Int64(batch.count)
                let message = "\(level) connection \(word) \(step)-\(batch.count)"
                let n = Int.random(in: 0..<10, using: &rng)
                let long = String(repeating: "x", count: 70) + " tail\(n % 3)"
                let fields = #"{"level":"\#(level)","n":\#(n),"long":"\#(long)","kubernetes":{"namespace_name":"\#(namespaces[p % 3])","pod_name":"pod-\#(p)"}}"#
                batch.append(line(keys[p], ts, message, fields: fields))
                sent.append(Sent(key: keys[p], ts: ts, message: message, namespace: namespaces[p % 3], level: level, n: n, long: long))
            }
            _ = try await store.append(batch)
        }
        try await store.sealAll()
        // More lines that stay head lines (counted line by line).
        _ = try await store.append([line(keys[0], day0 + 50 * 3_600 * nanosPerSecond, "ERROR head", fields: #"{"level":"ERROR","kubernetes":{"namespace_name":"belle2"}}"#)])
        sent.append(Sent(key: keys[0], ts: day0 + 50 * 3_600 * nanosPerSecond, message: "ERROR head", namespace: "belle2", level: "ERROR"))

        func doc(_ field: String, _ value: String) -> Query { .doc(FieldPredicate(field: field, test: .equals(value))) }
        func phrase(_ field: String, _ text: String) -> Query { .doc(FieldPredicate(field: field, test: .tokens(Tokenizer.tokens(text)))) }
        let tailNumber = 1
        let cases: [(Query, (Sent) -> Bool, Bool)] = [
            (.and([doc("kubernetes.namespace_name", "belle2"), doc("level", "ERROR")]), { $0.namespace == "belle2" && $0.level == "ERROR" }, true),
            (.and([.field(.job, "job1"), doc("level", "WARN")]), { $0.key.job == "job1" && $0.level == "WARN" }, true),
            (.or([doc("level", "ERROR"), doc("level", "WARN")]), { $0.level != "INFO" }, false),
            (.and([doc("kubernetes.namespace_name", "cms"), .term("refused")]), { $0.namespace == "cms" && $0.message.contains("refused") }, true),
            (.and([doc("level", "ERROR"), .term("refused")]), { $0.level == "ERROR" && $0.message.contains("refused") }, false),
            (.and([doc("kubernetes.namespace_name", "atlas"), .not(doc("level", "INFO"))]), { $0.namespace == "atlas" && $0.level != "INFO" }, false),
            (doc("kubernetes.namespace_name", "nowhere"), { _ in false }, false),
            // Phrases on fields (`match`, `query_string` on a text field), counted from the
            // listed values; `query_string`'s `name:value` is an `or` of both tests.
            (phrase("level", "error"), { $0.level == "ERROR" }, true),
            (.or([doc("level", "WARN"), phrase("level", "warn")]), { $0.level == "WARN" }, true),
            (
                .and([.or([doc("kubernetes.namespace_name", "belle2"), phrase("kubernetes.namespace_name", "belle2")]),
                      .or([doc("level", "ERROR"), phrase("level", "error")])]),
                { $0.namespace == "belle2" && $0.level == "ERROR" }, true
            ),
            (phrase("kubernetes.pod_name", "pod 4"), { $0.key.job == "job4" }, true),
            (phrase("kubernetes.pod_name", "pod"), { $0.message != "ERROR head" }, false),
            // Values the tokens cannot tell: numbers (canonical form) and long texts (cut).
            (phrase("n", "7"), { $0.n == 7 }, false),
            (phrase("long", "tail\(tailNumber)"), { $0.long.hasSuffix("tail\(tailNumber)") }, false),
        ]
        for (query, model, exactPath) in cases {
            let q = query.normalized()
            let expected = sent.filter(model).count
            #expect(try store.count(LineVisit(query: q)) == expected, "\(q)")
            // Up to 3: the count itself, or any number above 3 ("more than 3").
            let capped = try store.count(LineVisit(query: q), upTo: 3)
            #expect(expected > 3 ? capped > 3 : capped == expected, "\(q) up to 3: \(capped)")
            var offered = 0
            var total = 0
            try store.visitBlocks(
                LineVisit(query: q), block: { b in
                    offered += 1
                    total += b.count
                    return true
                }, line: { _ in total += 1 })
            #expect(total == expected, "\(q)")
            if exactPath { #expect(offered > 0, "\(q): no block was counted from the index") }
        }
    }
}
