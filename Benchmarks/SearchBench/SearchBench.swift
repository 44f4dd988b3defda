// Full-text search benchmark: 3000 streams × 1000 loghub lines in one store, then
// single-word and phrase searches (limit 100, newest first), exact counts through `hits`, the
// index size against the log text, and what indexing costs at ingest (the same lines stored
// again with the index off, which is also the scan baseline for every query).
//
//   swift run -c release SearchBench [--streams N] [--lines N] [--runs N] [--json FILE]
//
// Layout: lines arrive in rounds (10 lines per stream per round, as 3000 live jobs logging at
// 1–3 lines/s would deliver them) and blocks hold 100 lines, which is what the 30–45 s seal age
// gives such jobs. `--bulk` seals 1000-line blocks instead (each block then spans the whole run:
// the worst case for newest-first search). Each stream logs one loghub file from its own offset.
import BenchSupport
import Foundation
import LogStore
import Logging

/// User + system CPU seconds of this process so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

struct Loaded {
    var store: Storage
    var seconds: Double
    /// CPU seconds of the appends (writer, block encoders, tokenizer; not generating lines).
    var cpu: Double
    var stats: StoreStats
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var ms: Double { seconds * 1000 }
}

struct Figure: Codable, Sendable {
    var name: String
    var query: String
    var trueCount: Int
    var p50ms: Double
    var p95ms: Double
    var scanP50ms: Double
    var blocksRead: Int
    var correct: Bool
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    let s = xs.sorted()
    return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
}

@main
struct SearchBench {
    static func main() async throws {

        var streams = 3000
        var linesPerStream = 1000
        var runs = 40
        var bulk = false
        var flushBlocks = Limits.indexFlushBlocks
        var jsonPath: String?
        var args = CommandLine.arguments.dropFirst().makeIterator()
        while let arg = args.next() {
            switch arg {
            case "--streams": streams = Int(args.next() ?? "") ?? streams
            case "--lines": linesPerStream = Int(args.next() ?? "") ?? linesPerStream
            case "--runs": runs = Int(args.next() ?? "") ?? runs
            case "--bulk": bulk = true
    case "--flush-blocks": flushBlocks = Int(args.next() ?? "") ?? flushBlocks
            case "--json": jsonPath = args.next()
            default:
                print("usage: SearchBench [--streams N] [--lines N] [--runs N] [--bulk] [--json FILE]")
                exit(2)
            }
        }

        var logger = Logger(label: "searchbench")
        logger.logLevel = .error
        let files: [[String]] = (Corpus.loghub?.map(\.1)) ?? [Corpus.lines]
        let baseTime: Int64 = 1_727_136_000_000_000_000  // 2024-09-24T00:00:00Z
        let roundLines = 10
        let rounds = (linesPerStream + roundLines - 1) / roundLines
        let roundSpacing: Int64 = 72_000_000_000  // 100 rounds: two hours of event time
        let fields = Array(#"{"kubernetes.labels.user-uuid":"00000000-0000-0000-0000-000000000000"}"#.utf8)

        @inline(__always) func text(stream s: Int, line i: Int) -> String {
            let file = files[s % files.count]
            return file[(s &* 173 &+ i) % file.count]
        }

        func key(_ s: Int) -> StreamKey {
            StreamKey(index: "fluentbit-job_log", workflow: "wf-\(s / 50)", job: "reana-run-job-\(s)")
        }

        func batch(round r: Int) -> [IncomingLine] {
            var out: [IncomingLine] = []
            out.reserveCapacity(streams * roundLines)
            for s in 0..<streams {
                let k = key(s)
                for j in 0..<roundLines {
                    let i = r * roundLines + j
                    guard i < linesPerStream else { break }
                    let ts = baseTime + Int64(r) * roundSpacing + Int64(j) * 1_000_000_000 + Int64(s) * 1000
                    out.append(IncomingLine(stream: k, timestamp: ts, message: Array(text(stream: s, line: i).utf8), fields: fields))
                }
            }
            return out
        }

        // MARK: True counts, computed from the generator (each distinct text tokenized once).

        print("counting tokens of \(streams * linesPerStream) lines …")
        var multiplicity: [String: Int] = [:]
        var textBytes = 0
        for s in 0..<streams {
            for i in 0..<linesPerStream {
                let t = text(stream: s, line: i)
                multiplicity[t, default: 0] += 1
                textBytes += t.utf8.count
            }
        }
        var tokenCounts: [String: Int] = [:]
        var pairCounts: [String: Int] = [:]
        for (t, n) in multiplicity {
            let tokens = Tokenizer.tokens(t)
            for token in Set(tokens) { tokenCounts[token, default: 0] += n }
            var pairs = Set<String>()
            for (a, b) in zip(tokens, tokens.dropFirst()) where a.count > 2 && b.count > 2 && a.first!.isLetter && b.first!.isLetter {
                pairs.insert(a + " " + b)
            }
            for p in pairs { pairCounts[p, default: 0] += n }
        }
        let totalLines = streams * linesPerStream

        /// The word (letters only, ≥ 4 characters) whose count is closest to `fraction` of the lines.
        func word(near fraction: Double) -> (String, Int) {
            let target = Double(totalLines) * fraction
            let candidates = tokenCounts.filter { $0.key.count >= 4 && $0.key.allSatisfy(\.isLetter) }
            let best = candidates.min { abs(Double($0.value) - target) < abs(Double($1.value) - target) }!
            return (best.key, best.value)
        }

        func phrase(near fraction: Double) -> (String, Int) {
            let target = Double(totalLines) * fraction
            let best = pairCounts.min { abs(Double($0.value) - target) < abs(Double($1.value) - target) }!
            return (best.key, best.value)
        }

        // MARK: Ingest, index on and off.


        func load(index: Bool) async throws -> Loaded {
            var options = StorageOptions()
            options.fullTextIndex = index
            options.indexFlushBlocks = flushBlocks
            options.sealLines = bulk ? 1000 : 100
            options.sealAge = .seconds(3600)
            let directory = temporaryDirectory(index ? "search-indexed" : "search-scan")
            let store = try Storage.open(directory: directory, options: options, logger: logger)
            var seconds = 0.0
            var cpu = 0.0
            for r in 0..<rounds {
                let lines = batch(round: r)
                let start = ContinuousClock.now
                let cpuStart = cpuSeconds()
                // One round per append, in order: both stores give every line the same LSN, so
                // their answers can be compared line for line.
                _ = try await store.append(lines)
                seconds += (ContinuousClock.now - start).seconds
                cpu += cpuSeconds() - cpuStart
            }
            let start = ContinuousClock.now
            let cpuStart = cpuSeconds()
            try await store.sealAll()
            seconds += (ContinuousClock.now - start).seconds
            cpu += cpuSeconds() - cpuStart
            return Loaded(store: store, seconds: seconds, cpu: cpu, stats: try store.stats())
        }


        do {  // warm-up: the first store of a process pays for growing the heap
            var options = StorageOptions()
            options.sealLines = 100
            let directory = temporaryDirectory("search-warmup")
            let store = try Storage.open(directory: directory, options: options, logger: logger)
            for r in 0..<min(rounds, 10) { _ = try await store.append(batch(round: r)) }
            try await store.sealAll()
            store.close()
            try? FileManager.default.removeItem(atPath: directory)
        }
        print("ingesting with the index …")
        let indexed = try await load(index: true)
        print(String(format: "  %.1f s, %.0f lines/s, %.1f CPU s", indexed.seconds, Double(totalLines) / indexed.seconds, indexed.cpu))
        print("ingesting without the index (the scan baseline) …")
        let scanned = try await load(index: false)
        print(String(format: "  %.1f s, %.0f lines/s, %.1f CPU s", scanned.seconds, Double(totalLines) / scanned.seconds, scanned.cpu))

        // MARK: Queries.

        /// Runs `body` `runs` times; the wall times in ms and the last answer.
        func timed<T>(_ runs: Int, _ body: () throws -> T) rethrows -> ([Double], T) {
            var times: [Double] = []
            var last: T?
            for _ in 0..<max(1, runs) {
                let start = ContinuousClock.now
                last = try body()
                times.append((ContinuousClock.now - start).ms)
            }
            return (times, last!)
        }

        func timeSearch(_ store: Storage, _ q: String, runs: Int) throws -> ([Double], SearchPage) {
            let query = try QueryParser.parse(q)
            return try timed(runs) { try store.search(SearchRequest(query: query, limit: 100)) }
        }

        func timeHits(_ store: Storage, _ q: String, runs: Int) throws -> ([Double], HitsResult) {
            let query = try QueryParser.parse(q)
            return try timed(runs) { try store.hits(query, step: 3_600_000_000_000) }
        }

        var figures: [Figure] = []
        if runs == 0 {  // --runs 0: ingest only (for profiling)
            print(String(format: "index %.1f MB, ingest CPU %.1f s indexed vs %.1f s", Double(indexed.stats.indexBytes) / 1e6, indexed.cpu, scanned.cpu))
            for loaded in [indexed, scanned] {  // ~800 MB each: never leave them in /tmp
                loaded.store.close()
                try? FileManager.default.removeItem(atPath: loaded.store.directory)
            }
            return
        }
        let rare = word(near: 0.0001)
        let one = word(near: 0.01)
        let ten = word(near: 0.10)
        let phrase1 = phrase(near: 0.01)
        let scanRuns = 3

        for (name, (q, count)) in [
            ("search word ~0.01%", rare), ("search word ~1%", one), ("search word ~10%", ten), ("search phrase ~1%", ("\"\(phrase1.0)\"", phrase1.1)),
        ] {
            let (times, page) = try timeSearch(indexed.store, q, runs: runs)
            let (scanTimes, scanPage) = try timeSearch(scanned.store, q, runs: scanRuns)
            let correct = page.lines.map(\.lsn) == scanPage.lines.map(\.lsn) && page.lines.count == min(100, count)
            figures.append(
                Figure(
                    name: name, query: q, trueCount: count, p50ms: percentile(times, 0.5), p95ms: percentile(times, 0.95),
                    scanP50ms: percentile(scanTimes, 0.5), blocksRead: page.blocksRead, correct: correct))
        }
        for (name, (q, count)) in [("hits word ~1%", one), ("hits word ~10%", ten), ("hits phrase ~1%", ("\"\(phrase1.0)\"", phrase1.1))] {
            let (times, hits) = try timeHits(indexed.store, q, runs: runs)
            let (scanTimes, scanHits) = try timeHits(scanned.store, q, runs: scanRuns)
            figures.append(
                Figure(
                    name: name, query: q, trueCount: count, p50ms: percentile(times, 0.5), p95ms: percentile(times, 0.95),
                    scanP50ms: percentile(scanTimes, 0.5), blocksRead: hits.blocksRead, correct: hits.total == count && scanHits.total == count))
        }

        let indexBytes = indexed.stats.indexBytes
        let slowdown = indexed.seconds / scanned.seconds - 1
        let cpuCost = indexed.cpu / scanned.cpu - 1
        print("")
        print("\(totalLines) lines (\(streams) streams × \(linesPerStream)), \(bulk ? "1000" : "100")-line blocks, message text \(textBytes / 1_000_000) MB")
        print(
            String(
                format: "index %.1f MB = %.3f of the log text (target ≤ 0.10); blocks %.1f MB\ningest %.0f lines/s indexed vs %.0f without: %+.0f%% time, %+.0f%% CPU (target ≤ 30%%)",
                    Double(indexBytes) / 1e6, Double(indexBytes) / Double(textBytes), Double(indexed.stats.blockBytes) / 1e6,
                    Double(totalLines) / indexed.seconds, Double(totalLines) / scanned.seconds, slowdown * 100, cpuCost * 100))
        print("")
        print("figure                 query                                   true count   p50 ms   p95 ms  scan p50 ms  blocks read  correct")
        for f in figures {
            print(
                f.name.padding(toLength: 22, withPad: " ", startingAt: 0) + " " + f.query.padding(toLength: 40, withPad: " ", startingAt: 0)
                    + String(format: "%10d %8.2f %8.2f %12.1f %12d  ", f.trueCount, f.p50ms, f.p95ms, f.scanP50ms, f.blocksRead)
                    + (f.correct ? "yes" : "NO"))
        }

        // Compaction of the indexed store (every day is finished), opened with the default
        // options as a server would: the 100-line blocks are merged into 1000-line ones, the
        // postings rewritten tightly.
        let before = indexed.stats
        let directory = indexed.store.directory
        indexed.store.close()
        let compacted = try Storage.open(directory: directory, logger: logger)
        let compactStart = ContinuousClock.now
        let report = try await compacted.compact()
        let compactSeconds = (ContinuousClock.now - compactStart).seconds
        let after = try compacted.stats()
        print(
            String(
                format: "compaction: %.1f s, %.0f MB/s of stored data; files %.1f → %.1f MB; index %.1f → %.1f MB = %.3f of the log text",
                compactSeconds, Double(before.storedBytes) / 1e6 / compactSeconds, Double(before.storedBytes) / 1e6,
                Double(after.storedBytes) / 1e6, Double(before.indexBytes) / 1e6, Double(after.indexBytes) / 1e6,
                Double(after.indexBytes) / Double(textBytes)))
        print("blocks merged: \(report.blocksMerged) into \(report.blocksWritten); stored/raw \(String(format: "%.3f", after.ratio))")
        print("after compaction:")
        for (name, (q, count)) in [("search word ~1%", one), ("search phrase ~1%", ("\"\(phrase1.0)\"", phrase1.1))] {
            let (times, page) = try timeSearch(compacted, q, runs: runs)
            let scanPage = try timeSearch(scanned.store, q, runs: 1).1
            let correct = page.lines.map(\.lsn) == scanPage.lines.map(\.lsn) && page.lines.count == min(100, count)
            figures.append(Figure(name: name + " (compacted)", query: q, trueCount: count, p50ms: percentile(times, 0.5), p95ms: percentile(times, 0.95), scanP50ms: 0, blocksRead: page.blocksRead, correct: correct))
        }
        for (name, (q, count)) in [("hits word ~1%", one), ("hits word ~10%", ten)] {
            let (times, hits) = try timeHits(compacted, q, runs: runs)
            figures.append(Figure(name: name + " (compacted)", query: q, trueCount: count, p50ms: percentile(times, 0.5), p95ms: percentile(times, 0.95), scanP50ms: 0, blocksRead: hits.blocksRead, correct: hits.total == count))
        }
        for f in figures.suffix(4) {
            print(f.name.padding(toLength: 32, withPad: " ", startingAt: 0) + String(format: "%8.2f %8.2f %8d  ", f.p50ms, f.p95ms, f.blocksRead) + (f.correct ? "yes" : "NO"))
        }

        if let jsonPath {
            struct Result: Codable {
                var date: String
                var lines: Int
                var layout: String
                var textBytes: Int
                var indexBytes: Int
                var blockBytes: Int
                var indexedLinesPerSecond: Double
                var unindexedLinesPerSecond: Double
                var indexedCPUSeconds: Double
                var unindexedCPUSeconds: Double
                var figures: [Figure]
                var compactionSeconds: Double
                var storedBytesBeforeCompaction: Int
                var storedBytesAfterCompaction: Int
                var indexBytesAfterCompaction: Int
            }
            let result = Result(
                date: ISO8601DateFormatter().string(from: Date()), lines: totalLines, layout: bulk ? "bulk" : "live", textBytes: textBytes,
                indexBytes: indexBytes, blockBytes: indexed.stats.blockBytes, indexedLinesPerSecond: Double(totalLines) / indexed.seconds,
                unindexedLinesPerSecond: Double(totalLines) / scanned.seconds, indexedCPUSeconds: indexed.cpu,
                unindexedCPUSeconds: scanned.cpu, figures: figures, compactionSeconds: compactSeconds,
                storedBytesBeforeCompaction: before.storedBytes, storedBytesAfterCompaction: after.storedBytes,
                indexBytesAfterCompaction: after.indexBytes)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(result).write(to: URL(fileURLWithPath: jsonPath))
        }
        compacted.close()
        scanned.store.close()
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.removeItem(atPath: scanned.store.directory)
        if figures.contains(where: { !$0.correct }) {
            print("WRONG ANSWERS")
            exit(1)
        }

    }
}
