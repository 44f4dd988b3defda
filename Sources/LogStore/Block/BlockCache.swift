import Synchronization

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

    /// The decoded block `id`, from the cache when it is there, else made by `make` and kept.
    func decoded(_ id: BlockID, _ make: () throws(CorruptDataError) -> DecodedBlock) throws(CorruptDataError) -> DecodedBlock {
        if lru.capacity == 0 { return try make() }
        if let found = lru.get(id) { return found }
        let block = try make()
        lru.put(id, block, size: block.memorySize + id.memorySize)
        return block
    }

    var statistics: (entries: Int, bytes: Int, hits: Int, misses: Int) { lru.statistics }
}
