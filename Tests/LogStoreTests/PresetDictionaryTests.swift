import Foundation
import TestSupport
import Testing
@testable import LogStore

/// Compaction with a day's preset dictionary (block codec 3): smaller days, the same reads.
@Suite("Preset dictionary")
struct PresetDictionaryTests {
    let sizes = CompactionSizeTests()
    let dayNanos: Int64 = 86_400 * nanosPerSecond

    /// Blocks of the day of `day0` by codec.
    func codecs(_ store: Storage) throws -> [UInt8: Int] {
        let segment = try #require(store.segment(Day.of(day0)))
        var counts: [UInt8: Int] = [:]
        try SegmentSnapshot.read(segment) { snapshot in
            try snapshot.forEachBlock { block, _, _ in
                counts[block.header.codec, default: 0] += 1
                return true
            }
        }
        return counts
    }

    /// `streams` jobs of a few lines each (1…`maxLines`) at random times of the day, words of
    /// the shared vocabulary with numbers, the metadata FluentBit repeats; sealed.
    func fillSmallStreams(_ store: Storage, streams: Int, maxLines: Int, seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        var batch: [IncomingLine] = []
        for s in 0..<streams {
            let key = StreamKey(index: "fluentbit-job_log", workflow: "w\(s % 7)", job: "job-\(s)")
            for i in 0..<Int.random(in: 1...maxLines, using: &random) {
                let text = (0..<Int.random(in: 2...12, using: &random)).map { _ in
                    sizes.words.randomElement(using: &random)!
                }.joined(separator: " ")
                let ts = day0 + Int64.random(in: 0..<(dayNanos - 1), using: &random)
                let fields = #"{"kubernetes.labels.user-uuid":"u\#(s % 5)","kubernetes.labels.job-name":"job-\#(s)","stream":"stdout"}"#
                batch.append(line(key, ts, "step \(i) of job \(s): \(text) after \(Int.random(in: 0..<10_000, using: &random)) ms", fields: fields))
            }
            if batch.count >= 500 {
                _ = try await store.append(batch)
                batch = []
            }
        }
        if !batch.isEmpty { _ = try await store.append(batch) }
        try await store.sealAll()
    }

    @Test func manySmallStreamsCompactWithTheDaysDictionaryAndReadTheSame() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, options: sizes.quiet, logger: testLogger)
        defer { store.close() }
        try await fillSmallStreams(store, streams: 400, maxLines: 5, seed: 7)
        let reads = try sizes.everyRead(store)
        #expect(try codecs(store)[3] == nil)

        let day = try #require(try await store.compact(now: day0 + dayNanos + 1).days.first)
        #expect(!day.kept && day.bytesAfter < day.bytesBefore)
        let segment = try #require(store.segment(Day.of(day0)))
        let dictionary = try #require(try segment.dictionary.bytes())
        #expect(!dictionary.isEmpty && dictionary.count <= PresetDictionary.maxSize)
        let counts = try codecs(store)
        #expect((counts[3] ?? 0) * 2 > counts.values.reduce(0, +), "most small blocks use the dictionary: \(counts)")
        try sizes.expectSame(reads, try sizes.everyRead(store))

        // A late line: the next compaction keeps the day's dictionary (its packed blocks need it).
        let key = StreamKey(index: "fluentbit-job_log", workflow: "w0", job: "job-0")
        _ = try await store.append([line(key, day0 + dayNanos - 5, "late step of job 0: connection refused retry")])
        let withLate = try sizes.everyRead(store)
        let again = try #require(try await store.compact(now: day0 + dayNanos + 1).days.first)
        #expect(again.bytesAfter <= again.bytesBefore)
        #expect(try store.segment(Day.of(day0))?.dictionary.bytes() == dictionary)
        try sizes.expectSame(withLate, try sizes.everyRead(store))

        // Reopened: the dictionary is read from the file.
        store.close()
        let reopened = try Storage.open(directory: dir.path, options: sizes.quiet, logger: testLogger)
        defer { reopened.close() }
        try sizes.expectSame(withLate, try sizes.everyRead(reopened))
    }

    @Test func theDictionaryIsStoredCheckedAndRefusedWhenCorrupt() throws {
        let dictionary = Array(String(repeating: "connection refused by peer ", count: 40).utf8)
        let stored = PresetDictionary.stored(dictionary)
        #expect(stored.count < dictionary.count)
        #expect(try stored.withUnsafeBytes { try PresetDictionary.parse($0) } == dictionary)
        var broken = stored
        broken[5] ^= 1
        #expect(throws: CorruptDataError.self) { try broken.withUnsafeBytes { try PresetDictionary.parse($0) } }
        // Codec 3 round trip; another dictionary does not give the payload back.
        let payload = Array("connection refused by peer after 12 ms; connection refused by peer after 13 ms".utf8)
        let deflated = payload.withUnsafeBytes { PresetDictionary.deflate($0, dictionary: dictionary, level: 9) }
        let plain = payload.withUnsafeBytes { Compression.deflate($0, level: 9, raw: true) }
        #expect(deflated.count < plain.count)
        #expect(try deflated.withUnsafeBytes { try PresetDictionary.inflate($0, dictionary: dictionary, expectedSize: payload.count) } == payload)
        let other = Array(String(repeating: "x", count: 200).utf8)
        #expect(throws: CorruptDataError.self) {
            let out = try deflated.withUnsafeBytes { try PresetDictionary.inflate($0, dictionary: other, expectedSize: payload.count) }
            if out != payload { throw CorruptDataError("different bytes") }
        }
    }

    /// Random small streams: every read is the same before compaction, after it (with the
    /// dictionary) and after reopening.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomSmallStreamsReadTheSameAfterCompactionWithTheDictionary(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, options: sizes.quiet, logger: testLogger)
        defer { store.close() }
        try await fillSmallStreams(
            store, streams: Int.random(in: 150...400, using: &random), maxLines: Int.random(in: 1...12, using: &random), seed: seed)
        let reads = try sizes.everyRead(store)
        let day = try #require(try await store.compact(now: day0 + dayNanos + 1).days.first)
        #expect(day.bytesAfter <= day.bytesBefore)
        #expect(try codecs(store)[3] ?? 0 > 0)
        try sizes.expectSame(reads, try sizes.everyRead(store))
        store.close()
        let reopened = try Storage.open(directory: dir.path, options: sizes.quiet, logger: testLogger)
        defer { reopened.close() }
        try sizes.expectSame(reads, try sizes.everyRead(reopened))
    }
}
