import Foundation
import Testing
import TestSupport

@testable import LogStore

/// The byte bound of one read (`StorageOptions.maxReadBytes`): pages that may end early at the
/// bound (counts) still read every line once, in order; a read that may not fails with
/// `answerTooLarge` instead of holding more; lines copied out of sparse blocks read the same
/// as lines left in their blocks. Checked against a model on a real store.
@Suite("Reads: the byte bound of one answer")
struct ReadBoundTests {
    struct ModelLine {
        var key: StreamKey
        var lsn: LSN
        var ts: Int64
        var message: String
        var fields: String
    }

    @Test(arguments: [11, 12, 13] as [UInt64])
    func boundedReadsMatchTheModel(seed: UInt64) async throws {
        var rng = SeededRandom(seed: seed)
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = 40
        options.sealBytes = 64 * 1024
        options.maxReadBytes = 200 * 1024
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let keys = (0..<3).map { StreamKey(index: "idx", workflow: "wf", job: "job\($0)") }
        var model: [ModelLine] = []
        var nextLSN: LSN = 1
        let hour: Int64 = 3600 * nanosPerSecond
        for step in 0..<30 {
            var batch: [IncomingLine] = []
            for _ in 0..<Int.random(in: 20...80, using: &rng) {
                let key = keys.randomElement(using: &rng)!
                let ts = day0 + Int64.random(in: 0..<60, using: &rng) * hour + Int64.random(in: 0..<3, using: &rng)
                let word = Int.random(in: 0..<30, using: &rng) == 0 ? "needle" : "hay"
                // Needles are short: a page of them fits the bound only when they are copied out
                // of their blocks.
                let pad = String(repeating: "x", count: Int.random(in: 10...(word == "needle" ? 200 : 4000), using: &rng))
                let message = "\(word) s\(step) \(batch.count) \(pad)"
                let fields = #"{"pod":"\#(key.job)","n":\#(Int.random(in: 0..<3, using: &rng))}"#
                batch.append(line(key, ts, message, fields: fields))
                model.append(ModelLine(key: key, lsn: nextLSN, ts: ts, message: message, fields: fields))
                nextLSN += 1
            }
            _ = try await store.append(batch)
            if step % 7 == 6 { try await store.sealAll() }
        }
        let ids = store.streams(matching: StreamSelector()).map(\.id)
        for filter in [nil, try QueryParser.parse("needle")] {
            let matching = model.filter { filter == nil || $0.message.hasPrefix("needle ") }
            let ascending = matching.sorted { ($0.ts, $0.lsn) < ($1.ts, $1.lsn) }
            for order in ReadOrder.allCases {
                let expected = order == .ascending ? ascending : ascending.reversed()
                // Pages that may end at the bound: every line once, in order.
                var got: [LogLine] = []
                var after: LogPosition?
                var pages = 0
                while pages <= model.count {
                    pages += 1
                    var query = LogQuery(streams: ids, after: after, limit: Int.random(in: 1...500, using: &rng), order: order, filter: filter)
                    query.shortPages = true
                    let page = try store.readLines(query)
                    got.append(contentsOf: page.lines.map(page.logLine))
                    guard page.truncated, let next = page.next else { break }
                    after = next
                }
                #expect(got.map(\.lsn) == expected.map(\.lsn), "seed \(seed) filter \(filter.map { "\($0)" } ?? "none") \(order)")
                #expect(got.map(\.message) == expected.map(\.message))
                #expect(got.map(\.fields) == expected.map(\.fields))
                #expect(got.map(\.timestamp) == expected.map(\.ts))
                // One read of everything: the model's lines, or a refusal naming the bound
                // (always when the lines alone are over it).
                let lineBytes = expected.reduce(0) { $0 + $1.message.utf8.count }
                do {
                    let page = try store.readLines(LogQuery(streams: ids, limit: 100_000, order: order, filter: filter))
                    #expect(lineBytes <= options.maxReadBytes, "\(lineBytes) bytes of lines were read in one page")
                    #expect(page.lines.map(\.lsn) == expected.map(\.lsn))
                    #expect(page.lines.map { page.logLine($0).message } == expected.map(\.message))
                } catch let error as StorageError {
                    #expect(error == .answerTooLarge(limit: options.maxReadBytes))
                    #expect(error.description.contains("more than 204800 bytes of log lines"))
                }
            }
        }
        // Sparse matches in sealed blocks are copied out: a page of them holds about their own
        // bytes, so it fits where the blocks they came from would not.
        let needles = ascending(model.filter { $0.message.hasPrefix("needle ") })
        let needleBytes = needles.reduce(0) { $0 + $1.message.utf8.count + $1.fields.utf8.count }
        #expect(needleBytes * 4 < options.maxReadBytes)
        let page = try store.readLines(LogQuery(streams: ids, limit: 100_000, filter: try QueryParser.parse("needle")))
        #expect(page.lines.map(\.lsn) == needles.map(\.lsn))
        #expect(page.lines.map { page.logLine($0).fields } == needles.map(\.fields))
    }

    func ascending(_ lines: [ModelLine]) -> [ModelLine] {
        lines.sorted { ($0.ts, $0.lsn) < ($1.ts, $1.lsn) }
    }
}
