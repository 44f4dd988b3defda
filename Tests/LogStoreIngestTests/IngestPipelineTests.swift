import Foundation
import Logging
import LogStore
import LogStoreIngest
import Testing

/// The pipeline the server and `logstore import` share, against a real store in a temporary
/// directory.
@Suite("Ingest pipeline")
struct IngestPipelineTests {
    static let bulkBody = Array(
        """
        {"create":{"_index":"logs"}}
        {"@timestamp":"2024-09-24T11:49:58.253Z","log":"one","kubernetes":{"labels":{"job-name":"j1"}}}
        {"create":{"_index":"logs"}}
        {"@timestamp":"2024-09-24T11:49:58.254Z","log":"two","kubernetes":{"labels":{"job-name":"j1"}}}
        {"create":{"_index":"logs"}}
        {"@timestamp":"not a time","log":"bad","kubernetes":{"labels":{"job-name":"j1"}}}
        {"create":{"_index":"logs"}}
        {"@timestamp":"2024-09-24T11:49:58.255Z","log":"three","kubernetes":{"labels":{"job-name":"j2"}}}

        """.utf8)

    func withStore(_ body: (Storage) async throws -> Void) async throws {
        let path = NSTemporaryDirectory() + "logstore-pipeline-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var logger = Logger(label: "logstore.test")
        logger.logLevel = .warning
        let store = try Storage.open(directory: path, logger: logger)
        defer { store.close() }
        try await body(store)
    }

    func messages(_ store: Storage, job: String) throws -> [String] {
        let ids = store.streams(matching: StreamSelector(job: job)).map(\.id)
        return try store.read(LogQuery(streams: ids)).lines.map(\.message)
    }

    @Test func bulkBodyIsStoredOnceInOneBatch() async throws {
        try await withStore { (store: Storage) async throws in
            let pipeline = IngestPipeline(storage: store, documentParser: DocumentParser())
            let (parsed, chunk) = Self.bulkBody.withUnsafeBufferPointer {
                pipeline.parseBulk($0, defaultIndex: nil, arrivalTime: 0)
            }
            #expect(parsed.items.count == 4 && parsed.failures == 1)
            #expect(parsed.batch.count == 3)
            #expect(parsed.batch.streams.map(\.job) == ["j1", "j2"])
            let first = try #require(try await pipeline.store(parsed.batch, chunk: chunk))
            #expect(first.count == 3 && !first.duplicateChunk)

            // The same body again (a retry, or a file imported twice) is recognised by its key.
            let (again, againKey) = Self.bulkBody.withUnsafeBufferPointer {
                pipeline.parseBulk($0, defaultIndex: nil, arrivalTime: 0)
            }
            #expect(againKey == chunk)
            let second = try #require(try await pipeline.store(again.batch, chunk: againKey))
            #expect(second.duplicateChunk)
            #expect(second.firstLSN == first.firstLSN && second.lastLSN == first.lastLSN)
            #expect(try messages(store, job: "j1") == ["one", "two"])
            #expect(try messages(store, job: "j2") == ["three"])
            #expect(try store.stats().lines == 3)
        }
    }

    @Test func lineFormatsShareTheDocumentParserAndNameTheirLines() async throws {
        try await withStore { (store: Storage) async throws in
            let pipeline = IngestPipeline(storage: store, documentParser: DocumentParser())
            let body = Array(
                """
                {"time":"2024-09-24T11:49:58Z","log":"a","job":"j"}

                {"time":"2024-09-24T11:49:59Z","log":
                {"time":"2024-09-24T11:50:00Z","log":"b","job":"j"}

                """.utf8)
            let (parsed, chunk) = body.withUnsafeBufferPointer {
                pipeline.parseLines($0, format: .jsonLines, index: "i", arrivalTime: 0)
            }
            #expect(parsed.batch.count == 2 && parsed.documents == 3)
            #expect(parsed.failures.map(\.document) == [2])
            #expect(parsed.failures.map(\.line) == [3])
            // The same bytes sent as another format or to another index are another chunk.
            let (_, otherIndex) = body.withUnsafeBufferPointer {
                pipeline.parseLines($0, format: .jsonLines, index: "other", arrivalTime: 0)
            }
            #expect(otherIndex != chunk)
            #expect(try await pipeline.store(parsed.batch, chunk: chunk)?.count == 2)
            #expect(try messages(store, job: "j") == ["a", "b"])
            // Nothing to store: no append at all.
            #expect(try await pipeline.store(LineBatch(bytes: [], lines: [], streams: []), chunk: chunk) == nil)
        }
    }
}
