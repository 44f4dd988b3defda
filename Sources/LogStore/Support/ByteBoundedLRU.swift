import Synchronization

/// A map bounded by the bytes of its values, least recently used out first. Thread-safe.
public final class ByteBoundedLRU<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    struct Entry {
        let value: Value
        let size: Int
        var used: UInt64
    }

    struct State {
        var entries: [Key: Entry] = [:]
        var bytes = 0
        var tick: UInt64 = 0
        var hits = 0
        var misses = 0
    }

    /// Most bytes held; 0 disables the cache.
    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    public func get(_ key: Key) -> Value? {
        if capacity == 0 { return nil }
        return state.withLock { s in
            s.tick += 1
            guard var entry = s.entries[key] else {
                s.misses += 1
                return nil
            }
            s.hits += 1
            entry.used = s.tick
            s.entries[key] = entry
            return entry.value
        }
    }

    /// Keeps `value` (costing `size` bytes) unless it alone is over a quarter of the capacity.
    public func put(_ key: Key, _ value: Value, size: Int) {
        guard capacity > 0, size <= capacity / 4 else { return }
        state.withLock { s in
            if s.entries[key] != nil { return }
            s.tick += 1
            s.entries[key] = Entry(value: value, size: size, used: s.tick)
            s.bytes += size
            if s.bytes > capacity {
                // Evict the least recently used down to 3/4 of the capacity: one sort per many inserts.
                // Keys and ages only: sorting the entries themselves copied (retained) every value.
                let order = s.entries.map { ($0.key, $0.value.used, $0.value.size) }.sorted { $0.1 < $1.1 }
                for (k, _, size) in order where s.bytes > capacity * 3 / 4 {
                    s.entries[k] = nil
                    s.bytes -= size
                }
            }
        }
    }

    /// Entries, bytes held, hits and misses so far (tests, stats).
    public var statistics: (entries: Int, bytes: Int, hits: Int, misses: Int) {
        state.withLock { ($0.entries.count, $0.bytes, $0.hits, $0.misses) }
    }
}
