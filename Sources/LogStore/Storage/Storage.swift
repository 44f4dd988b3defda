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
        /// True when the stream is hidden: of a deleted workflow or a deleted index.
        func isHidden(_ info: StreamInfo) -> Bool { isDeleted(info.key) || (!deletedStreams.isEmpty && deletedStreams.contains(info.id)) }

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
        /// Streams of deleted indices, hidden from every read (`Storage+Indices`).
        var deletedStreams: Set<StreamID> = []
        /// Indices created without lines (`PUT /{index}`), with their creation time (ns).
        var createdIndices: [String: Int64] = [:]
        var committedLSN: LSN = 0
        var observers: [UInt64: @Sendable (CommitEvent) -> Void] = [:]
        var nextObserverID: UInt64 = 0
        var closed = false

        /// Adds a stream to the maps (streams are never removed).
        mutating func add(_ info: StreamInfo) {
            streams[info.id] = info
            byKey[info.key] = info.id
            byJob[info.key.job, default: []].append(info.id)
            byIndex[info.key.index, default: []].append(info.id)
        }
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
        catalog = try Catalog(path: directory + "/" + Keys.catalogFile, readOnly: options.readOnly, sharedTables: options.sharedTables)
        let segmentPool = LMDBEnvironmentPool(maxOpen: options.maxOpenSegments)
        let recovered = try StoreRecovery(
            segmentsDirectory: directory + "/" + Keys.segmentsDirectory, catalog: catalog, options: options, pool: segmentPool,
            logger: logger)
        let maxLSN = recovered.maxLSN
        var state = SharedState(
            segments: recovered.segments, heads: recovered.headLSNs, tombstones: try catalog.loadTombstones(),
            deletedStreams: try catalog.loadDeletedStreams(), createdIndices: try catalog.loadCreatedIndices(), committedLSN: maxLSN)
        // Streams of deleted indices first: a key's live stream (added later) is the one `byKey` keeps.
        let deletedStreams = state.deletedStreams
        for info in recovered.streams.values.sorted(by: { deletedStreams.contains($0.id) && !deletedStreams.contains($1.id) }) {
            state.add(info)
        }
        let (segments, streams) = (recovered.segments, recovered.streams)
        // The writer never gives a new line a stream of a deleted index.
        let byKey = deletedStreams.isEmpty ? state.byKey : state.byKey.filter { !deletedStreams.contains($0.value) }
        shared = Shared(state, segmentPool: segmentPool)
        if options.readOnly {
            writer = nil
        } else {
            let writer = Writer(
                shared: shared, catalog: catalog, segmentsDirectory: directory + "/" + Keys.segmentsDirectory,
                nextLSN: maxLSN + 1, nextStreamID: (recovered.keys.keys.max() ?? 0) + 1, keys: byKey, heads: recovered.heads,
                segmentStreams: recovered.segmentStreams, recentChunks: recovered.recentChunks,
                partialChunks: recovered.partialChunks, options: options, logger: logger)
            writer.start()
            self.writer = writer
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
        // A zero dedup window turns the recognition of resent bodies off.
        let chunk = options.dedupWindow > .zero ? chunk : nil
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

    /// Keeps the writer busy until the returned function is called or `limit` passes (appends
    /// queue up meanwhile); returns once the writer has started waiting. For tests of
    /// back-pressure.
    func suspendWriter(atMost limit: Duration) async throws -> @Sendable () -> Void {
        guard let writer else { throw StorageError.readOnly }
        let started = AsyncStream<Void>.makeStream()
        let gate = DispatchSemaphore(value: 0)
        Task {
            try await writer.perform { _ in
                started.continuation.yield()
                started.continuation.finish()
                _ = gate.wait(timeout: .now() + .nanoseconds(Int(limit / .nanoseconds(1))))
            }
        }
        for await _ in started.stream { break }
        return { gate.signal() }
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
        shared.state.withLock { s in s.streams.values.filter { !s.isHidden($0) } }.sorted { $0.key < $1.key }
    }

    /// The streams matching `selector`, sorted by key.
    public func streams(matching selector: StreamSelector) -> [StreamInfo] {
        shared.state.withLock { s in
            if let job = selector.job {
                return (s.byJob[job] ?? []).compactMap { s.streams[$0] }.filter { selector.matches($0.key) && !s.isHidden($0) }
            }
            return s.streams.values.filter { selector.matches($0.key) && !s.isHidden($0) }
        }.sorted { $0.key < $1.key }
    }

    /// True when some stream the store shows belongs to `index`, or it was created empty.
    public func hasIndex(_ index: String) -> Bool {
        shared.state.withLock { s in
            s.createdIndices[index] != nil || (s.byIndex[index] ?? []).contains { id in s.streams[id].map { !s.isHidden($0) } ?? false }
        }
    }

    /// The names of the indices the store shows (of streams not deleted, and created empty).
    public func indexNames() -> Set<String> {
        shared.state.withLock { s in
            Set(s.byIndex.compactMap { index, ids in ids.contains { id in s.streams[id].map { !s.isHidden($0) } ?? false } ? index : nil })
                .union(s.createdIndices.keys)
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
                    .filter { matcher.matches(stream: $0.key) != false && !s.isHidden($0) }
            }
            if let indices {
                return indices.flatMap { s.byIndex[$0] ?? [] }.compactMap { s.streams[$0] }
                    .filter { matcher.matches(stream: $0.key) != false && !s.isHidden($0) }
            }
            return s.streams.values.filter { matcher.matches(stream: $0.key) != false && !s.isHidden($0) }
        }.sorted { $0.key < $1.key }
    }

    /// One stream by id.
    public func stream(_ id: StreamID) -> StreamInfo? {
        shared.state.withLock { $0.streams[id] }
    }

    /// Day segments whose files are open now (at most `StorageOptions.maxOpenSegments` while
    /// no more are in use at once).
    public var openSegments: Int { shared.segmentPool.openCount }

    func segment(_ day: Int32) -> Segment? {
        shared.state.withLock { $0.segments[day] }
    }
}
