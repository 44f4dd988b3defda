import Synchronization

/// A bound on the LMDB environments open at once (each holds three file descriptors and two
/// maps): when opening one puts more than `maxOpen` open, the least recently used environments
/// that no transaction is using are parked — closed, and reopened by their next transaction
/// with the same table handles. An environment in use is never parked, so while more than
/// `maxOpen` are in use at once, more stay open until their transactions end.
public final class LMDBEnvironmentPool: Sendable {
    /// The most environments kept open (at least 1).
    public let maxOpen: Int
    private let clock = Atomic<UInt64>(0)
    private let open = Mutex<[ObjectIdentifier: Entry]>([:])
    /// The count of `open`, readable without its lock.
    private let count = Atomic<Int>(0)

    private struct Entry {
        weak var env: LMDBEnvironment?
    }

    public init(maxOpen: Int) {
        self.maxOpen = max(1, maxOpen)
    }

    /// Environments of this pool open now.
    public var openCount: Int { open.withLock { $0.count } }

    /// A new use time (a counter, increasing).
    func tick() -> UInt64 { clock.add(1, ordering: .relaxed).newValue }

    /// Registers `env` as open (called by the environment while it holds its lock exclusively,
    /// as parking does when it forgets one: the registry and the environments agree).
    func register(_ env: LMDBEnvironment) {
        open.withLock { m in
            m[ObjectIdentifier(env)] = Entry(env: env)
            count.store(m.count, ordering: .relaxed)
        }
    }

    /// Parks the least recently used idle environments other than `env` past the bound
    /// (after `env` was opened).
    func trim(after env: LMDBEnvironment) {
        guard count.load(ordering: .relaxed) > maxOpen else { return }
        let (candidates, excess) = open.withLock { m -> ([LMDBEnvironment], Int) in
            let excess = m.count - maxOpen
            guard excess > 0 else { return ([], 0) }
            let others = m.values.compactMap(\.env).filter { $0 !== env }
            return (others.sorted { $0.lastUse < $1.lastUse }, excess)
        }
        park(candidates, excess)
    }

    /// Called when a transaction ends: while more than `maxOpen` are open (they were in use
    /// when the last one opened), parks the least recently used idle ones.
    @inline(__always)
    func transactionEnded() {
        guard count.load(ordering: .relaxed) > maxOpen else { return }
        let (candidates, excess) = open.withLock { m -> ([LMDBEnvironment], Int) in
            let excess = m.count - maxOpen
            guard excess > 0 else { return ([], 0) }
            return (m.values.compactMap(\.env).sorted { $0.lastUse < $1.lastUse }, excess)
        }
        park(candidates, excess)
    }

    private func park(_ candidates: [LMDBEnvironment], _ excess: Int) {
        var left = excess
        for candidate in candidates where left > 0 {
            if candidate.parkIfIdle() { left -= 1 }
        }
    }

    /// Forgets an environment that was closed or parked.
    func didClose(_ id: ObjectIdentifier) {
        open.withLock { m in
            m.removeValue(forKey: id)
            count.store(m.count, ordering: .relaxed)
        }
    }
}
