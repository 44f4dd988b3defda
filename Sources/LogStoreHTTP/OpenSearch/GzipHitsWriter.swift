import Foundation
import LogStore
import NIOCore

/// GzipHitsWriter writes the gzip-compressed hits of a `_search` answer from pieces deflated
/// once: a whole sealed block's hits are kept in ``hitCache`` under the block's identity and
/// copied into later answers as they are.
struct GzipHitsWriter: Sendable {
    /// Deflated hits of whole blocks, bounded by bytes.
    let hitCache: ByteBoundedLRU<BlockID, DeflatedPiece>

    /// Lines of a gzip piece that is not a whole block (never cached).
    static let looseRun = 256
    /// Answers with at least this many hits build their missing pieces on all cores.
    static let parallelLines = 256

    /// The answer from `head` (up to `"hits":[`) on, gzip-compressed.
    ///
    /// The hits are cut into pieces, each deflated on its own (`DeflatedPiece`): one per whole
    /// sealed block (cached under the block's identity, so a later answer copies it as it is)
    /// and runs of at most `looseRun` other lines (head lines, blocks cut by the window). The
    /// pieces not in the cache are built on every core at once: a first read of a long job log
    /// is mostly JSON writing and deflate, and one answer then takes about 1/cores of it.
    func write(
        _ lines: ArraySlice<LinePage.Ref>, of page: LinePage, keys: [StreamID: StreamKey], ids: [LSN: String] = [:], head: [UInt8]
    ) -> [UInt8] {
        struct Part {
            let range: Range<Int>
            let block: BlockID?
            var piece: DeflatedPiece?
        }
        var parts: [Part] = []
        var i = lines.startIndex
        while i < lines.endIndex {
            if let (id, n) = page.wholeBlock(startingAt: i, in: lines) {
                parts.append(Part(range: i..<(i + n), block: id, piece: hitCache.get(id)))
                i += n
                continue
            }
            // Up to the next block start, at most `looseRun` lines.
            var j = i + 1
            while j < lines.endIndex, j - i < Self.looseRun, !lines[j].startsSource { j += 1 }
            parts.append(Part(range: i..<j, block: nil, piece: nil))
            i = j
        }
        let missing = parts.indices.filter { parts[$0].piece == nil }
        // The work: each missing part, big parts in slices of about (missing lines / cores) so
        // that every core gets a share (a thousand-line job is often one block); a part's
        // slices are joined back into its piece.
        let cores = Processors.active
        let parallel = cores > 1 && lines.count >= Self.parallelLines
        let missingLines = missing.reduce(0) { $0 + parts[$1].range.count }
        let slice = max(Self.parallelLines / 2, (missingLines + cores - 1) / cores)
        var tasks: [(part: Int, range: Range<Int>)] = []
        for k in missing {
            let range = parts[k].range
            let ways = parallel ? max(1, (range.count + slice / 2) / slice) : 1
            for w in 0..<ways {
                let lo = range.lowerBound + range.count * w / ways
                let hi = range.lowerBound + range.count * (w + 1) / ways
                tasks.append((k, lo..<hi))
            }
        }
        let build = { @Sendable (range: Range<Int>, leadingComma: Bool) -> DeflatedPiece in
            GzipWriter.piece(capacity: range.count * 40) { json, flush in
                if leadingComma { json.writeInteger(UInt8(ascii: ",")) }
                var r = range.lowerBound
                while r < range.upperBound {
                    let end = min(r + 64, range.upperBound)
                    if r > range.lowerBound { json.writeInteger(UInt8(ascii: ",")) }
                    HitWriter.writeHits(lines[r..<end], of: page, keys: keys, source: .all, ids: ids, into: &json)
                    flush(&json)
                    r = end
                }
            }
        }
        // A slice after its part's first line starts with the comma between them.
        let work = tasks.map { ($0.range, $0.range.lowerBound != parts[$0.part].range.lowerBound) }
        let built = parallel ? concurrentMap(work.count) { t in build(work[t].0, work[t].1) } : work.map { build($0.0, $0.1) }
        for (t, task) in tasks.enumerated() {
            parts[task.part].piece = parts[task.part].piece.map { $0.joined(with: built[t]) } ?? built[t]
        }
        for k in missing {
            if let id = parts[k].block, let piece = parts[k].piece { hitCache.put(id, piece, size: piece.memorySize + id.memorySize) }
        }
        let gzip = GzipWriter.make(capacity: 64 + parts.reduce(0) { $0 + ($1.piece?.deflated.count ?? 0) + 16 })
        gzip.write(head)
        let comma: [UInt8] = [UInt8(ascii: ",")]
        for (k, part) in parts.enumerated() {
            guard let piece = part.piece else { continue }
            if k > 0 { gzip.write(comma) }
            gzip.append(piece)
        }
        gzip.write(Array("]}}".utf8))
        return gzip.finish()
    }
}
