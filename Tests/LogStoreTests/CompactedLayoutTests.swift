import Foundation
import TestSupport
import Testing
@testable import LogStore

/// What a compacted day stores in fewer bytes: block directory entries in the short form, chunk
/// records only within the dedup window; reads and resends answer as before.
@Suite("Compacted day layout")
struct CompactedLayoutTests {
    let sizes = CompactionSizeTests()

    @Test func blockDirectoryEntriesRoundTripInBothForms() throws {
        var random = SeededRandom(seed: 44)
        func anyInt() -> UInt64 {
            // Every varint length, edges included.
            let bits = Int(random.next() % 65)
            return bits == 64 ? UInt64.max : random.next() & ((1 << UInt64(bits)) - 1)
        }
        var refs: [BlockRef] = []
        for number in 0..<5000 as Range<UInt32> {
            let first = anyInt()
            let min = Int64(bitPattern: anyInt())
            var ref = try Self.zero.withUnsafeBytes { try BlockRef(number: number, decoding: $0) }
            ref.stream = anyInt()
            ref.firstLSN = first
            ref.lastLSN = first &+ Swift.min(anyInt(), UInt64.max - first)
            ref.minTimestamp = min
            let (max, overflow) = min.addingReportingOverflow(Int64(bitPattern: anyInt() >> 1))
            ref.maxTimestamp = overflow ? Int64.max : max
            ref.count = Int(anyInt() % (UInt64(UInt32.max) + 1))
            refs.append(ref)
        }
        // Exactly 44 bytes before its pad byte: stream, span, min and max − min of 10 bytes, first
        // LSN of 1, a count of 3.
        var edge = refs[0]
        (edge.stream, edge.firstLSN, edge.lastLSN, edge.minTimestamp, edge.maxTimestamp, edge.count) = (.max, 0, .max, .min, .max, 20_000)
        refs.append(edge)
        for ref in refs {
            let short = ref.compactEncoded()
            #expect(short.count != BlockRef.encodedSize)
            #expect(try short.withUnsafeBytes { try BlockRef(number: ref.number, decoding: $0) } == ref)
            #expect(try ref.encoded().withUnsafeBytes { try BlockRef(number: ref.number, decoding: $0) } == ref)
        }
        #expect(edge.compactEncoded().count == BlockRef.encodedSize + 1)
        #expect(refs.map { $0.compactEncoded().count }.reduce(0, +) < refs.count * BlockRef.encodedSize)
    }

    @Test func blockPointersRoundTripInBothFormsAndBlocksAreNotPointers() throws {
        var random = SeededRandom(seed: 16)
        func any() -> UInt32 {
            let bits = Int(random.next() % 33)
            return bits == 32 ? UInt32.max : UInt32(truncatingIfNeeded: random.next() & ((1 << UInt64(bits)) - 1))
        }
        for _ in 0..<5000 {
            let pointer = BlockPointer(pack: any(), offset: any(), length: any())
            let short = pointer.shortEncoded()
            #expect(short.count <= BlockPointer.encodedSize && short.count >= 4)
            #expect(try short.withUnsafeBytes { try BlockPointer.decode($0) } == pointer)
            #expect(try pointer.encoded().withUnsafeBytes { try BlockPointer.decode($0) } == pointer)
        }
        #expect(BlockPointer(pack: 2, offset: 700_000, length: 300).shortEncoded().count == 7)
        let block = BlockCodec.encode([BlockLine(timestamp: 1, lsn: 1, message: Array("p".utf8), fields: [])])
        #expect(try block.withUnsafeBytes { try BlockPointer.decode($0) } == nil)
        // A short pointer with bytes left over is refused, not misread.
        var long = BlockPointer(pack: 1, offset: 2, length: 3).shortEncoded()
        long.append(0)
        #expect(throws: CorruptDataError.self) { try long.withUnsafeBytes { try BlockPointer.decode($0) } }
    }

    /// A fixed-form entry of zeros, to start refs from.
    static let zero = [UInt8](repeating: 0, count: BlockRef.encodedSize)

    @Test func aCompactedDayKeepsChunkRecordsOfTheDedupWindowOnlyAndReadsTheSame() async throws {
        let key = StreamKey(index: "fluentbit-job_log", workflow: "w0", job: "job-0")
        for window in [3600, 1] {
            let dir = TempDirectory()
            defer { dir.cleanup() }
            var options = sizes.quiet
            options.dedupWindow = .seconds(window)
            var store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
            let chunk = ChunkKey(body: Array("body \(window)".utf8), context: "/_bulk")
            let lines = (0..<40).map { line(StreamKey(index: key.index, workflow: "w\($0 % 3)", job: "job-\($0 % 9)"), day0 + Int64($0) * 600 * nanosPerSecond, "refused connection \($0) block") }
            _ = try await store.append(lines, chunk: chunk)
            try await store.sealAll()
            let reads = try sizes.everyRead(store)
            // Past a one-second window (and the second of margin compaction adds).
            if window == 1 { try await Task.sleep(for: .seconds(2.5)) }
            let day = try #require(try await store.compact(now: day0 + sizes.dayNanos + 1).days.first)
            #expect(!day.kept)
            let segment = try #require(store.segment(Day.of(day0)))
            let (chunks, lengths) = try segment.env.read { txn in
                var lengths = Set<Int>()
                try txn.scan(segment.blockDir) { _, v in
                    lengths.insert(v.count)
                    return true
                }
                return (try txn.count(segment.chunks), lengths)
            }
            #expect(chunks == (window == 1 ? 0 : 1))
            let pointers = try segment.env.read { txn in
                var lengths = Set<Int>()
                try txn.scan(segment.blocks) { _, v in
                    lengths.insert(v.count)
                    return true
                }
                return lengths
            }
            #expect(!pointers.isEmpty && pointers.allSatisfy { $0 < BlockPointer.encodedSize }, "short block pointers: \(pointers)")
            #expect(!lengths.isEmpty && !lengths.contains(BlockRef.encodedSize), "\(lengths)")
            try sizes.expectSame(reads, try sizes.everyRead(store))
            if window > 1 {
                // The resend within the window is recognised from the compacted day's record.
                #expect(try await store.append(lines, chunk: chunk).duplicateChunk)
            }
            store.close()
            store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
            defer { store.close() }
            try sizes.expectSame(reads, try sizes.everyRead(store))
            if window > 1 { #expect(try await store.append(lines, chunk: chunk).duplicateChunk) }
        }
    }

    /// A day compacted within the dedup window of its last request keeps that request's
    /// record; the next compaction, past the window, rewrites the day without it although
    /// nothing else changed: smaller, every read the same. (The window is set per open: an hour
    /// for the first store, a second for the second, opened seconds later.)
    @Test func aCompactedDayIsRewrittenOnceItsChunkRecordsExpire() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = sizes.quiet
        options.dedupWindow = .seconds(3600)
        var store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        let key = StreamKey(index: "fluentbit-job_log", workflow: "w0", job: "job-0")
        for request in 0..<200 {
            let lines = (0..<2).map { line(key, day0 + Int64(request * 2 + $0) * nanosPerSecond, "refused connection, request \(request) line \($0)") }
            _ = try await store.append(lines, chunk: ChunkKey(body: Array("body \(request)".utf8), context: "/_bulk"))
        }
        try await store.sealAll()
        let reads = try sizes.everyRead(store)
        let first = try #require(try await store.compact(now: day0 + sizes.dayNanos + 1).days.first)
        #expect(!first.kept)
        let segment = try #require(store.segment(Day.of(day0)))
        #expect(try segment.env.read { txn in try txn.count(segment.chunks) } == 200)
        // Nothing changed and the records are young: the day is left as it is.
        let again = try #require(try await store.compact(now: day0 + sizes.dayNanos + 1).days.first)
        #expect(again.kept && again.bytesAfter == first.bytesAfter)
        #expect(store.segment(Day.of(day0))?.generation == segment.generation)
        store.close()
        try await Task.sleep(for: .seconds(2.5))
        options.dedupWindow = .seconds(1)
        store = try Storage.open(directory: dir.path, options: options, logger: testLogger)
        defer { store.close() }
        let expired = try #require(try await store.compact(now: day0 + sizes.dayNanos + 1).days.first)
        #expect(!expired.kept && expired.bytesAfter < first.bytesAfter, "\(first.bytesAfter) → \(expired.bytesAfter)")
        let rewritten = try #require(store.segment(Day.of(day0)))
        #expect(rewritten.generation == segment.generation + 1)
        #expect(try rewritten.env.read { txn in try txn.count(rewritten.chunks) } == 0)
        try sizes.expectSame(reads, try sizes.everyRead(store))
    }
}
