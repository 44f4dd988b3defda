import Foundation
import Logging

/// The single writer: one thread that owns every LMDB write transaction.
///
/// `append` callers queue their lines; the thread takes everything queued (up to
/// `maxLinesPerCommit` lines), gives LSNs in queue order, writes one transaction per touched
/// day segment, syncs, records new streams/segments in the catalog, then resumes all callers
/// of that batch at once (group commit) and wakes observers. Heads are sealed into blocks in
/// the same transaction when they reach `sealLines`/`sealBytes`, and by age in between batches.
///
/// `@unchecked Sendable`: the queue fields are guarded by `condition`; every other field is
/// touched only by the writer thread (`run()` and what it calls).
final class Writer: @unchecked Sendable {
    /// A stream's unsealed head lines in a day segment. Plain values (copied freely while
    /// scanning thousands of heads); the LSN list itself is kept once, in `Shared`'s head index.
    struct HeadState {
        var count: Int
        var bytes: Int
        var oldest: ContinuousClock.Instant
        /// The first and last LSN of the head lines.
        var first: LSN
        var last: LSN
    }

    struct Pending {
        var lines: LineBatch
        var chunk: ChunkKey?
        var continuation: CheckedContinuation<AppendReceipt, Error>
    }

    /// A chunk written in this batch: its receipt and the days its lines went to.
    struct ChunkWrite {
        var key: ChunkKey
        var receipt: AppendReceipt
        var days: [Int32]
    }

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var queuedLines = 0
    /// While the writer gathers senders: the queue length it waits for (an enqueue below it
    /// does not wake the writer); 0 otherwise.
    private var gatherTarget = 0
    private var stopping = false
    private var sealAllWaiters: [CheckedContinuation<Void, Error>] = []
    private var tasks: [@Sendable (Writer) -> Void] = []
    private let finished = DispatchSemaphore(value: 0)

    // Writer thread only.
    let shared: Shared
    let catalog: Catalog
    let segmentsDirectory: String
    var nextLSN: LSN
    var nextStreamID: StreamID
    var keys: [StreamKey: StreamID]
    var keyOf: [StreamID: StreamKey]
    var heads: [Int32: [StreamID: HeadState]]
    var segmentStreams: [Int32: Set<StreamID>]
    let options: StorageOptions
    let logger: Logger
    var lastAgeCheck = ContinuousClock.now
    /// True while heads that are due for sealing wait for a later pass (sealing is done in
    /// bounded passes between commits so a burst of due heads never stalls ingest).
    var sealBacklog = false
    var lastPrune = ContinuousClock.now
    var lastFreePagesCheck = ContinuousClock.now
    /// Days that held head lines lately, and how many more free-page checks look at each
    /// (`releaseBurstPages`).
    var daysWithHeads: [Int32: Int] = [:]
    /// When the last batch of lines was committed (an idle writer flushes the pending index).
    var lastCommit = ContinuousClock.now
    var recentChunks: [ChunkKey: (receipt: AppendReceipt, arrival: Int64)]
    /// Chunks whose lines span several days of which only some committed: a resend stores the
    /// lines of the other days only. Empty in the common case (checked before any lookup).
    var partialChunks: [ChunkKey: PartialChunk]
    /// Environments committed without a sync (`Durability.written`), and when the oldest of
    /// those commits was made; synced by `syncIfDue`.
    var unsynced: [ObjectIdentifier: LMDBEnvironment] = [:]
    var unsyncedSince: ContinuousClock.Instant?
    /// Requests in the last batch: how many senders are sending at once.
    var lastBatchRequests = 0

    /// Wall-clock time in nanoseconds (chunk arrival times survive restarts).
    static func wallClock() -> Int64 { Storage.now() }

    init(
        shared: Shared, catalog: Catalog, segmentsDirectory: String, nextLSN: LSN, nextStreamID: StreamID,
        keys: [StreamKey: StreamID], heads: [Int32: [StreamID: HeadState]], segmentStreams: [Int32: Set<StreamID>],
        recentChunks: [ChunkKey: (receipt: AppendReceipt, arrival: Int64)], partialChunks: [ChunkKey: PartialChunk],
        options: StorageOptions, logger: Logger
    ) {
        self.recentChunks = recentChunks
        self.partialChunks = partialChunks
        self.shared = shared
        self.catalog = catalog
        self.segmentsDirectory = segmentsDirectory
        self.nextLSN = nextLSN
        self.nextStreamID = nextStreamID
        self.keys = keys
        self.keyOf = Dictionary(uniqueKeysWithValues: keys.map { ($0.value, $0.key) })
        self.heads = heads
        self.segmentStreams = segmentStreams
        self.options = options
        self.logger = logger
    }

    func start() {
        let thread = Thread { [self] in
            self.run()
            self.finished.signal()
        }
        thread.name = "logstore-writer"
        thread.start()
    }

    /// Commits what is queued, then ends the thread and waits for it.
    func stop() {
        condition.lock()
        if stopping {
            condition.unlock()
            return
        }
        stopping = true
        condition.signal()
        condition.unlock()
        finished.wait()
    }

    func enqueue(_ lines: LineBatch, chunk: ChunkKey?, continuation: CheckedContinuation<AppendReceipt, Error>) {
        condition.lock()
        if stopping {
            condition.unlock()
            continuation.resume(throwing: StorageError.closed)
            return
        }
        if queuedLines > 0 && queuedLines + lines.count > options.maxQueuedLines {
            let queued = queuedLines
            condition.unlock()
            continuation.resume(throwing: StorageError.overloaded(queuedLines: queued))
            return
        }
        queue.append(Pending(lines: lines, chunk: chunk, continuation: continuation))
        queuedLines += lines.count
        // A writer gathering senders sleeps until as many as it waits for are queued.
        if queue.count >= gatherTarget || queuedLines >= options.maxLinesPerCommit { condition.signal() }
        condition.unlock()
    }

    /// Runs `body` on the writer thread between batches (maintenance: retention, compaction).
    func perform<T: Sendable>(_ body: @escaping @Sendable (Writer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            if stopping {
                condition.unlock()
                continuation.resume(throwing: StorageError.closed)
                return
            }
            tasks.append { writer in continuation.resume(with: Result { try body(writer) }) }
            condition.signal()
            condition.unlock()
        }
    }

    func requestSealAll(_ continuation: CheckedContinuation<Void, Error>) {
        condition.lock()
        if stopping {
            condition.unlock()
            continuation.resume(throwing: StorageError.closed)
            return
        }
        sealAllWaiters.append(continuation)
        condition.signal()
        condition.unlock()
    }

    /// A writer woken by the first of several senders' requests would commit them one or two
    /// at a time, paying a transaction (and, with `Durability.fsync`, its two flushes) each.
    /// When the last batch held several requests and fewer are queued, it waits up to
    /// `gatherWait` for as many (each enqueue wakes it). Called with `condition` locked.
    private func gatherSenders() {
        guard !queue.isEmpty, lastBatchRequests > 1, queue.count < lastBatchRequests else { return }
        let until = Date().addingTimeInterval(Self.gatherWait)
        gatherTarget = lastBatchRequests
        defer { gatherTarget = 0 }
        while queue.count < lastBatchRequests && !stopping && queuedLines < options.maxLinesPerCommit {
            if !condition.wait(until: until) { break }
        }
    }

    static let gatherWait: TimeInterval = 0.0002

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && sealAllWaiters.isEmpty && tasks.isEmpty && !stopping && !sealBacklog {
                if !condition.wait(until: Date().addingTimeInterval(idleWait())) { break }
            }
            gatherSenders()
            var batch: [Pending] = []
            var lines = 0
            var bytes = 0
            while !queue.isEmpty
                && (lines == 0
                    || (lines + queue[0].lines.count <= options.maxLinesPerCommit
                        && bytes + queue[0].lines.bytes.count <= options.maxBytesPerCommit))
            {
                let next = queue.removeFirst()
                lines += next.lines.count
                bytes += next.lines.bytes.count
                batch.append(next)
            }
            queuedLines -= lines
            if !batch.isEmpty { lastBatchRequests = batch.count }
            let sealWaiters = queue.isEmpty ? sealAllWaiters : []
            if queue.isEmpty { sealAllWaiters = [] }
            let work = tasks
            tasks = []
            let exit = stopping && queue.isEmpty && batch.isEmpty && work.isEmpty
            condition.unlock()

            if !batch.isEmpty {
                commit(batch)
                lastCommit = .now
            }
            for task in work { task(self) }
            if !sealWaiters.isEmpty {
                do {
                    while try sealHeads({ _, _ in true }) {}
                    for waiter in sealWaiters { waiter.resume() }
                } catch {
                    for waiter in sealWaiters { waiter.resume(throwing: error) }
                }
            }
            let now = ContinuousClock.now
            if now - lastPrune >= .seconds(60) {
                lastPrune = now
                pruneChunks()
            }
            if sealBacklog || now - lastAgeCheck >= .seconds(1) {
                lastAgeCheck = now
                do {
                    sealBacklog = try sealHeads { id, head in
                        head.count >= options.sealLines || head.bytes >= options.sealBytes || head.oldest <= now - sealAge(id)
                    }
                } catch {
                    sealBacklog = false
                    logger.error("sealing heads by age failed", metadata: ["error": "\(error)"])
                }
            }
            flushIndexes(all: exit, idle: now - lastCommit >= options.indexFlushIdle)
            syncIfDue(all: exit)
            if !exit && options.freePagesCheck > .zero && now - lastFreePagesCheck >= options.freePagesCheck {
                lastFreePagesCheck = now
                releaseBurstPages()
            }
            if exit { return }
        }
    }
}
