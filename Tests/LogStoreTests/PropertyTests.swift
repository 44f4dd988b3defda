import Foundation
import Testing
@testable import LogStore
import TestSupport

/// Compares stream reads with a naive in-memory model over random appends.
@Suite("Property: reads equal a naive model")
struct PropertyTests {
    struct ModelLine: Equatable {
        var key: StreamKey
        var lsn: LSN
        var ts: Int64
        var message: String
        var fields: String
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func randomAppendsMatchModel(seed: UInt64) async throws {
        var rng = SeededRandom(seed: seed)
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.sealLines = Int.random(in: 5...60, using: &rng)
        options.sealBytes = Int.random(in: 300...5000, using: &rng)
        var store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        let keys = (0..<6).map { StreamKey(index: "idx\($0 % 2)", workflow: "wf\($0 % 3)", job: "job\($0)") }
        var model: [ModelLine] = []
        var nextLSN: LSN = 1
        let hour: Int64 = 3600 * nanosPerSecond
        for step in 0..<40 {
            var batch: [IncomingLine] = []
            for _ in 0..<Int.random(in: 1...80, using: &rng) {
                let key = keys.randomElement(using: &rng)!
                // 3 days, coarse timestamps so ties happen.
                let ts = day0 + Int64.random(in: 0..<72, using: &rng) * hour + Int64.random(in: 0..<5, using: &rng)
                let message = String(repeating: "é", count: Int.random(in: 0...3, using: &rng)) + "s\(step) \(batch.count)"
                // Mostly the stream's own metadata (stored once per block), sometimes another
                // value, empty, or one of its own.
                let fields = [
                    #"{"pod":"\#(key.job)"}"#, #"{"pod":"\#(key.job)"}"#, #"{"pod":"\#(key.job)"}"#, #"{"stream":"stderr"}"#, "",
                    #"{"n":\#(nextLSN)}"#,
                ].randomElement(using: &rng)!
                batch.append(line(key, ts, message, fields: fields))
                model.append(ModelLine(key: key, lsn: nextLSN, ts: ts, message: message, fields: fields))
                nextLSN += 1
            }
            _ = try await store.append(batch)
            if Int.random(in: 0..<10, using: &rng) == 0 {
                store.close()
                store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
            }
            if Int.random(in: 0..<15, using: &rng) == 0 { try await store.sealAll() }
        }
        defer { store.close() }

        let selectors: [StreamSelector] = [
            StreamSelector(job: "job0"), StreamSelector(workflow: "wf1"), StreamSelector(index: "idx0"),
            StreamSelector(index: "idx1", workflow: "wf2"), StreamSelector(),
        ]
        for selector in selectors {
            let expectedAsc = model.filter { selector.matches($0.key) }.sorted {
                ($0.ts, $0.lsn) < ($1.ts, $1.lsn)
            }
            for order in ReadOrder.allCases {
                let expected = order == .ascending ? expectedAsc : expectedAsc.reversed()
                let pageSize = Int.random(in: 1...50, using: &rng)
                let got = try store.readAll(selector, order: order, pageSize: pageSize)
                #expect(got.map(\.lsn) == expected.map(\.lsn), "seed \(seed) \(selector) \(order) page \(pageSize)")
                #expect(got.map(\.message) == expected.map(\.message))
                #expect(got.map(\.fields) == expected.map(\.fields))
                #expect(got.map(\.timestamp) == expected.map(\.ts))
            }
            // A random time window.
            let from = day0 + Int64.random(in: 0..<48, using: &rng) * hour
            let to = from + Int64.random(in: 1..<30, using: &rng) * hour
            let ids = store.streams(matching: selector).map(\.id)
            let window = try store.read(LogQuery(streams: ids, limit: 100_000, from: from, to: to))
            #expect(window.lines.map(\.lsn) == expectedAsc.filter { $0.ts >= from && $0.ts < to }.map(\.lsn))
        }
        let stats = try store.stats()
        #expect(stats.lines == UInt64(model.count))
        #expect(stats.lastLSN == nextLSN - 1)
        #expect(stats.segments.reduce(0) { $0 + $1.blockLines + $1.headLines } == model.count)
        // The metrics scrape's figures (the blocks not read) are the same but for the blocks'.
        var light = try store.stats(countingBlocks: false)
        #expect(light.segments.allSatisfy { $0.blocks == 0 && $0.blockBytes == 0 && $0.blockLines == 0 })
        for i in light.segments.indices {
            light.segments[i].blocks = stats.segments[i].blocks
            light.segments[i].blockBytes = stats.segments[i].blockBytes
            light.segments[i].blockLines = stats.segments[i].blockLines
        }
        light.blockBytes = stats.blockBytes
        #expect(light == stats)
    }
}
