import Foundation

/// StoredBlock is a block as a `SegmentSnapshot` found it: its stream, its stored bytes
/// (borrowed from the map: valid only inside the snapshot) and its header, parsed in place.
/// Nothing is decompressed until `SegmentSnapshot.decode` is asked.
///
/// A block stored in a shared frame (`SharedRun`) has the frame's stored bytes as `bytes`, the
/// header its pointer describes, and `frame` telling where its payload is in the frame.
struct StoredBlock {
    let stream: StreamID
    let bytes: UnsafeRawBufferPointer
    let header: BlockHeader
    /// Set for a block stored in a shared frame.
    let frame: FramePlace?

    /// Where a block of a shared frame is: the frame (pack and offset, its key in the segment's
    /// frame cache) and the block's raw payload inside the inflated frame.
    struct FramePlace {
        let pack: UInt32
        let offset: UInt32
        let run: Range<Int>
        /// The frame's raw bytes.
        let frameRaw: Int
    }

    init(stream: StreamID, bytes: UnsafeRawBufferPointer, header: BlockHeader, frame: FramePlace? = nil) {
        self.stream = stream
        self.bytes = bytes
        self.header = header
        self.frame = frame
    }

    /// The block's key in `Keys.segmentBlocks`: its stream and its first LSN.
    var key: [UInt8] { Keys.streamLSN(stream, header.firstLSN) }

    /// Stored bytes this block accounts for: its own, or its share of its frame's (by raw size).
    var storedSize: Int {
        guard let frame else { return bytes.count }
        return frame.frameRaw == 0 ? 0 : Int((Double(bytes.count) * Double(frame.run.count) / Double(frame.frameRaw)).rounded())
    }

    /// The block's identity for caches (`BlockID`) in `segment`.
    func id(in segment: Segment) -> BlockID {
        BlockID(segment: segment.path, key: key, crc: header.crc, payloadSize: header.payloadSize)
    }

    /// The block's payload before its codec (crc and size checked): for a block of a shared
    /// frame, its run of the inflated frame (from the segment's frame cache).
    func rawPayload(segment: Segment) throws(CorruptDataError) -> [UInt8] {
        if let frame {
            let raw = try segment.inflatedFrame(pack: frame.pack, offset: frame.offset, bytes: bytes)
            guard frame.run.upperBound <= raw.count else {
                throw CorruptDataError("shared block run ends at \(frame.run.upperBound), its frame holds \(raw.count) bytes")
            }
            return Array(raw[frame.run])
        }
        return try BlockCodec.rawPayload(bytes, dictionary: segment.dictionary).1
    }

    /// The block's header and raw payload in the current block version (what a shared frame
    /// holds): a block of an earlier version is laid out again.
    func currentRawPayload(segment: Segment) throws(CorruptDataError) -> (BlockHeader, [UInt8]) {
        if frame != nil { return (header, try rawPayload(segment: segment)) }
        return try BlockCodec.currentRawPayload(bytes, source: segment.dictionary)
    }

    /// The block's lines, from `cache` when given (under `id(in: segment)`), else decoded afresh.
    /// Safe on any thread while the snapshot that found the block is open.
    func decode(cache: BlockCache?, segment: Segment) throws(CorruptDataError) -> DecodedBlock {
        let make = { () throws(CorruptDataError) -> DecodedBlock in
            if frame == nil { return try BlockCodec.decode(bytes, dictionary: segment.dictionary) }
            return try DecodedBlock(header: header, payload: try rawPayload(segment: segment))
        }
        guard let cache else { return try make() }
        return try cache.decoded(id(in: segment), make)
    }
}
