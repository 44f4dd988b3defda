import Foundation
import TestSupport
import Testing
@testable import LogStore

/// Stream records: any key round trips; REANA's UUIDs take 16 bytes; records in the form
/// written before read the same; a store whose catalog holds old records opens with them.
@Suite("Stream records")
struct StreamRecordTests {
    /// The form written before: three length-prefixed UTF-8 strings.
    static func plain(_ key: StreamKey) -> [UInt8] {
        var w = ByteWriter()
        w.lengthPrefixed(key.index.utf8)
        w.lengthPrefixed(key.workflow.utf8)
        w.lengthPrefixed(key.job.utf8)
        return w.bytes
    }

    @Test func anyKeyRoundTripsInBothForms() throws {
        var random = SeededRandom(seed: 36)
        let alphabet = Array("abcdefABCDEF0123456789-_./ é中🙂".unicodeScalars)
        func uuid(upper: Bool) -> String {
            let text = UUID(uuid: (
                UInt8(truncatingIfNeeded: random.next()), UInt8(truncatingIfNeeded: random.next()), UInt8(truncatingIfNeeded: random.next()),
                UInt8(truncatingIfNeeded: random.next()), UInt8(truncatingIfNeeded: random.next()), UInt8(truncatingIfNeeded: random.next()),
                UInt8(truncatingIfNeeded: random.next()), UInt8(truncatingIfNeeded: random.next()), UInt8(truncatingIfNeeded: random.next()),
                UInt8(truncatingIfNeeded: random.next()), UInt8(truncatingIfNeeded: random.next()), UInt8(truncatingIfNeeded: random.next()),
                UInt8(truncatingIfNeeded: random.next()), UInt8(truncatingIfNeeded: random.next()), UInt8(truncatingIfNeeded: random.next()),
                UInt8(truncatingIfNeeded: random.next()))).uuidString
            return upper ? text : text.lowercased()
        }
        func part() -> String {
            let text = String(String.UnicodeScalarView((0..<Int(random.next() % 60)).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }))
            switch random.next() % 5 {
            case 0: return text + uuid(upper: false)
            case 1: return uuid(upper: random.next() % 2 == 0)
            case 2: return text + uuid(upper: false) + "x"
            case 3: return String(uuid(upper: false).dropFirst())
            default: return text
            }
        }
        for _ in 0..<3000 {
            let key = StreamKey(index: part(), workflow: part(), job: part())
            let record = Keys.encodeStreamKey(key)
            #expect(try record.withUnsafeBytes { try Keys.decodeStreamKey($0) } == key)
            #expect(try Self.plain(key).withUnsafeBytes { try Keys.decodeStreamKey($0) } == key)
            // At most the mark and a length byte more per part (a part's length is shifted left once).
            #expect(record.count <= Self.plain(key).count + 5)
        }
        // REANA's: 17 + 16 + 14 + 16 bytes and a byte per part, where the plain form has 17 + 36 + 50 and three.
        let workflow = uuid(upper: false)
        let reana = StreamKey(index: "fluentbit-job_log", workflow: workflow, job: "reana-run-job-" + uuid(upper: false))
        #expect(Keys.encodeStreamKey(reana).count == 2 + 3 + 17 + 16 + 14 + 16)
        #expect(Self.plain(reana).count == 3 + 17 + 36 + 50)
        // A cut record is refused, not misread.
        let cut = Array(Keys.encodeStreamKey(reana).dropLast())
        #expect(throws: CorruptDataError.self) { try cut.withUnsafeBytes { try Keys.decodeStreamKey($0) } }
    }

    @Test func aCatalogOfOldRecordsOpensWithItsStreams() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let keys = (0..<50).map { StreamKey(index: "fluentbit-job_log", workflow: UUID().uuidString.lowercased(), job: "reana-run-job-\($0)-" + UUID().uuidString.lowercased()) }
        do {
            let store = try Storage.open(directory: dir.path, logger: testLogger)
            _ = try await store.append(keys.map { line($0, day0, "hello \($0.job)") })
            // The records as builds before wrote them.
            try store.catalog.env.write { txn in
                for info in store.allStreams() { try txn.put(store.catalog.streams, Keys.u64(info.id), Self.plain(info.key)) }
            }
            store.close()
        }
        let store = try Storage.open(directory: dir.path, logger: testLogger)
        defer { store.close() }
        #expect(Set(store.allStreams().map(\.key)) == Set(keys))
        for key in keys { #expect(try store.readAll(StreamSelector(job: key.job)).map(\.message) == ["hello \(key.job)"]) }
    }
}
