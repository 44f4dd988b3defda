import LogStore
import Synchronization

/// The registry of waiting `/v1/tail` requests: each is a continuation (no thread), woken by
/// the store's commit observer when a commit touches one of its streams, by the timer at its
/// deadline, by its connection closing, or by shutdown.
///
/// The observer runs on the writer thread: it only looks up the commit's streams in an index
/// and resumes the continuations found there; the query filter is checked by the woken request.
final class TailHub: Sendable {
    struct Waiter {
        var selector: StreamSelector
        var streams: Set<StreamID>
        /// Wake only for commits above this LSN (everything up to it was read).
        var after: LSN
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<TailWake, Never>
    }

    struct State {
        var waiters: [UInt64: Waiter] = [:]
        /// Stream → waiters whose selection holds it.
        var byStream: [StreamID: Set<UInt64>] = [:]
        /// The most specific part of each waiter's selector (job, else workflow, else index) →
        /// waiters: a new stream is matched only against the waiters its key can concern.
        var bySelector: [SelectorKey: Set<UInt64>] = [:]
        /// Every stream the hub knows (stored before it started, or seen in commits since) and
        /// the last commit LSN that touched it.
        var lastCommit: [StreamID: LSN] = [:]
        /// Bumped when a stream appears for the first time: a request that resolved its streams
        /// before may miss it and is woken to resolve them again.
        var generation: UInt64 = 0
        /// Streams per selector, valid while `generation` is `resolvedGeneration` (and for
        /// `resolvedFor` at most, so that a deleted workflow's streams drop out).
        var resolved: [SelectorKey.Full: [StreamInfo]] = [:]
        var resolvedGeneration: UInt64 = 0
        var resolvedAt = ContinuousClock.now
        /// Requests admitted to wait (registered, or between wake-ups): the figure the cap limits.
        var holding = 0
        var nextID: UInt64 = 0
        var shuttingDown = false
    }

    /// A waiter's id once registered, and whether its task was cancelled before.
    final class Ticket: Sendable {
        private let state = Mutex<(id: UInt64?, cancelled: Bool)>((nil, false))

        /// Records the id; true when the task was already cancelled.
        func set(_ id: UInt64) -> Bool {
            state.withLock { s in
                s.id = id
                return s.cancelled
            }
        }

        /// Marks the task cancelled; the id when registered.
        func cancel() -> UInt64? {
            state.withLock { s in
                s.cancelled = true
                return s.id
            }
        }
    }

    /// The part of a selector a new stream is looked up by.
    enum SelectorKey: Hashable {
        case job(String), workflow(String), index(String), all

        init(_ selector: StreamSelector) {
            if let job = selector.job {
                self = .job(job)
            } else if let workflow = selector.workflow {
                self = .workflow(workflow)
            } else if let index = selector.index {
                self = .index(index)
            } else {
                self = .all
            }
        }

        /// A whole selector, as a dictionary key.
        struct Full: Hashable {
            var index, workflow, job: String?
            init(_ s: StreamSelector) { (index, workflow, job) = (s.index, s.workflow, s.job) }
        }

        /// The keys under which waiters that may select a stream with `key` are found.
        static func candidates(for key: StreamKey) -> [SelectorKey] {
            [.job(key.job), .workflow(key.workflow), .index(key.index), .all]
        }
    }

    enum Registration {
        case waiting(UInt64)
        case done(TailWake)
    }

    let state = Mutex(State())
    /// At most this many requests wait at once; more are answered 503.
    let maxWaiters: Int
    let storage: Storage
    /// The open connections, for a waiting request to notice its client leaving.
    let connections = ConnectionRegistry()
    private let observerToken: Mutex<UInt64?> = Mutex(nil)

    init(storage: Storage, maxWaiters: Int) {
        self.storage = storage
        self.maxWaiters = maxWaiters
        let token = storage.addObserver { [weak self] event in self?.committed(event) }
        observerToken.withLock { $0 = token }
        // The last LSN of every stream stored before: commits seen from now on raise them.
        let known = storage.allStreams()
        state.withLock { s in
            for info in known { s.lastCommit[info.id] = max(s.lastCommit[info.id] ?? 0, info.stats.lastLSN) }
        }
    }

    /// True when a commit above `after` touched one of `streams` (as far as the commits observed
    /// so far tell; a commit published but not yet observed wakes the waiter it concerns).
    func hasCommits(after: LSN, in streams: [StreamInfo]) -> Bool {
        state.withLock { s in streams.contains { (s.lastCommit[$0.id] ?? 0) > after } }
    }

    deinit {
        if let token = observerToken.withLock({ $0 }) { storage.removeObserver(token) }
    }

    /// Requests admitted to wait now (what `/v1/stats` shows as `tailWaiters`).
    var waiting: Int { state.withLock { $0.holding } }

    /// The current stream generation; read it before resolving a request's streams.
    var generation: UInt64 { state.withLock { $0.generation } }

    var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }

    /// How long a resolved selection is reused at most.
    static let resolvedFor: Duration = .seconds(30)

    /// The streams `selector` names now, and the generation to pass to `wait`.
    ///
    /// Every follower asks this on every request; scanning all streams each time was the tail's
    /// main cost with thousands of followers, so selections are cached until a stream appears
    /// (the generation changes) or `resolvedFor` passes.
    func streams(matching selector: StreamSelector) -> (generation: UInt64, streams: [StreamInfo]) {
        let key = SelectorKey.Full(selector)
        let now = ContinuousClock.now
        let (generation, cached) = state.withLock { s -> (UInt64, [StreamInfo]?) in
            if s.resolvedGeneration != s.generation || now - s.resolvedAt > Self.resolvedFor {
                s.resolved = [:]
                s.resolvedGeneration = s.generation
                s.resolvedAt = now
            }
            return (s.generation, s.resolved[key])
        }
        if let cached { return (generation, cached) }
        let streams = storage.streams(matching: selector)  // after reading the generation
        state.withLock { s in
            if s.resolvedGeneration == generation && s.generation == generation { s.resolved[key] = streams }
        }
        return (generation, streams)
    }

    /// Admits one more waiting request; false when `maxWaiters` are already waiting or the server
    /// is shutting down. Pair with `release()`.
    func admit() -> Bool {
        state.withLock { s in
            guard s.holding < maxWaiters, !s.shuttingDown else { return false }
            s.holding += 1
            return true
        }
    }

    func release() {
        state.withLock { $0.holding -= 1 }
    }

    /// Suspends until a commit above `after` touches one of `streams` (or a new stream appears
    /// that `selector` may select), the deadline passes, the client goes away or the server
    /// shuts down. Returns at once when one of these already happened since the caller read up
    /// to `after` with the streams resolved at `generation`.
    func wait(
        selector: StreamSelector, streams: Set<StreamID>, after: LSN, generation: UInt64, deadline: ContinuousClock.Instant,
        connection: ConnectionState?
    ) async -> TailWake {
        // Task cancellation releases the waiter too (Hummingbird does not cancel handlers when
        // their client leaves, but a cancelled server task must not hold requests).
        let ticket = Ticket()
        let wake = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let registered: Registration = state.withLock { s in
                    if s.shuttingDown { return .done(.shutdown) }
                    if s.generation != generation { return .done(.commit) }
                    for id in streams where (s.lastCommit[id] ?? 0) > after { return .done(.commit) }
                    if deadline <= .now { return .done(.timeout) }
                    s.nextID += 1
                    let id = s.nextID
                    s.waiters[id] = Waiter(selector: selector, streams: streams, after: after, deadline: deadline, continuation: continuation)
                    for stream in streams { s.byStream[stream, default: []].insert(id) }
                    s.bySelector[SelectorKey(selector), default: []].insert(id)
                    return .waiting(id)
                }
                switch registered {
                case .done(let wake):
                    continuation.resume(returning: wake)
                case .waiting(let id):
                    if ticket.set(id) { cancel(id, .clientGone) }
                    // The connection's close releases the waiter; closed already: released now.
                    if let connection, !connection.onClose({ [weak self] in self?.cancel(id, .clientGone) }) {
                        cancel(id, .clientGone)
                    }
                }
            }
        } onCancel: {
            if let id = ticket.cancel() { self.cancel(id, .clientGone) }
        }
        connection?.clearOnClose()
        return wake
    }

    /// Resumes waiter `id` with `wake` when it is still waiting.
    func cancel(_ id: UInt64, _ wake: TailWake) {
        let continuation = state.withLock { Self.remove(id, from: &$0) }
        continuation?.resume(returning: wake)
    }

    /// Removes waiter `id` and returns its continuation (the caller resumes it outside the lock).
    private static func remove(_ id: UInt64, from s: inout State) -> CheckedContinuation<TailWake, Never>? {
        guard let waiter = s.waiters.removeValue(forKey: id) else { return nil }
        for stream in waiter.streams {
            s.byStream[stream]?.remove(id)
            if s.byStream[stream]?.isEmpty == true { s.byStream[stream] = nil }
        }
        let selectorKey = SelectorKey(waiter.selector)
        s.bySelector[selectorKey]?.remove(id)
        if s.bySelector[selectorKey]?.isEmpty == true { s.bySelector[selectorKey] = nil }
        return waiter.continuation
    }

    /// The commit observer (writer thread): wakes the waiters of the touched streams.
    func committed(_ event: CommitEvent) {
        // Keys of streams never seen before are looked up outside the hub's lock.
        let unseen = state.withLock { s in event.streams.filter { s.lastCommit[$0] == nil } }
        let newKeys = unseen.compactMap { id in storage.stream(id).map { (id, $0.key) } }
        let woken = state.withLock { s -> [CheckedContinuation<TailWake, Never>] in
            var ids = Set<UInt64>()
            if !unseen.isEmpty {
                s.generation += 1
                // A new stream may belong to waiters that have not resolved it.
                for (_, key) in newKeys {
                    for candidate in SelectorKey.candidates(for: key) {
                        for id in s.bySelector[candidate] ?? [] where s.waiters[id]?.selector.selects(key) == true { ids.insert(id) }
                    }
                }
            }
            for stream in event.streams {
                s.lastCommit[stream] = event.lastLSN
                guard let waiting = s.byStream[stream] else { continue }
                for id in waiting where (s.waiters[id]?.after ?? .max) < event.lastLSN { ids.insert(id) }
            }
            return ids.compactMap { Self.remove($0, from: &s) }
        }
        for continuation in woken { continuation.resume(returning: .commit) }
    }

    /// Resumes the waiters whose deadline passed (called by `TailService` a few times a second).
    func expire(now: ContinuousClock.Instant) {
        let expired = state.withLock { s -> [CheckedContinuation<TailWake, Never>] in
            let due = s.waiters.filter { $0.value.deadline <= now }.map(\.key)
            return due.compactMap { Self.remove($0, from: &s) }
        }
        for continuation in expired { continuation.resume(returning: .timeout) }
    }

    /// Answers every waiter now and every later request at once (graceful shutdown).
    func shutdown() {
        let all = state.withLock { s -> [CheckedContinuation<TailWake, Never>] in
            s.shuttingDown = true
            let ids = Array(s.waiters.keys)
            return ids.compactMap { Self.remove($0, from: &s) }
        }
        for continuation in all { continuation.resume(returning: .shutdown) }
    }
}
