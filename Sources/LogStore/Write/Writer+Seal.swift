import Foundation

extension Writer {
    /// The seal age of a stream, spread over [sealAge, 1.5 × sealAge) by its id so that streams
    /// that started together are not all sealed in the same pass.
    func sealAge(_ id: StreamID) -> Duration {
        let spread = Double((id &* 0x9E37_79B9_7F4A_7C15) >> 54) / 1024.0  // [0, 1)
        return options.sealAge + options.sealAge * (spread * 0.5)
    }

    /// Most streams sealed in one transaction, and most raw bytes read for it.
    static let sealBudgetStreams = 16
    static let sealBudgetBytes = 8 << 20

    /// Splits each stream's lines into blocks of at most `maxLines` lines / `maxBytes` bytes (by
    /// default `sealLines` / `sealBytes`), cut at a UTC hour once a block holds `hourCut` lines
    /// (by default `sealLines / 8`), and
    /// encodes them (zlib `level`, by default `options.compressionLevel`), on all cores when
    /// there is enough work.
    func encodeBlocks<Line: SealableLine & Sendable>(
        _ streams: [[Line]], level: Int32? = nil, hourCut: Int? = nil, maxLines: Int? = nil, maxBytes: Int? = nil
    ) -> [[SealedBlock]] {
        let hourCut = hourCut ?? max(1, options.sealLines / 8)
        let maxLines = maxLines ?? options.sealLines
        let maxBytes = maxBytes ?? options.sealBytes
        if streams.isEmpty { return [] }
        var chunks: [(stream: Int, lines: [Line])] = []
        for (i, lines) in streams.enumerated() {
            let sorted = lines.sorted { $0.position < $1.position }
            var current: [Line] = []
            var bytes = 0
            for line in sorted {
                let size = line.rawSize
                // A busy stream's blocks do not straddle a UTC hour, so `hits` with hourly (or
                // coarser) buckets counts its one-word queries from the index alone; a quiet
                // stream's lines of several hours share a block instead of one block each, and
                // `hits` decodes that block.
                if !current.isEmpty
                    && (current.count >= maxLines || bytes + size > maxBytes
                        || (current.count >= hourCut && Self.hour(line.timestamp) != Self.hour(current[0].timestamp)))
                {
                    chunks.append((i, current))
                    current = []
                    bytes = 0
                }
                current.append(line)
                bytes += size
            }
            if !current.isEmpty { chunks.append((i, current)) }
        }
        let level = level ?? options.compressionLevel
        let index = options.fullTextIndex
        let encoded = concurrentMap(chunks.count) { i in SealedBlock(lines: chunks[i].lines, level: level, index: index) }
        var result = [[SealedBlock]](repeating: [], count: streams.count)
        for (i, chunk) in chunks.enumerated() {
            result[chunk.stream].append(encoded[i])
        }
        return result
    }

    @inline(__always) static func hour(_ ts: Int64) -> Int64 { ts >= 0 ? ts / 3_600_000_000_000 : (ts + 1) / 3_600_000_000_000 - 1 }

    /// Seals heads that `shouldSeal` picks, at most `sealBudgetStreams` streams (and about
    /// `sealBudgetBytes`) in this pass. Returns true when more are due.
    func sealHeads(_ shouldSeal: (StreamID, HeadState) -> Bool) throws -> Bool {
        var due: [(day: Int32, id: StreamID, bytes: Int)] = []
        for (day, dayHeads) in heads {
            for (id, head) in dayHeads where head.count > 0 && shouldSeal(id, head) { due.append((day, id, head.bytes)) }
        }
        if due.isEmpty { return false }
        due.sort { $0.bytes > $1.bytes }
        var picked: [Int32: Set<StreamID>] = [:]
        var count = 0
        var bytes = 0
        for item in due where count < Self.sealBudgetStreams && (count == 0 || bytes + item.bytes <= Self.sealBudgetBytes) {
            picked[item.day, default: []].insert(item.id)
            count += 1
            bytes += item.bytes
        }
        for (day, ids) in picked.sorted(by: { $0.key < $1.key }) {
            guard let segment = shared.state.withLock({ $0.segments[day] }) else { continue }
            _ = try write(segment: segment, group: [:], seal: ids)
        }
        return count < due.count
    }
}
