import Foundation
import Testing
import TestSupport

@testable import LogStore

/// Client `_id`s, index deletion and per-index retention against real stores.
@Suite("Documents and indices")
struct DocumentTests {
    let dayNanos: Int64 = 86_400 * nanosPerSecond

    func doc(_ index: String, _ id: String?, _ message: String, at ts: Int64, overwrite: Bool = false, job: String = "j") -> IncomingLine {
        IncomingLine(
            stream: StreamKey(index: index, workflow: "", job: job), timestamp: ts, message: Array(message.utf8), id: id, overwrite: overwrite)
    }

    /// Every message of `index`, sorted.
    func messages(_ store: Storage, _ index: String) throws -> [String] {
        let ids = store.streams(matching: StreamSelector(index: index)).map(\.id)
        if ids.isEmpty { return [] }
        return try store.read(LogQuery(streams: ids, limit: 100_000, order: .ascending)).lines.map(\.message).sorted()
    }

    @Test func createConflictsAndIndexReplacesInEveryRead() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var store = try Storage.open(directory: dir.path, logger: testLogger)
        let r1 = try await store.append([doc("i", "a", "a1", at: day0 + 1), doc("i", "b", "b1", at: day0 + 2), doc("i", "a", "a dup", at: day0 + 3)])
        #expect(r1.conflicts == [2])
        #expect(r1.duplicateIDs == 1)
        // `index` replaces, the old version gone from reads, counts and the id lookup.
        let r2 = try await store.append([doc("i", "a", "a2", at: day0 + 4, overwrite: true), doc("i", "c", "c1", at: day0 + 5, overwrite: true)])
        #expect(r2.replaced == [0] && r2.conflicts.isEmpty)
        #expect(try messages(store, "i") == ["a2", "b1", "c1"])
        #expect(store.streams(matching: StreamSelector(index: "i")).reduce(0) { $0 + $1.stats.lines } == 3)
        #expect(try store.document(index: "i", id: "a")?.line.message == "a2")
        #expect(try store.document(index: "i", id: "zzz") == nil)
        // Sealed into a block, then replaced from another day: the block is written again.
        try await store.sealAll()
        _ = try await store.append([doc("i", "b", "b2 next day", at: day0 + dayNanos + 1, overwrite: true)])
        #expect(try messages(store, "i") == ["a2", "b2 next day", "c1"])
        #expect(try store.search(SearchRequest(query: try QueryParser.parse("b1"), limit: 10)).lines.isEmpty)
        #expect(try store.search(SearchRequest(query: try QueryParser.parse("b2"), limit: 10)).lines.count == 1)
        // Client ids for hits; a line without one answers its generated id (its LSN).
        _ = try await store.append([doc("i", nil, "no id", at: day0 + 6)])
        let page = try store.readLines(LogQuery(streams: store.streams(matching: StreamSelector(index: "i")).map(\.id), limit: 100, order: .ascending))
        let ids = store.documentIDs(for: page.lines)
        #expect(Set(ids.values) == ["a", "b", "c"])
        let plain = try #require(page.lines.first { ids[$0.lsn] == nil })
        #expect(try store.document(index: "i", id: Storage.generatedID(plain.lsn))?.line.message == "no id")
        let withID = try #require(page.lines.first { ids[$0.lsn] != nil })
        #expect(try store.document(index: "i", id: Storage.generatedID(withID.lsn)) == nil)
        // Everything survives a restart.
        store.close()
        store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        #expect(try messages(store, "i") == ["a2", "b2 next day", "c1", "no id"])
        #expect(try store.document(index: "i", id: "b")?.line.message == "b2 next day")
        let r3 = try await store.append([doc("i", "b", "b3", at: day0 + 7)])
        #expect(r3.conflicts == [0])
        #expect(try store.stats().lines == 4)
        // Compaction keeps the ids (hits and `_doc` alike) and the conflicts.
        _ = try await store.compact(now: day0 + 10 * dayNanos)
        let compacted = try store.readLines(
            LogQuery(streams: store.streams(matching: StreamSelector(index: "i")).map(\.id), limit: 100, order: .ascending))
        #expect(Set(store.documentIDs(for: compacted.lines).values) == ["a", "b", "c"])
        #expect(try store.document(index: "i", id: "a")?.line.message == "a2")
        #expect(try await store.append([doc("i", "c", "c again", at: day0 + 8)]).conflicts == [0])
        _ = try await store.append([doc("i", "a", "a3", at: day0 + 9, overwrite: true)])
        #expect(try messages(store, "i") == ["a3", "b2 next day", "c1", "no id"])
    }

    @Test func deletedIndexIsHiddenAtOnceAndStartsAfresh() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var store = try Storage.open(directory: dir.path, logger: testLogger)
        _ = try await store.append([doc("gone", "x", "old x", at: day0 + 1), doc("gone", nil, "old", at: day0 + 2), doc("kept", nil, "k", at: day0 + 3)])
        #expect(try await store.createIndex("empty"))
        #expect(try await !store.createIndex("empty"))
        #expect(store.indexNames() == ["gone", "kept", "empty"])
        #expect(try await store.deleteIndices(["gone", "empty", "never"]) == ["gone", "empty"])
        #expect(store.indexNames() == ["kept"])
        #expect(try messages(store, "gone").isEmpty)
        #expect(try store.search(SearchRequest(query: try QueryParser.parse("old"), limit: 10)).lines.isEmpty)
        // The id is free again; the index's new lines are a new stream.
        let r = try await store.append([doc("gone", "x", "new x", at: day0 + 4)])
        #expect(r.conflicts.isEmpty)
        #expect(try messages(store, "gone") == ["new x"])
        #expect(store.indexSummaries().first { $0.name == "gone" }?.documents == 1)
        store.close()
        store = try Storage.open(directory: dir.path, logger: testLogger)
        #expect(try messages(store, "gone") == ["new x"])
        #expect(try store.document(index: "gone", id: "x")?.line.message == "new x")
        _ = try await store.append([doc("gone", nil, "after restart", at: day0 + 5)])
        #expect(try messages(store, "gone") == ["after restart", "new x"])
        // Compaction removes the deleted lines from the file.
        _ = try await store.compact(now: day0 + 10 * dayNanos)
        #expect(try store.stats().lines == 3)
        store.close()
    }

    @Test func retentionPerIndexPattern() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        for d in 0..<10 {
            let ts = day0 + Int64(d) * dayNanos
            _ = try await store.append([doc("fluentbit-a", nil, "fb \(d)", at: ts), doc("other", nil, "o \(d)", at: ts + 1)])
        }
        for d in 0..<3 { _ = try await store.append([doc("fluentbit-only", nil, "only \(d)", at: day0 + Int64(d) * dayNanos)]) }
        // Now: the start of day 10. fluentbit-* keeps 3 days, everything else 7.
        let now = day0 + 10 * dayNanos
        let policy = RetentionPolicy(perIndex: [
            IndexRetention(pattern: "fluentbit-*", maxAge: .seconds(3 * 86_400)), IndexRetention(pattern: "*", maxAge: .seconds(7 * 86_400)),
        ])
        let report = try await store.applyRetention(policy, now: now)
        #expect(report.dropped == (0..<3).map { Day.name(Day.of(day0) + Int32($0)) })
        #expect(try messages(store, "fluentbit-a") == (7..<10).map { "fb \($0)" }.sorted())
        #expect(try messages(store, "other") == (3..<10).map { "o \($0)" }.sorted())
        #expect(try messages(store, "fluentbit-only").isEmpty)
        #expect(store.streams(matching: StreamSelector(index: "other")).reduce(0) { $0 + $1.stats.lines } == 7)
        // A day holding only expired indices is dropped whole the next time.
        let again = try await store.applyRetention(policy, now: now + 1 * dayNanos)
        #expect(again.dropped == [Day.name(Day.of(day0) + 3)])
        #expect(try messages(store, "other") == (4..<10).map { "o \($0)" }.sorted())
    }

    @Test func generatedIDsRoundTrip() {
        var rng = SeededRandom(seed: 7)
        for lsn in [LSN(0), 1, 63, 64, LSN.max] + (0..<1000).map({ _ in LSN.random(in: 0...LSN.max, using: &rng) }) {
            let id = GeneratedID.string(lsn)
            #expect(id.utf8.count == GeneratedID.count && GeneratedID.lsn(id) == lsn)
        }
        #expect(GeneratedID.string(1) == "AAAAAAAAAAB")
        for notOne in ["1", "ls-1", "AAAAAAAAAA", "AAAAAAAAAAAA", "AAAAAAAAAA=", "_AAAAAAAAAA"] { #expect(GeneratedID.lsn(notOne) == nil) }
    }

    @Test func zeroDedupWindowStoresEveryResend() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = StorageOptions()
        options.dedupWindow = .zero
        let store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let chunk = ChunkKey(body: Array("body".utf8), context: "/_bulk")
        for _ in 0..<2 { #expect(try await !store.append([doc("i", nil, "same", at: day0)], chunk: chunk).duplicateChunk) }
        #expect(try messages(store, "i") == ["same", "same"])
    }

    /// Random sequences of create / index / delete-index (and seals and restarts) against a
    /// dictionary of what each index holds by id.
    @Test(arguments: 0..<50) func idSemanticsMatchADictionaryModel(seed: UInt64) async throws {
        var rng = SeededRandom(seed: seed)
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var store = try Storage.open(directory: dir.path, logger: testLogger)
        var model: [String: [String: String]] = [:]  // index → id → message
        var plain: [String: [String]] = [:]  // index → messages without id
        let indices = ["a", "b"]
        var n = 0
        for step in 0..<40 {
            let roll = Int.random(in: 0..<20, using: &rng)
            if roll == 0 {
                let index = indices.randomElement(using: &rng)!
                try await store.deleteIndices([index])
                model[index] = nil
                plain[index] = nil
                continue
            }
            if roll == 1 { try await store.sealAll() }
            if roll == 2 {
                store.close()
                store = try Storage.open(directory: dir.path, logger: testLogger)
            }
            var batch: [IncomingLine] = []
            var expectConflicts: [Int32] = []
            var pending = model
            for i in 0..<Int.random(in: 1...8, using: &rng) {
                n += 1
                let index = indices.randomElement(using: &rng)!
                let ts = day0 + Int64(Int.random(in: 0..<3, using: &rng)) * dayNanos + Int64(n)
                let message = "m\(n)"
                if Int.random(in: 0..<5, using: &rng) == 0 {
                    batch.append(doc(index, nil, message, at: ts))
                    plain[index, default: []].append(message)
                    continue
                }
                let id = "id\(Int.random(in: 0..<6, using: &rng))"
                let overwrite = Bool.random(using: &rng)
                batch.append(doc(index, id, message, at: ts, overwrite: overwrite, job: "j\(Int.random(in: 0..<2, using: &rng))"))
                if pending[index]?[id] != nil && !overwrite {
                    expectConflicts.append(Int32(i))
                } else {
                    pending[index, default: [:]][id] = message
                }
            }
            let receipt = try await store.append(batch)
            #expect(receipt.conflicts == expectConflicts, "seed \(seed) step \(step)")
            model = pending
            for index in indices {
                let expected = (Array((model[index] ?? [:]).values) + (plain[index] ?? [])).sorted()
                let actual = try messages(store, index)
                #expect(actual == expected, "seed \(seed) step \(step) index \(index): \(actual) vs \(expected) after roll \(roll)")
                for (id, message) in model[index] ?? [:] {
                    #expect(try store.document(index: index, id: id)?.line.message == message, "seed \(seed) step \(step)")
                }
            }
        }
        store.close()
    }
}
