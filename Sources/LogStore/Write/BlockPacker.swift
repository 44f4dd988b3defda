import Foundation

/// BlockPacker fills the packs of a compacted segment: blocks' and shared frames' bytes one
/// after another, and the `blocks` entries (key → `BlockPointer` or `SharedRun`) in key order.
/// A block added to the frame being filled gets its entry once the frame is placed, so entries
/// are handed out only up to the first block still waiting for its frame (`MDB_APPEND` needs
/// them in key order).
struct BlockPacker {
    var pack = ByteWriter(capacity: Packs.target + 512 * 1024)
    /// The number of the pack being filled.
    var number: UInt32 = 0
    /// `blocks` entries in key order; nil values wait for their frame.
    private var entries: [([UInt8], [UInt8]?)] = []
    /// Index in `entries` of each block of the frame being filled.
    private var frameSlots: [Int] = []

    /// True when the pack has reached `Packs.target` bytes.
    var isFull: Bool { pack.bytes.count >= Packs.target }
    var isEmpty: Bool { pack.bytes.isEmpty }

    /// Appends a block stored under `key`; returns its length.
    mutating func append(key: [UInt8], _ bytes: some Collection<UInt8>) -> Int {
        let offset = pack.bytes.count
        pack.append(bytes)
        let length = pack.bytes.count - offset
        entries.append((key, BlockPointer(pack: number, offset: UInt32(offset), length: UInt32(length)).shortEncoded()))
        return length
    }

    /// Notes a block of the frame being filled, stored under `key` (its entry comes with
    /// `placeFrame`).
    mutating func reserveFrameMember(key: [UInt8]) {
        frameSlots.append(entries.count)
        entries.append((key, nil))
    }

    /// Appends the frame holding the blocks reserved since the last frame (its members, in
    /// the order reserved); returns its length.
    mutating func placeFrame(_ bytes: [UInt8]) -> Int {
        let offset = pack.bytes.count
        pack.append(bytes)
        for (index, slot) in frameSlots.enumerated() {
            entries[slot].1 = SharedRun(pack: number, frameOffset: UInt32(offset), frameLength: UInt32(bytes.count), index: index).encoded()
        }
        frameSlots.removeAll(keepingCapacity: true)
        return bytes.count
    }

    /// The entries ready to store, in key order (removed from the packer).
    mutating func takeReadyEntries() -> [([UInt8], [UInt8])] {
        let ready = entries.firstIndex { $0.1 == nil } ?? entries.count
        let out = entries[..<ready].map { ($0.0, $0.1!) }
        entries.removeFirst(ready)
        for i in frameSlots.indices { frameSlots[i] -= ready }
        return out
    }

    /// Starts the next pack (after the current one was stored).
    mutating func next() {
        number += 1
        pack.bytes.removeAll(keepingCapacity: true)
    }
}
