import Foundation

/// BlockPacker fills one pack of a compacted segment: the blocks' bytes one after another and,
/// for each, its key and the `BlockPointer` that `blocks` will hold.
struct BlockPacker {
    var pack = ByteWriter(capacity: Packs.target + 512 * 1024)
    var pointers: [([UInt8], [UInt8])] = []
    /// The number of the pack being filled.
    var number: UInt32 = 0

    /// True when the pack has reached `Packs.target` bytes.
    var isFull: Bool { pack.bytes.count >= Packs.target }

    /// Appends a block stored under `key`; returns its length.
    mutating func append(key: [UInt8], _ bytes: some Collection<UInt8>) -> Int {
        let offset = pack.bytes.count
        pack.append(bytes)
        let length = pack.bytes.count - offset
        pointers.append((key, BlockPointer(pack: number, offset: UInt32(offset), length: UInt32(length)).shortEncoded()))
        return length
    }

    /// Starts the next pack (after the current one was stored).
    mutating func next() {
        number += 1
        pack.bytes.removeAll(keepingCapacity: true)
        pointers.removeAll(keepingCapacity: true)
    }
}
