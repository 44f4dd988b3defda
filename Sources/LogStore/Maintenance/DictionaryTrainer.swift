import Foundation

/// Trains a day's preset dictionary (`PresetDictionary`) from a sample of its blocks.
///
/// The pieces are the blocks' messages and distinct field values. A piece is worth what its
/// 8-byte substrings are worth: each counts once per other sampled block it also occurs in
/// (text that one block alone holds deflate already finds inside the block). Pieces are taken
/// greedily by worth per byte, each only while most of its substrings are not in the dictionary
/// yet, up to `PresetDictionary.maxSize`; the worthiest go last, where deflate's distances are
/// shortest.
struct DictionaryTrainer {
    /// Longer pieces count by their first this many bytes.
    static let pieceLimit = 1024

    private struct Gram {
        var blocks: Int32
        var lastBlock: Int32
    }

    private var grams: [UInt64: Gram] = [:]
    private var pieces: [[UInt8]] = []
    private var seen: Set<[UInt8]> = []
    private var block: Int32 = 0
    /// Bytes of the pieces added (repeats included).
    private(set) var sampledBytes = 0

    /// Adds the texts of one block.
    mutating func add(_ decoded: DecodedBlock) {
        block += 1
        for i in 0..<decoded.count { add(piece: decoded.messageBytes(i)) }
        let offsets = decoded.fieldOffsets
        if offsets.count > 1 {
            for v in 0..<(offsets.count - 1) { add(piece: decoded.payload[offsets[v]..<offsets[v + 1]]) }
        }
    }

    private mutating func add(piece full: ArraySlice<UInt8>) {
        let piece = full.prefix(Self.pieceLimit)
        guard piece.count >= 8 else { return }
        sampledBytes += piece.count
        let block = self.block
        piece.withUnsafeBytes { b in
            for p in 0...(b.count - 8) {
                let g = b.loadUnaligned(fromByteOffset: p, as: UInt64.self)
                if var found = grams[g] {
                    if found.lastBlock != block {
                        found.blocks += 1
                        found.lastBlock = block
                        grams[g] = found
                    }
                } else {
                    grams[g] = Gram(blocks: 1, lastBlock: block)
                }
            }
        }
        let copy = Array(piece)
        if seen.insert(copy).inserted { pieces.append(copy) }
    }

    /// Worth of `piece`: for each 8-byte substring not in `covered`, the number of other
    /// sampled blocks holding it.
    private func worth(_ piece: [UInt8], covered: Set<UInt64>) -> Int {
        piece.withUnsafeBytes { b in
            var total = 0
            for p in 0...(b.count - 8) {
                let g = b.loadUnaligned(fromByteOffset: p, as: UInt64.self)
                guard !covered.contains(g), let found = grams[g] else { continue }
                total += Int(found.blocks) - 1
            }
            return total
        }
    }

    /// The dictionary (at most `maxSize` bytes; empty when no text recurs across blocks).
    func dictionary(maxSize: Int = PresetDictionary.maxSize) -> [UInt8] {
        let none = Set<UInt64>()
        let ranked = pieces.map { ($0, worth($0, covered: none)) }
            .filter { $0.1 >= $0.0.count }  // on average each substring in two blocks or more
            .sorted { ($0.1 * $1.0.count, $0.0.count) > ($1.1 * $0.0.count, $1.0.count) }
        var covered = Set<UInt64>()
        var chosen: [[UInt8]] = []
        var size = 0
        for (piece, initial) in ranked {
            guard size + piece.count <= maxSize else {
                if maxSize - size < 64 { break }
                continue
            }
            guard worth(piece, covered: covered) * 2 >= initial else { continue }
            chosen.append(piece)
            size += piece.count
            piece.withUnsafeBytes { b in
                for p in 0...(b.count - 8) { covered.insert(b.loadUnaligned(fromByteOffset: p, as: UInt64.self)) }
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(size)
        for piece in chosen.reversed() { out.append(contentsOf: piece) }
        return out
    }
}
