import Foundation

/// The distinct field values of a block being encoded, each stored once, numbered in order of
/// first appearance.
struct FieldValues {
    /// The values, one after another.
    var bytes: [UInt8] = []
    /// Where each value ends in `bytes`.
    var ends: [Int] = []
    /// First value with a hash; the others with the same hash chain through `nextSameHash`.
    private var byHash: [Int: Int32] = [:]
    private var nextSameHash: [Int32] = []
    private var last: Int32 = -1

    /// The number of `value`, added when new. A value equal to the previous line's (the usual
    /// case) costs one comparison.
    mutating func slot(for value: UnsafeRawBufferPointer) -> Int32 {
        if last >= 0 && equals(last, value) { return last }
        var hasher = Hasher()
        hasher.combine(bytes: value)
        let hash = hasher.finalize()
        let first = byHash[hash] ?? -1
        var slot = first
        while slot >= 0 {
            if equals(slot, value) {
                last = slot
                return slot
            }
            slot = nextSameHash[Int(slot)]
        }
        let new = Int32(ends.count)
        bytes.append(contentsOf: value)
        ends.append(bytes.count)
        nextSameHash.append(first)
        byHash[hash] = new
        last = new
        return new
    }

    private func equals(_ slot: Int32, _ value: UnsafeRawBufferPointer) -> Bool {
        let start = slot == 0 ? 0 : ends[Int(slot) - 1]
        let end = ends[Int(slot)]
        guard end - start == value.count else { return false }
        if value.isEmpty { return true }
        return bytes.withUnsafeBytes { memcmp($0.baseAddress! + start, value.baseAddress!, value.count) == 0 }
    }
}
