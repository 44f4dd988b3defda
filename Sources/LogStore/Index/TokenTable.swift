import Foundation

/// An open-addressing set of byte strings (tokens), each with a dense id: no allocation per
/// lookup, so tokenizing a block costs a hash and a compare per token.
struct TokenTable {
    private(set) var bytes: [UInt8] = []
    private(set) var starts: [Int32] = [0]
    private(set) var hashes: [UInt32] = []
    private var slots: [Int32]
    private var mask: Int

    init(capacity: Int = 256) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    var count: Int { starts.count - 1 }

    @inline(__always) static func hash(_ token: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for b in token { h = (h ^ UInt32(b)) &* 16_777_619 }
        return h
    }

    /// The token with id `i`.
    func token(_ i: Int) -> ArraySlice<UInt8> { bytes[Int(starts[i])..<Int(starts[i + 1])] }

    /// Finds or adds `token`; returns its id and whether it was added.
    @inline(__always)
    mutating func insert(_ token: UnsafeRawBufferPointer) -> (id: Int, inserted: Bool) {
        insert(token, hash: Self.hash(token))
    }

    /// `insert` with the token's `hash` (`TokenTable.hash`) already computed.
    @inline(__always)
    mutating func insert(_ token: UnsafeRawBufferPointer, hash h: UInt32) -> (id: Int, inserted: Bool) {
        var slot = Int(h) & mask
        while true {
            let id = slots[slot]
            if id < 0 { break }
            if hashes[Int(id)] == h && equals(Int(id), token) { return (Int(id), false) }
            slot = (slot + 1) & mask
        }
        let id = count
        slots[slot] = Int32(id)
        hashes.append(h)
        bytes.append(contentsOf: token)
        starts.append(Int32(bytes.count))
        if count * 2 > slots.count { grow() }
        return (id, true)
    }

    /// The id of `token`, or nil.
    func find(_ token: UnsafeRawBufferPointer) -> Int? {
        let h = Self.hash(token)
        var slot = Int(h) & mask
        while true {
            let id = slots[slot]
            if id < 0 { return nil }
            if hashes[Int(id)] == h && equals(Int(id), token) { return Int(id) }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always) private func equals(_ id: Int, _ token: UnsafeRawBufferPointer) -> Bool {
        let start = Int(starts[id])
        let length = Int(starts[id + 1]) - start
        guard length == token.count else { return false }
        return bytes.withUnsafeBytes { stored in
            // Most tokens are a few bytes: a loop beats a call to memcmp.
            if length <= 16 {
                let a = stored.baseAddress!.assumingMemoryBound(to: UInt8.self) + start
                let b = token.baseAddress!.assumingMemoryBound(to: UInt8.self)
                for k in 0..<length where a[k] != b[k] { return false }
                return true
            }
            return memcmp(stored.baseAddress! + start, token.baseAddress!, length) == 0
        }
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for id in 0..<count {
            var slot = Int(hashes[id]) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(id)
        }
    }
}
