import Synchronization

/// A sealed block as stored: which segment file (its path names the compaction generation),
/// its key, and its stored header's crc and payload size. A block rewritten under the same key
/// (compaction merging in place) or copied into a new generation gets another identity, so a
/// cache keyed by it never answers from a stale entry: stale entries are simply never asked
/// for again and age out.
public struct BlockID: Hashable, Sendable {
    let segment: String
    let key: [UInt8]
    let crc: UInt32
    let payloadSize: Int

    /// Bytes this identity costs as a cache key.
    public var memorySize: Int { segment.utf8.count + key.count + 64 }
}

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

/// Decoded blocks kept for the next read, bounded by bytes.
///
/// REANA's UI and `reana-client logs --follow` re-read the same job every few seconds: a hit
/// skips the crc check, the inflate and the column parse of a sealed block. Head lines are
/// never cached (they are not blocks).
final class BlockCache: Sendable {
    let lru: ByteBoundedLRU<BlockID, DecodedBlock>

    init(capacity: Int) {
        lru = ByteBoundedLRU(capacity: capacity)
    }

    /// The decoded block stored as `bytes` (identity `id`), from the cache when it is there.
    func decoded(_ id: BlockID, bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> DecodedBlock {
        if lru.capacity == 0 { return try BlockCodec.decode(bytes) }
        if let found = lru.get(id) { return found }
        let block = try BlockCodec.decode(bytes)
        lru.put(id, block, size: block.memorySize + id.memorySize)
        return block
    }

    var statistics: (entries: Int, bytes: Int, hits: Int, misses: Int) { lru.statistics }
}
