import BenchSupport
import Benchmark
import Foundation
import LogStore
import Logging
import Synchronization

let logger: Logger = {
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    return logger
}()

let fieldsJSON = Array(#"{"kubernetes.labels.user-uuid":"00000000-0000-0000-0000-000000000000"}"#.utf8)

/// `count` lines of ~`size` bytes (message + fields), spread over `streams` streams.
func makeBatch(start: Int, count: Int, streams: Int, size: Int, baseTime: Int64) -> [IncomingLine] {
    (0..<count).map { i in
        let n = start + i
        let key = StreamKey(index: "fluentbit-job_log", workflow: "wf-\(n % streams % 60)", job: "reana-run-job-\(n % streams)")
        return IncomingLine(
            stream: key, timestamp: baseTime + Int64(n) * 1_000_000, message: Corpus.line(n, size: size - fieldsJSON.count),
            fields: fieldsJSON)
    }
}

let baseTime: Int64 = 1_727_136_000_000_000_000

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .cpuTotal, .peakMemoryResident],
        maxDuration: .seconds(5), maxIterations: 100_000)

    // MARK: Append: 200-byte lines in batches of 1000 (durable: each append waits for fsync)

    for (name, streams, appenders) in [
        ("one stream per batch", 1, 1), ("batch over 50 streams", 50, 1), ("4 concurrent appenders, 50 streams", 50, 4),
    ] {
        Benchmark(
            "append 1000 × 200 B lines (\(name))",
            configuration: .init(metrics: [.wallClock, .throughput, .cpuTotal], scalingFactor: .one, maxDuration: .seconds(6), maxIterations: 4000)
        ) { benchmark, store in
            var n = 0
            let batches = (0..<appenders).map { a in makeBatch(start: a * 1000, count: 1000, streams: streams, size: 200, baseTime: baseTime) }
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                if appenders == 1 {
                    _ = try await store.append(batches[0])
                } else {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for batch in batches { group.addTask { _ = try await store.append(batch) } }
                        try await group.waitForAll()
                    }
                }
                n += 1
            }
            benchmark.stopMeasurement()
            // lines/s for the notes: throughput × 1000 × appenders.
            blackHole(n)
        } setup: {
            try OpenStores.open("append")
        } teardown: {
            OpenStores.closeAll()
        }
    }

    // MARK: Read one stream's 1000 lines (sealed blocks, 300 streams × 1000 lines stored)

    Benchmark(
        "read one stream's 1000 lines",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(5))
    ) { (benchmark: Benchmark, fixture: ReadFixture) in
        try fixture.readEachStream(benchmark, expecting: 1000)
    } setup: { () async throws -> ReadFixture in
        let store = try OpenStores.open("read")
        // Interleaved arrival, as from many pods: each batch holds 10 lines of each of 100 streams.
        for round in 0..<3 {
            for chunk in 0..<100 {
                let lines = (0..<1000).map { i -> IncomingLine in
                    let stream = round * 100 + i % 100
                    let n = chunk * 10 + i / 100
                    return IncomingLine(
                        stream: StreamKey(index: "fluentbit-job_log", workflow: "wf", job: "job-\(stream)"),
                        timestamp: baseTime + Int64(n) * 1_000_000_000, message: Corpus.line(stream * 1000 + n, size: 140),
                        fields: fieldsJSON)
                }
                _ = try await store.append(lines)
            }
        }
        try await store.sealAll()
        return ReadFixture(store: store, ids: store.allStreams().map(\.id))
    } teardown: {
        OpenStores.closeAll()
    }

    // MARK: Read one stream's unsealed head lines (3000 live streams × 300 head lines)

    // What a read of a live job costs while its lines are still in the head: 3000 streams whose
    // lines arrived in runs of 1–10 (FluentBit's tail reads a container's file in runs), each
    // holding 300 head lines, none sealed (the head is keyed by LSN, so one stream's lines are
    // spread over the whole table).
    Benchmark(
        "read one live stream's 300 head lines (3000 streams)",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(5))
    ) { (benchmark: Benchmark, fixture: ReadFixture) in
        try fixture.readEachStream(benchmark, expecting: 300)
    } setup: { () async throws -> ReadFixture in
        var options = StorageOptions()
        options.sealAge = .seconds(86_400)
        let store = try OpenStores.open("head", options: options)
        let streams = 3000
        var rng = SplitMix64(seed: 13)  // the same head layout on every run
        var next = [Int](repeating: 0, count: streams)
        var open = Array(0..<streams)
        var batch: [IncomingLine] = []
        while !open.isEmpty {
            let slot = Int.random(in: 0..<open.count, using: &rng)
            let stream = open[slot]
            for _ in 0..<min(300 - next[stream], Int.random(in: 1...10, using: &rng)) {
                let n = next[stream]
                next[stream] += 1
                batch.append(
                    IncomingLine(
                        stream: StreamKey(index: "fluentbit-job_log", workflow: "wf-\(stream / 50)", job: "job-\(stream)"),
                        timestamp: baseTime + Int64(n) * 100_000_000, message: Corpus.line(stream * 300 + n, size: 128),
                        fields: fieldsJSON))
            }
            if next[stream] == 300 {
                open[slot] = open[open.count - 1]
                open.removeLast()
            }
            if batch.count >= 2000 {
                _ = try await store.append(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { _ = try await store.append(batch) }
        return ReadFixture(store: store, ids: store.allStreams().map(\.id))
    } teardown: {
        OpenStores.closeAll()
    }

    // MARK: One block of REANA's lines: sealing (level 1) and reading it back

    // 1000 loghub lines with REANA's three labels repeated on each, as FluentBit sends them.
    let reanaFields = Array(
        #"{"kubernetes.labels.job-name":"reana-run-job-02922f87-9deb-4b2a-b884-8b4245108b79","kubernetes.labels.reana-run-job-workflow-uuid":"fc356fd1-e07b-4947-a6b4-557ed84fe614","kubernetes.labels.user-uuid":"1e2feb89-414c-443c-9027-c4d1c386bbc4"}"#
            .utf8)
    let reanaLines = (0..<1000).map { i in
        BlockLine(timestamp: baseTime + Int64(i) * 250_000_000, lsn: LSN(i + 1), message: Corpus.line(i, size: 128), fields: reanaFields)
    }
    Benchmark("encode a 1000-line block (REANA's fields, level 1)", configuration: .init(metrics: [.wallClock, .throughput, .cpuTotal])) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(BlockCodec.encode(reanaLines, level: 1)) }
    }
    let reanaBlock = BlockCodec.encode(reanaLines, level: 1)
    Benchmark("decode a 1000-line block (REANA's fields, level 1)", configuration: .init(metrics: [.wallClock, .throughput, .cpuTotal])) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try reanaBlock.withUnsafeBytes { try BlockCodec.decode($0) }) }
    }

    // MARK: Stored bytes / raw bytes of log text (loghub samples)

    Benchmark(
        "stored/raw ratio on loghub (‰)",
        configuration: .init(
            metrics: [.custom("file ‰ of raw", polarity: .prefersSmaller, useScalingFactor: false),
                      .custom("blocks ‰ of raw", polarity: .prefersSmaller, useScalingFactor: false)],
            maxDuration: .seconds(60), maxIterations: 1)
    ) { benchmark in
        let directory = temporaryDirectory("ratio")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Storage.open(directory: directory, logger: logger)
        let files = Corpus.loghub ?? [("synthetic", Corpus.lines)]
        // Live-like arrival: every batch of 1000 lines takes 100 lines of each of the 10 files;
        // the samples are replayed 5 times (later timestamps) so fixed costs do not dominate.
        var raw = 0
        var batch: [IncomingLine] = []
        for replay in 0..<5 {
            let longest = files.map(\.1.count).max() ?? 0
            for start in stride(from: 0, to: longest, by: 100) {
                for (name, lines) in files {
                    let key = StreamKey(index: "loghub", workflow: "", job: name)
                    for i in start..<min(start + 100, lines.count) {
                        let text = lines[i]
                        let ts = baseTime + Int64(replay * longest + i) * 1_000_000
                        batch.append(IncomingLine(stream: key, timestamp: ts, message: Array(text.utf8), fields: []))
                        raw += text.utf8.count
                    }
                }
                if batch.count >= 1000 {
                    _ = try await store.append(batch)
                    batch.removeAll()
                }
            }
        }
        if !batch.isEmpty { _ = try await store.append(batch) }
        try await store.sealAll()
        let stats = try store.stats()
        store.close()
        let file = stats.segments.reduce(0) { $0 + $1.fileBytes }
        benchmark.measurement(.custom("file ‰ of raw", polarity: .prefersSmaller, useScalingFactor: false), file * 1000 / max(raw, 1))
        benchmark.measurement(.custom("blocks ‰ of raw", polarity: .prefersSmaller, useScalingFactor: false), stats.blockBytes * 1000 / max(raw, 1))
        print("loghub: raw \(raw) B, segment file \(file) B (\(Double(file) / Double(raw))), blocks \(stats.blockBytes) B (\(Double(stats.blockBytes) / Double(raw)))")
    }
}

/// Stores opened by `setup` closures, closed and deleted by `teardown`.
enum OpenStores {
    static let stores = Mutex<[Storage]>([])

    static func open(_ name: String, options: StorageOptions = StorageOptions()) throws -> Storage {
        let store = try Storage.open(directory: temporaryDirectory(name), options: options, logger: logger)
        stores.withLock { $0.append(store) }
        return store
    }

    static func closeAll() {
        for store in stores.withLock({ s in defer { s = [] }; return s }) {
            store.close()
            try? FileManager.default.removeItem(atPath: store.directory)
        }
    }
}

struct ReadFixture: Sendable {
    let store: Storage
    let ids: [StreamID]

    /// Reads one whole stream per iteration, a different one each time (every 7th, so
    /// neighbours in the files are not read in turn), checking the line count.
    func readEachStream(_ benchmark: Benchmark, expecting lines: Int) throws {
        var i = 0
        for _ in benchmark.scaledIterations {
            let page = try store.read(LogQuery(streams: [ids[i % ids.count]], limit: 1000))
            precondition(page.lines.count == lines, "BUG: expected \(lines) lines, got \(page.lines.count)")
            blackHole(page)
            i += 7
        }
    }
}

/// A seeded generator (SplitMix64), so a fixture built from random choices is the same on
/// every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
