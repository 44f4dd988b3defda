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

    /// The decoded block stored as `bytes` (identity `id`), from the cache when it is there;
    /// `dictionary` is its segment's (codec 3).
    func decoded(_ id: BlockID, bytes: UnsafeRawBufferPointer, dictionary: SegmentDictionary? = nil) throws(CorruptDataError) -> DecodedBlock {
        if lru.capacity == 0 { return try BlockCodec.decode(bytes, dictionary: dictionary) }
        if let found = lru.get(id) { return found }
        let block = try BlockCodec.decode(bytes, dictionary: dictionary)
        lru.put(id, block, size: block.memorySize + id.memorySize)
        return block
    }

    /// The decoded block `id`, from the cache when it is there, else made by `make` and kept.
    func decoded(_ id: BlockID, _ make: () throws -> DecodedBlock) throws -> DecodedBlock {
        if lru.capacity == 0 { return try make() }
        if let found = lru.get(id) { return found }
        let block = try make()
        lru.put(id, block, size: block.memorySize + id.memorySize)
        return block
    }

    var statistics: (entries: Int, bytes: Int, hits: Int, misses: Int) { lru.statistics }
}
