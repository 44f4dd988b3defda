import Foundation

/// The distinct tokens of one block's messages with their line counts: what sealing the block
/// adds to the index.
struct BlockTokens: Sendable {
    init() {}

    var bytes: [UInt8] = []
    var starts: [Int32] = [0]
    var counts: [UInt32] = []
    var maxOffsets: [UInt64] = []
    /// `TokenTable.hash` of each token (the pending index reuses them).
    var hashes: [UInt32] = []

    var count: Int { counts.count }

    func token(_ i: Int) -> ArraySlice<UInt8> { bytes[Int(starts[i])..<Int(starts[i + 1])] }

    /// Tokenizes every message and fields value of `lines` (the block's lines, any order).
    init<Line: SealableLine>(lines: [Line]) {
        self.init(
            count: lines.count, lsn: { lines[$0].lsn }, timestamp: { lines[$0].timestamp }, message: { i, body in lines[i].withMessage(body) },
            fields: { i, body in lines[i].withFields(body) })
    }

    /// Tokenizes a decoded block (its messages are read in place).
    init(block: DecodedBlock) {
        self.init(
            count: block.count, lsn: { block.lsns[$0] }, timestamp: { block.timestamps[$0] },
            message: { i, body in block.messageBytes(i).withUnsafeBytes(body) }, fields: { i, body in block.withFields(i, body) })
    }

    private init(
        count n: Int, lsn: (Int) -> LSN, timestamp: (Int) -> Int64, message: (Int, (UnsafeRawBufferPointer) -> Void) -> Void,
        fields: (Int, (UnsafeRawBufferPointer) -> Void) -> Void
    ) {
        guard n > 0 else { return }
        var firstLSN = LSN.max
        for i in 0..<n { firstLSN = min(firstLSN, lsn(i)) }
        var builder = Builder()
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Tokenizer.scratchCapacity) { scratch in
            for i in 0..<n {
                builder.line = Int32(i)
                builder.offset = lsn(i) &- firstLSN
                message(i) { message in
                    // Log text is nearly always ASCII: one pass that copies and hashes.
                    if Tokenizer.isASCII(message) {
                        Tokenizer.forEachASCIIToken(message, scratch.baseAddress!, &builder)
                    } else {
                        Tokenizer.forEachToken(message) { token in builder.token(token, hash: TokenTable.hash(token)) }
                    }
                }
            }
        }
        // Field tokens: worked out once per distinct fields value (a stream's lines share one,
        // REANA's two: a line's `level` changes it), and counted per value, not per line; values
        // whose message is walked as JSON (a non-string message) are worked out per line.
        var fieldCounts: [ByteKey: (count: UInt32, maxOffset: UInt64)] = [:]
        // The distinct values met so far (looked up when a line's value differs from the line
        // before, not per line), with their tokens, lines and highest LSN offset.
        var valueIndex: [ByteKey: Int] = [:]
        var perValue: [(tokens: [[UInt8]], lines: UInt32, maxOffset: UInt64)] = []
        var current: (key: ByteKey, base: UnsafeRawPointer?, index: Int)?
        for i in 0..<n {
            let offset = lsn(i) &- firstLSN
            var perLine: [UInt8]?
            fields(i) { f in
                if let c = current, c.key.bytes.count == f.count,
                    (c.base != nil && c.base == f.baseAddress)
                        || c.key.bytes.withUnsafeBytes({ f.count == 0 || memcmp($0.baseAddress!, f.baseAddress!, f.count) == 0 })
                {
                    return
                }
                let bytes = Array(f)
                if bytes.contains(StoredSource.rawMessageSlot) {
                    current = nil
                    perLine = bytes
                    return
                }
                let key = ByteKey(bytes)
                current = (key, f.baseAddress, valueIndex[key] ?? -1)
            }
            if perLine == nil, let c = current, c.index < 0 {
                let ts = timestamp(i)
                var tokens: [[UInt8]] = []
                message(i) { m in c.key.bytes.withUnsafeBytes { tokens = FieldTokens.tokens(fields: $0, message: m, timestamp: ts) } }
                valueIndex[c.key] = perValue.count
                current = (c.key, c.base, perValue.count)
                perValue.append((tokens, 0, 0))
            }
            if let perLine {
                let ts = timestamp(i)
                var tokens: [[UInt8]] = []
                message(i) { m in perLine.withUnsafeBytes { tokens = FieldTokens.tokens(fields: $0, message: m, timestamp: ts) } }
                for token in tokens {
                    let key = ByteKey(token)
                    let old = fieldCounts[key] ?? (0, 0)
                    fieldCounts[key] = (old.count + 1, max(old.maxOffset, offset))
                }
            } else if let k = current?.index {
                perValue[k].lines += 1
                perValue[k].maxOffset = max(perValue[k].maxOffset, offset)
            }
        }
        for value in perValue where value.lines > 0 {
            for token in value.tokens {
                let key = ByteKey(token)
                let old = fieldCounts[key] ?? (0, 0)
                fieldCounts[key] = (old.count + value.lines, max(old.maxOffset, value.maxOffset))
            }
        }
        fieldCounts[ByteKey([FieldTokens.marker])] = (UInt32(n), 0)
        for (token, c) in fieldCounts {
            token.bytes.withUnsafeBytes { builder.add($0, hash: TokenTable.hash($0), count: c.count, maxOffset: c.maxOffset) }
        }
        bytes = builder.table.bytes
        starts = builder.table.starts
        counts = builder.counts
        maxOffsets = builder.maxOffsets
        hashes = builder.table.hashes
    }

    /// Collects a block's tokens: per token, lines holding it and the highest LSN offset.
    private struct Builder: ASCIITokenSink {
        var table = TokenTable(capacity: 512)
        var counts: [UInt32] = []
        var lastLine: [Int32] = []
        var maxOffsets: [UInt64] = []
        var line: Int32 = 0
        var offset: UInt64 = 0

        /// Adds a token held by `count` lines (field tokens, counted per run of lines).
        mutating func add(_ token: UnsafeRawBufferPointer, hash: UInt32, count: UInt32, maxOffset: UInt64) {
            let (id, inserted) = table.insert(token, hash: hash)
            if inserted {
                counts.append(count)
                lastLine.append(-1)
                maxOffsets.append(maxOffset)
            } else {
                counts[id] += count
                if maxOffset > maxOffsets[id] { maxOffsets[id] = maxOffset }
            }
        }

        @inline(__always)
        mutating func token(_ token: UnsafeRawBufferPointer, hash: UInt32) {
            let (id, inserted) = table.insert(token, hash: hash)
            if inserted {
                counts.append(1)
                lastLine.append(line)
                maxOffsets.append(offset)
            } else if lastLine[id] != line {
                counts[id] += 1
                lastLine[id] = line
                if offset > maxOffsets[id] { maxOffsets[id] = offset }
            }
        }
    }
}
