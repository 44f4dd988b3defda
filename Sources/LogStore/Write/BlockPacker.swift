import Foundation

/// BlockPacker fills the packs of a compacted segment: blocks' and shared frames' bytes one
/// after another, then long postings runs, and the `blocks` entries (key → `BlockPointer` or
/// `SharedRun`) to store with them, in key order (`MDB_APPEND`).
struct BlockPacker {
    var pack = ByteWriter(capacity: Packs.target + 512 * 1024)
    /// The number of the pack being filled.
    var number: UInt32 = 0
    /// `blocks` entries not stored yet, in key order.
    private(set) var entries: [([UInt8], [UInt8])] = []

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

    /// Appends bytes that values elsewhere point into (a shared frame's blocks, a postings run);
    /// returns where they are.
    mutating func appendPointed(_ bytes: [UInt8]) -> (pack: UInt32, offset: UInt32, length: UInt32) {
        let offset = pack.bytes.count
        pack.append(bytes)
        return (number, UInt32(offset), UInt32(bytes.count))
    }

    /// Adds the entry of a block already placed (a block of a shared frame).
    mutating func addEntry(key: [UInt8], _ value: [UInt8]) {
        entries.append((key, value))
    }

    /// Starts the next pack (after the current one and the entries were stored).
    mutating func next() {
        number += 1
        pack.bytes.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
    }

    /// Forgets the entries (after they were stored with a pack not yet full).
    mutating func clearEntries() { entries.removeAll(keepingCapacity: true) }
}
