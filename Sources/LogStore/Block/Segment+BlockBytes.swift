import Foundation

extension Segment {
    /// The block stored under a `blocks` value: the value itself, or the bytes it points to in
    /// `packs` (borrowed from the map, valid inside `txn`).
    func blockBytes(_ txn: borrowing LMDBTransaction, _ value: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer {
        guard let pointer = try BlockPointer.decode(value) else { return value }
        return try packBytes(txn, pack: pointer.pack, offset: pointer.offset, length: pointer.length)
    }

    /// `length` bytes at `offset` of pack `pack` (borrowed from the map, valid inside `txn`).
    private func packBytes(_ txn: borrowing LMDBTransaction, pack number: UInt32, offset: UInt32, length: UInt32) throws -> UnsafeRawBufferPointer {
        guard let packs, let pack = try txn.get(packs, Keys.u32(number)) else {
            throw CorruptDataError("block points to missing pack \(number)")
        }
        let start = Int(offset)
        let end = start + Int(length)
        guard end <= pack.count else { throw CorruptDataError("block pointer beyond pack \(number) (\(end) > \(pack.count))") }
        return UnsafeRawBufferPointer(rebasing: pack[start..<end])
    }

    /// The block of `stream` stored under `value` in `blocks`, whose key's first LSN is
    /// `firstLSN`: a block, a pointer into a pack, or a block of a shared frame.
    func storedBlock(_ txn: borrowing LMDBTransaction, stream: StreamID, firstLSN: LSN, value: UnsafeRawBufferPointer) throws -> StoredBlock {
        if let run = try SharedRun.decode(value) {
            let bytes = try packBytes(txn, pack: run.pack, offset: run.frameOffset, length: run.frameLength)
            let frame = try BlockHeader(parsing: bytes, frame: true)
            let member = try FrameMember.read(bytes, frame: frame, index: run.index)
            return StoredBlock(
                stream: stream, bytes: bytes, header: member.header(firstLSN: firstLSN, frame: frame),
                frame: StoredBlock.FramePlace(
                    pack: run.pack, offset: run.frameOffset, run: member.runOffset..<(member.runOffset + member.runLength),
                    frameRaw: frame.rawSize))
        }
        let bytes = try blockBytes(txn, value)
        return StoredBlock(stream: stream, bytes: bytes, header: try BlockHeader(parsing: bytes))
    }

    /// The inflated payload of the shared frame at `offset` of pack `pack` (`bytes`, its stored
    /// form), from `frames` when there: a scan reads a frame's blocks one after another.
    func inflatedFrame(pack: UInt32, offset: UInt32, bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> [UInt8] {
        let key = UInt64(pack) << 32 | UInt64(offset)
        if let found = frames.get(key) { return found }
        let raw = try BlockCodec.framePayload(bytes, dictionary: dictionary)
        frames.put(key, raw, size: raw.count + 64)
        return raw
    }
}
