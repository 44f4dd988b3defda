import Foundation
import Testing
@testable import LogStore

@Suite("Idempotent appends")
struct DedupTests {
    let key = StreamKey(index: "fluentbit-job_log", workflow: "", job: "reana-run-job-1")

    @Test func resentChunkIsStoredOnceAcrossRestarts() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let body = Array("the request body".utf8)
        let chunk = ChunkKey(body: body, context: "/_bulk")
        let lines = (0..<5).map { line(key, day0 + Int64($0), "l\($0)") }
        var store = try Storage.open(directory: dir.path, logger: testLogger)
        let first = try await store.append(lines, chunk: chunk)
        #expect(!first.duplicateChunk)
        let again = try await store.append(lines, chunk: chunk)
        #expect(again.duplicateChunk)
        #expect(again.firstLSN == first.firstLSN && again.lastLSN == first.lastLSN)
        // The same chunk twice in one group commit.
        let other = ChunkKey(body: Array("another body".utf8), context: "/_bulk")
        let current = store
        async let a = current.append(lines, chunk: other)
        async let b = current.append(lines, chunk: other)
        let (ra, rb) = try await (a, b)
        #expect(ra.duplicateChunk != rb.duplicateChunk)
        #expect(try store.readAll(StreamSelector(job: key.job)).count == 10)
        store.close()
        // After a restart the chunk is still recognised.
        store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        #expect(try await store.append(lines, chunk: chunk).duplicateChunk)
        // A different context (another index path) is another chunk.
        #expect(try await !store.append(lines, chunk: ChunkKey(body: body, context: "/other/_bulk")).duplicateChunk)
        #expect(try store.readAll(StreamSelector(job: key.job)).count == 15)
    }

    @Test func documentIDsDeduplicatePerIndexAndDay() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        func doc(_ id: String, _ message: String, index: String = "fluentbit-job_log") -> IncomingLine {
            var l = line(StreamKey(index: index, workflow: "", job: "j"), day0 + 5, message)
            l.id = id
            return l
        }
        let r1 = try await store.append([doc("a", "first a"), doc("b", "b"), doc("a", "a again in the same request")])
        #expect(r1.duplicateIDs == 1)
        let r2 = try await store.append([doc("a", "a in a later request"), doc("c", "c"), doc("a", "other index", index: "x")])
        #expect(r2.duplicateIDs == 1)
        #expect(try store.readAll(StreamSelector(job: "j")).map(\.message).sorted() == ["b", "c", "first a", "other index"])
        #expect(try store.stats().lines == 4)
    }

    @Test func xxh64MatchesReferenceVectors() {
        // Reference values of XXH64 from the xxHash test suite.
        #expect([UInt8]().withUnsafeBytes { XXH64.hash($0, seed: 0) } == 0xEF46_DB37_51D8_E999)
        #expect(Array("a".utf8).withUnsafeBytes { XXH64.hash($0, seed: 0) } == 0xD24E_C4F1_A98C_6E5B)
        #expect(Array("abc".utf8).withUnsafeBytes { XXH64.hash($0, seed: 0) } == 0x44BC_2CF5_AD77_0999)
        let long = Array("Nobody inspects the spammish repetition".utf8)
        #expect(long.withUnsafeBytes { XXH64.hash($0, seed: 0) } == 0xFBCE_A83C_8A37_8BF1)
    }
}
