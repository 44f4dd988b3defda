import Foundation
import Logging
import Synchronization

/// The engine: an append-only store of log lines keyed by stream and time, in one LMDB
/// environment per UTC day plus a catalog.
///
/// Open it with `Storage.open`; `append` returns once the lines are durable; reads may run
/// on any thread. `close()` finishes the commit in flight and closes the files.
public final class Storage: Sendable {
    /// The data directory.
    public let directory: String
    public let options: StorageOptions
    let logger: Logger
    let catalog: Catalog
    let lock: DirectoryLock?
    let shared: Shared
    let writer: Writer?
    let blockCache: BlockCache

    struct SharedState: ~Copyable {
        /// True when the stream belongs to a deleted workflow.
        func isDeleted(_ key: StreamKey) -> Bool { !tombstones.isEmpty && !key.workflow.isEmpty && tombstones.contains(key.workflow) }

        var streams: [StreamID: StreamInfo] = [:]
        var byKey: [StreamKey: StreamID] = [:]
        /// Streams by job name and by index (streams are never removed; a read of one job must
        /// not walk thousands of streams).
        var byJob: [String: [StreamID]] = [:]
        var byIndex: [String: [StreamID]] = [:]
        var segments: [Int32: Segment] = [:]
        /// Unsealed head lines per day and stream (their LSNs, ascending).
        var heads: [Int32: [StreamID: [LSN]]] = [:]
        /// Deleted workflows: their streams are hidden from every read.
        var tombstones: Set<String> = []
        var committedLSN: LSN = 0
        var observers: [UInt64: @Sendable (CommitEvent) -> Void] = [:]
        var nextObserverID: UInt64 = 0
        var closed = false
    }

    var segmentsDirectory: String { directory + "/" + Keys.segmentsDirectory }

    /// Opens the store in `directory` (created when missing), reconciling the catalog with the
    /// segments, and starts the writer (unless read-only).
    public static func open(directory: String, options: StorageOptions = StorageOptions(), logger: Logger) throws -> Storage {
        try Storage(directory: directory, options: options, logger: logger)
    }

    private init(directory: String, options: StorageOptions, logger: Logger) throws {
        self.directory = directory
        self.options = options
        self.logger = logger
        blockCache = BlockCache(capacity: options.blockCacheBytes)
        let fm = FileManager.default
        if options.readOnly {
            guard fm.fileExists(atPath: directory + "/" + Keys.catalogFile) else {
                throw StorageError.io("no logstore data in \(directory) (missing \(Keys.catalogFile))")
            }
            lock = nil
        } else {
            do {
                try fm.createDirectory(atPath: directory + "/" + Keys.segmentsDirectory, withIntermediateDirectories: true)
            } catch {
                throw StorageError.io("cannot create data directory \(directory): \(error.localizedDescription)")
            }
            lock = try DirectoryLock(directory: directory)
        }
        catalog = try Catalog(path: directory + "/" + Keys.catalogFile, readOnly: options.readOnly)

        // Reconcile: segments are the source of truth.
        var keys = try catalog.loadStreams()
        let recorded = Set(try catalog.recordedSegments())
        var segments: [Int32: Segment] = [:]
        let names = (try? fm.contentsOfDirectory(atPath: directory + "/" + Keys.segmentsDirectory)) ?? []
        // The newest generation of each day wins; older ones (a compaction interrupted after its
        // rename) and unfinished copies are removed.
        let newest = Segment.newestGenerations(names)
        let segmentsDirectory = directory + "/" + Keys.segmentsDirectory
        if !options.readOnly {
            for name in names {
                let stale: Bool
                if let (day, generation) = Segment.parseFileName(name) {
                    stale = generation < newest[day]!
                } else {
                    // An unfinished compaction's file, or the lock file it left.
                    stale = name.hasSuffix(Keys.segmentSuffix + ".tmp") || name.hasSuffix(Keys.segmentSuffix + ".tmp-lock")
                }
                if stale {
                    try? fm.removeItem(atPath: segmentsDirectory + "/" + name)
                    try? fm.removeItem(atPath: segmentsDirectory + "/" + name + "-lock")
                }
            }
        }
        for (day, generation) in newest.sorted(by: { $0.key < $1.key }) {
            segments[day] = try Segment(
                directory: segmentsDirectory, day: day, generation: generation, readOnly: options.readOnly,
                mapSize: options.segmentMapSize)
        }
        if options.fullTextIndex {
            for segment in segments.values {
                let recovered = try segment.recoverPendingIndex()
                if recovered > 0 { logger.info("re-indexed blocks sealed after the last index flush", metadata: ["segment": "\(segment.name)", "blocks": "\(recovered)"]) }
            }
        }
        var streams: [StreamID: StreamInfo] = [:]
        var missingStreams: [(StreamID, StreamKey)] = []
        var maxLSN: LSN = 0
        var heads: [Int32: [StreamID: Writer.HeadState]] = [:]
        var headLSNs: [Int32: [StreamID: [LSN]]] = [:]
        var segmentStreams: [Int32: Set<StreamID>] = [:]
        let cutoff = Writer.wallClock() - Int64(options.dedupWindow.components.seconds) * 1_000_000_000
        var chunkRecords: [ChunkKey: (receipt: AppendReceipt, arrival: Int64, days: [Int32], found: Int)] = [:]
        for (day, segment) in segments.sorted(by: { $0.key < $1.key }) {
            try segment.env.read { txn in
                maxLSN = max(maxLSN, try segment.maxLSN(txn))
                var members = Set<StreamID>()
                try txn.scan(segment.streams) { k, v in
                    let id = try Keys.decodeU64(k)
                    members.insert(id)
                    if keys[id] == nil {
                        let key = try Keys.decodeStreamKey(v)
                        keys[id] = key
                        missingStreams.append((id, key))
                    }
                    return true
                }
                segmentStreams[day] = members
                try txn.scan(segment.stats) { k, v in
                    let id = try Keys.decodeU64(k)
                    let s = try Keys.decodeStats(v)
                    guard let key = keys[id] else { throw CorruptDataError("segment \(segment.name) has stats for unknown stream \(id)") }
                    streams[id, default: StreamInfo(id: id, key: key, stats: StreamStats(), days: [])].stats.merge(s)
                    streams[id]!.days.append(day)
                    return true
                }
                var dayHeads: [StreamID: Writer.HeadState] = [:]
                var dayLSNs: [StreamID: [LSN]] = [:]
                let now = ContinuousClock.now
                var sealedThrough: [StreamID: LSN] = [:]
                try txn.scan(segment.sealed) { k, v in
                    sealedThrough[try Keys.decodeU64(k)] = try Keys.decodeU64(v)
                    return true
                }
                try txn.scan(segment.head) { k, v in
                    let lsn = try Keys.decodeU64(k)
                    var r = ByteReader(v)
                    let id = try r.u64LE()
                    if lsn <= sealedThrough[id] ?? 0 { return true }  // sealed, awaiting truncation
                    dayHeads[id, default: Writer.HeadState(count: 0, bytes: 0, oldest: now, first: lsn, last: lsn)].count += 1
                    dayHeads[id]!.bytes += v.count
                    dayHeads[id]!.last = lsn
                    dayLSNs[id, default: []].append(lsn)
                    return true
                }
                if !dayHeads.isEmpty {
                    heads[day] = dayHeads
                    headLSNs[day] = dayLSNs
                }
                try txn.scan(segment.chunks, from: Keys.chunk(arrival: cutoff, key: ChunkKey(high: 0, low: 0))) { k, v in
                    var r = ByteReader(k)
                    let arrival = Int64(try r.u64BE())
                    let key = try ChunkKey(bytes: try r.bytes(16))
                    let (receipt, days) = try Keys.decodeChunk(v)
                    chunkRecords[key, default: (receipt, arrival, days, 0)].found += 1
                    return true
                }
            }
        }
        // A chunk whose lines went to several days counts only if every day recorded it.
        var recentChunks: [ChunkKey: (receipt: AppendReceipt, arrival: Int64)] = [:]
        for (key, record) in chunkRecords where record.found >= Set(record.days).count {
            recentChunks[key] = (record.receipt, record.arrival)
        }
        for (id, key) in keys where streams[id] == nil {
            // Known to the catalog but without lines (e.g. all its segments were dropped).
            streams[id] = StreamInfo(id: id, key: key, stats: StreamStats(), days: [])
        }
        let newSegments = segments.keys.filter { !recorded.contains($0) }
        if !options.readOnly {
            if !missingStreams.isEmpty || !newSegments.isEmpty {
                logger.info(
                    "catalog reconciled from segments",
                    metadata: ["streams": "\(missingStreams.count)", "segments": "\(newSegments.count)"])
            }
            try catalog.record(streams: missingStreams, segments: Array(newSegments))
            try catalog.forget(segments: recorded.filter { segments[$0] == nil })
        }
        var byKey: [StreamKey: StreamID] = [:]
        var byJob: [String: [StreamID]] = [:]
        var byIndex: [String: [StreamID]] = [:]
        for (id, info) in streams {
            byKey[info.key] = id
            byJob[info.key.job, default: []].append(id)
            byIndex[info.key.index, default: []].append(id)
        }
        let nextStreamID = (keys.keys.max() ?? 0) + 1
        shared = Shared(
            SharedState(
                streams: streams, byKey: byKey, byJob: byJob, byIndex: byIndex, segments: segments, heads: headLSNs,
                tombstones: try catalog.loadTombstones(), committedLSN: maxLSN))
        if options.readOnly {
            writer = nil
        } else {
            writer = Writer(
                shared: shared, catalog: catalog, segmentsDirectory: directory + "/" + Keys.segmentsDirectory,
                nextLSN: maxLSN + 1, nextStreamID: nextStreamID, keys: byKey, heads: heads,
                segmentStreams: segmentStreams, recentChunks: recentChunks, options: options, logger: logger)
            writer!.start()
        }
        logger.debug(
            "store opened",
            metadata: ["directory": "\(directory)", "segments": "\(segments.count)", "streams": "\(streams.count)", "lastLSN": "\(maxLSN)"])
    }

    deinit {
        close()
    }

    /// Unmaps the data files' pages from the process (they stay in the page cache; see
    /// `LMDBEnvironment.releaseMappedPages`). `logstore serve` calls it periodically so its
    /// resident set shows what it uses, not everything it read through the maps.
    public func releaseMappedPages() {
        let segments = shared.state.withLock { Array($0.segments.values) }
        let mappings = LMDBEnvironment.FileMappings.current()
        for segment in segments { segment.env.releaseMappedPages(in: mappings) }
        catalog.env.releaseMappedPages(in: mappings)
    }

    /// Stops the writer after it committed everything queued, and closes every environment.
    /// Later calls fail with `StorageError.closed`.
    public func close() {
        let alreadyClosed = shared.state.withLock { s in
            defer { s.closed = true }
            return s.closed
        }
        if alreadyClosed { return }
        writer?.stop()
        let segments = shared.state.withLock { s in
            defer { s.segments = [:] }
            return Array(s.segments.values)
        }
        for segment in segments { segment.close() }
        catalog.close()
        lock?.release()
    }

    /// Appends `lines`, giving them LSNs in order. Returns once they are committed and synced
    /// together with whatever else was queued (group commit).
    ///
    /// - Parameters:
    ///   - lines: the lines, in the order they were received.
    ///   - chunk: the key of the request body they came from; when the same key was stored
    ///     within `dedupWindow`, nothing is stored and the first receipt is returned with
    ///     `duplicateChunk` set (FluentBit resends whole chunks on retry).
    public func append(_ lines: [IncomingLine], chunk: ChunkKey? = nil) async throws -> AppendReceipt {
        guard writer != nil else { throw StorageError.readOnly }
        if lines.isEmpty { return AppendReceipt(firstLSN: 0, lastLSN: 0, count: 0) }
        return try await append(LineBatch(lines), chunk: chunk)
    }

    /// Appends the lines of `batch` (see `append(_:chunk:)`): the ingest path's form, one buffer
    /// for all the lines of a request.
    public func append(_ batch: LineBatch, chunk: ChunkKey? = nil) async throws -> AppendReceipt {
        guard let writer else { throw StorageError.readOnly }
        if batch.lines.isEmpty { return AppendReceipt(firstLSN: 0, lastLSN: 0, count: 0) }
        return try await withCheckedThrowingContinuation { continuation in
            writer.enqueue(batch, chunk: chunk, continuation: continuation)
        }
    }

    /// Moves every head into blocks now (normally done by size and age).
    public func sealAll() async throws {
        guard let writer else { throw StorageError.readOnly }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            writer.requestSealAll(continuation)
        }
    }

    /// Keeps the writer busy for `duration` (appends queue up meanwhile); returns once the
    /// writer has started waiting. For tests of back-pressure.
    func suspendWriter(for duration: Duration) async throws {
        guard let writer else { throw StorageError.readOnly }
        let started = AsyncStream<Void>.makeStream()
        Task {
            try await writer.perform { _ in
                started.continuation.yield()
                started.continuation.finish()
                Thread.sleep(forTimeInterval: Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
            }
        }
        for await _ in started.stream { break }
    }

    /// Wall-clock time, nanoseconds since the Unix epoch (arrival times, retention).
    public static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// The highest LSN that is durable and readable.
    public var lastLSN: LSN { shared.state.withLock { $0.committedLSN } }

    /// Registers `handler` to be called after each commit; returns a token for `removeObserver`.
    @discardableResult
    public func addObserver(_ handler: @escaping @Sendable (CommitEvent) -> Void) -> UInt64 {
        shared.state.withLock { s in
            s.nextObserverID += 1
            s.observers[s.nextObserverID] = handler
            return s.nextObserverID
        }
    }

    public func removeObserver(_ token: UInt64) {
        _ = shared.state.withLock { $0.observers.removeValue(forKey: token) }
    }

    /// Every stream the store shows (streams of deleted workflows are hidden).
    public func allStreams() -> [StreamInfo] {
        shared.state.withLock { s in s.streams.values.filter { !s.isDeleted($0.key) } }.sorted { $0.key < $1.key }
    }

    /// The streams matching `selector`, sorted by key.
    public func streams(matching selector: StreamSelector) -> [StreamInfo] {
        shared.state.withLock { s in
            if let job = selector.job {
                return (s.byJob[job] ?? []).compactMap { s.streams[$0] }.filter { selector.matches($0.key) && !s.isDeleted($0.key) }
            }
            return s.streams.values.filter { selector.matches($0.key) && !s.isDeleted($0.key) }
        }.sorted { $0.key < $1.key }
    }

    /// True when some stream the store shows belongs to `index`.
    public func hasIndex(_ index: String) -> Bool {
        shared.state.withLock { s in (s.byIndex[index] ?? []).contains { id in s.streams[id].map { !s.isDeleted($0.key) } ?? false } }
    }

    /// The names of the indices the store shows (of streams not deleted).
    public func indexNames() -> Set<String> {
        shared.state.withLock { s in
            Set(s.byIndex.compactMap { index, ids in ids.contains { id in s.streams[id].map { !s.isDeleted($0.key) } ?? false } ? index : nil })
        }
    }

    /// Deletes a workflow's logs: its streams disappear from every read and search at once
    /// (durably: recorded in the catalog); compaction removes the lines from the files.
    /// Job streams whose documents carry no workflow id are not linked to it and stay.
    public func deleteWorkflow(_ workflow: String) async throws {
        guard let writer else { throw StorageError.readOnly }
        guard !workflow.isEmpty else { throw StorageError.invalidLine("the workflow id to delete is empty") }
        try await writer.perform { writer in
            try writer.catalog.addTombstone(workflow, at: Writer.wallClock())
            writer.shared.state.withLock { _ = $0.tombstones.insert(workflow) }
        }
    }

    /// The streams whose index, workflow and job can satisfy `query` (its field predicates;
    /// text predicates are checked per line).
    public func streams(matching query: Query) -> [StreamInfo] {
        let matcher = QueryMatcher(query)
        let jobs = query.requiredValues(of: .job)
        let indices = jobs == nil ? query.requiredValues(of: .index) : nil
        return shared.state.withLock { s in
            // A query that names its job (REANA's job log) or index looks only at those streams.
            if let jobs {
                return jobs.flatMap { s.byJob[$0] ?? [] }.compactMap { s.streams[$0] }
                    .filter { matcher.matches(stream: $0.key) != false && !s.isDeleted($0.key) }
            }
            if let indices {
                return indices.flatMap { s.byIndex[$0] ?? [] }.compactMap { s.streams[$0] }
                    .filter { matcher.matches(stream: $0.key) != false && !s.isDeleted($0.key) }
            }
            return s.streams.values.filter { matcher.matches(stream: $0.key) != false && !s.isDeleted($0.key) }
        }.sorted { $0.key < $1.key }
    }

    /// One stream by id.
    public func stream(_ id: StreamID) -> StreamInfo? {
        shared.state.withLock { $0.streams[id] }
    }

    func segment(_ day: Int32) -> Segment? {
        shared.state.withLock { $0.segments[day] }
    }
}
