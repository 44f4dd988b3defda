import Foundation
import Testing
import TestSupport
@testable import LogStore

/// `Storage.visitLines` (what aggregations read) against a brute-force model: every matching
/// line once with its fields, within a time window, of chosen streams, and up to an LSN (a
/// point-in-time snapshot) while more lines are appended and heads are sealed.
@Suite("Visiting matching lines")
struct VisitLinesTests {
    @Test(arguments: [UInt64(1), 2, 3])
    func visitEqualsBruteForce(seed: UInt64) async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 50
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        var g = SeededRandom(seed: seed)
        let keys = (0..<4).map { StreamKey(index: $0 < 2 ? "a" : "b", workflow: "w\($0 % 2)", job: "j\($0)") }
        let words = ["disk", "error", "ok", "retry"]
        var model: [(key: StreamKey, ts: Int64, message: String, fields: String, lsn: LSN)] = []
        func append(_ n: Int) async throws {
            var batch: [IncomingLine] = []
            for i in 0..<n {
                let key = keys.randomElement(using: &g)!
                let ts = day0 + Int64.random(in: 0..<(2 * 86_400), using: &g) * nanosPerSecond
                let message = "\(words.randomElement(using: &g)!) \(words.randomElement(using: &g)!) \(i)"
                batch.append(line(key, ts, message, fields: "{\"level\":\"L\(i % 3)\"}"))
            }
            let receipt = try await store.append(batch)
            for (i, l) in batch.enumerated() {
                model.append((key: l.stream, ts: l.timestamp, message: l.messageString, fields: l.fieldsString, lsn: receipt.firstLSN + LSN(i)))
            }
        }
        try await append(700)
        let snapshot = store.lastLSN
        try await append(300)
        for round in 0..<8 {
            let word = words.randomElement(using: &g)!
            let query = try QueryParser.parse(round % 2 == 0 ? word : "*")
            let from: Int64? = round % 3 == 0 ? day0 + 86_400 * nanosPerSecond / 2 : nil
            let to: Int64? = round % 4 == 1 ? day0 + 3 * 86_400 * nanosPerSecond / 2 : nil
            let wanted: Set<StreamID>? = round % 2 == 1 ? Set(store.streams(matching: StreamSelector(index: "a")).map(\.id)) : nil
            let through: LSN? = round >= 4 ? snapshot : nil
            var seen: [LSN: String] = [:]
            try store.visitLines(LineVisit(query: query, streams: wanted, from: from, to: to, throughLSN: through)) { line in
                #expect(seen[line.lsn] == nil, "line \(line.lsn) twice")
                seen[line.lsn] = String(decoding: line.fields, as: UTF8.self)
            }
            let expected = model.filter { m in
                (round % 2 != 0 || m.message.split(separator: " ").contains(Substring(word)))
                    && (from.map { m.ts >= $0 } ?? true) && (to.map { m.ts < $0 } ?? true)
                    && (wanted == nil || m.key.index == "a") && (through.map { m.lsn <= $0 } ?? true)
            }
            #expect(Set(seen.keys) == Set(expected.map(\.lsn)), "round \(round)")
            #expect(expected.allSatisfy { seen[$0.lsn] == $0.fields }, "round \(round): fields")
            if round == 3 { try await store.sealAll() }
        }
    }
}
