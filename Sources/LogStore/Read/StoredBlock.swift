import Foundation

/// StoredBlock is a block as a `SegmentSnapshot` found it: its stream, its stored bytes
/// (borrowed from the map: valid only inside the snapshot) and its header, parsed in place.
/// Nothing is decompressed until `SegmentSnapshot.decode` is asked.
struct StoredBlock {
    let stream: StreamID
    let bytes: UnsafeRawBufferPointer
    let header: BlockHeader

    /// The block's key in `Keys.segmentBlocks`: its stream and its first LSN.
    var key: [UInt8] { Keys.streamLSN(stream, header.firstLSN) }

    /// The block's identity for caches (`BlockID`) in `segment`.
    func id(in segment: Segment) -> BlockID {
        BlockID(segment: segment.path, key: key, crc: header.crc, payloadSize: header.payloadSize)
    }

    /// The block's lines, from `cache` when given (under `id(in: segment)`), else decoded afresh.
    /// Safe on any thread while the snapshot that found the block is open.
    func decode(cache: BlockCache?, segment: Segment) throws -> DecodedBlock {
        guard let cache else { return try BlockCodec.decode(bytes, dictionary: segment.dictionary) }
        return try cache.decoded(id(in: segment), bytes: bytes, dictionary: segment.dictionary)
    }
}
