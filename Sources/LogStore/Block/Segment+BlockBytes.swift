import Foundation

extension Segment {
    /// The block stored under a `blocks` value: the value itself, or the bytes it points to in
    /// `packs` (borrowed from the map, valid inside `txn`).
    func blockBytes(_ txn: borrowing LMDBTransaction, _ value: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer {
        guard let pointer = try BlockPointer.decode(value) else { return value }
        guard let packs, let pack = try txn.get(packs, Keys.u32(pointer.pack)) else {
            throw CorruptDataError("block points to missing pack \(pointer.pack)")
        }
        let start = Int(pointer.offset)
        let end = start + Int(pointer.length)
        guard end <= pack.count else { throw CorruptDataError("block pointer beyond pack \(pointer.pack) (\(end) > \(pack.count))") }
        return UnsafeRawBufferPointer(rebasing: pack[start..<end])
    }
}
